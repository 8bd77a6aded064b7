"""The newest kept preflight of a plan (core/preflight.py, run by a console
job or before a run), for the plan page and the JSON plan. Read only: a page
load never starts a preflight."""

import json
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from app.dbadmin.core import preflight as preflight_core
from app.dbadmin.core.plan import Plan
from app.dbadmin.preflight_text import (
    LOCK_WORDS,
    bytes_text,
    count_text,
    duration_text,
    finding_words,
    verdict_words,
)
from app.models.console import PreflightResult
from app.templating import age


@dataclass
class KeptPreflight:
    row: PreflightResult
    result: preflight_core.Preflight
    data: dict  # as kept (JSON)

    @property
    def age(self) -> str:
        return age(self.row.checked_at)

    def step(self, revision: str) -> preflight_core.StepPreflight | None:
        return next((s for s in self.result.steps if s.revision == revision), None)


def kept_preflight(engine: Engine, current: tuple[str, ...], plan: Plan):
    """The newest preflight of exactly this plan (same start, direction and
    steps), or None."""
    if not plan.steps:
        return None
    revisions = [step.revision.id for step in plan.steps]
    with engine.connect() as conn:
        row = preflight_core.newest_result(conn, current, plan.direction, revisions)
    if row is None:
        return None
    data = json.loads(row.result)
    return KeptPreflight(row, preflight_core.result_from_json(data), data)


def step_rows(step: preflight_core.StepPreflight) -> list[dict]:
    """A step's statements as the plan page's table shows them."""
    rows = []
    for s in step.statements:
        size = s.sizes[0] if s.sizes else None
        rows.append(
            {
                "index": s.index,
                "sql": " ".join(s.sql.split()),
                "tables": ", ".join(s.tables) or "-",
                "rows": count_text(size.rows, size.estimated) if size else "-",
                "size": bytes_text(size.bytes, size.estimated) if size else "-",
                "lock": LOCK_WORDS[s.lock.kind],
                "lock_kind": s.lock.kind,
                "time": duration_text(s.estimate_s) if s.estimate_s else "-",
                "findings": [
                    {"severity": f.severity, "words": finding_words(f)}
                    for f in s.findings
                ],
                "reason": s.lock.reason
                if s.lock.kind != preflight_core.INSTANT
                else None,
            }
        )
    return rows


def preflight_json(kept: KeptPreflight | None) -> dict | None:
    """The JSON plan's `preflight`: the kept result with when, by whom, and
    each step's verdict in words."""
    if kept is None:
        return None
    data = dict(kept.data)
    for step_data, step in zip(data["steps"], kept.result.steps, strict=True):
        step_data["verdict_words"] = verdict_words(step)
    return {
        "checked_at": kept.row.checked_at.isoformat(),
        "age": kept.age,
        "checked_by": kept.row.checked_by,
        "job_id": kept.row.job_id,
        "verdict": kept.row.verdict,
        **data,
    }
