"""Every JSON shape of the console's API, in one place."""

from datetime import datetime

from app.dbadmin.core.catalog import Catalog, Revision
from app.dbadmin.core.lint import LintWarning
from app.dbadmin.core.plan import Plan
from app.dbadmin.jobs.service import JobProgress
from app.dbadmin.web.joblog import (
    hide_os_user_host,
    hide_server_details,
    sees_server_details,
)
from app.dbadmin.web.overview import Overview
from app.models.console import MigrationAudit, MigrationJob


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _revision_list(text: str | None) -> list[str]:
    return [r for r in (text or "").split(",") if r]


def broken_files_json(catalog: Catalog) -> list[dict]:
    return [{"file": b.filename, "problem": b.problem} for b in catalog.broken]


def job_summary_json(job: MigrationJob | None) -> dict | None:
    """A job in a few fields, as the status names the running one."""
    if job is None:
        return None
    return {
        "id": job.id,
        "action": job.action,
        "target": job.target,
        "status": job.status,
        "requested_by": job.requested_by,
        "started_at": _iso(job.started_at),
    }


def job_json(job: MigrationJob, progress: JobProgress) -> dict:
    """A job in full: its request, outcome, progress and log."""
    return {
        "id": job.id,
        "action": job.action,
        "target": job.target,
        "purge": job.purge,
        "online": job.online,
        "no_preflight": job.no_preflight,
        "status": job.status,
        "requested_by": job.requested_by,
        "from_revisions": _revision_list(job.from_revisions),
        "to_revisions": _revision_list(job.to_revisions),
        "planned": job.planned_revisions,
        # Where it ran: for operators only, like file paths in the texts.
        **({"pid": job.pid, "host": job.host} if sees_server_details() else {}),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "error": hide_server_details(job.error, job.host),
        # After a failure: how the schema compares with the revisions around
        # the step that did not finish.
        "schema_report": hide_server_details(job.schema_report, job.host),
        "progress": {
            "total": progress.total,
            "done": progress.done,
            "step": progress.step,
            "current_revision": progress.current_revision,
            "elapsed_seconds": progress.elapsed_seconds,
        },
        "log": hide_server_details(job.log, job.host),
    }


def status_json(view: Overview, running: MigrationJob | None) -> dict:
    database = view.database
    return {
        # The state's key, and how every surface shows it (core/state.py's
        # STATES): its words and its colour.
        "state": database.kind,
        "state_words": database.info.words,
        "state_colour": database.info.colour,
        "summary": database.summary(),
        "current": list(database.current),
        "heads": list(database.heads),
        "pending": [r.id for r in database.pending],
        # True when the cheap check of the live schema (made on every call)
        # finds drift; otherwise None unless a drift check made since the last
        # schema change says.
        "drift": view.drifted,
        # That cheap check: ok, drift or unchecked (nothing to compare with
        # yet), and what it was compared with.
        "schema_check": _schema_check_json(database),
        # unchecked, stale, drift or clean (core/drift.py's DriftStatus).
        "drift_state": view.drift_status.state,
        "job": job_summary_json(running),
        "broken_files": broken_files_json(view.catalog),
        # A step left half-way (state "partial"): what ran; "action":
        # "rollback" or "resume" settles it.
        "partial": partial_json(database.partial),
    }


def partial_json(partial) -> dict | None:
    if partial is None:
        return None
    return {
        "revision": partial.revision,
        "direction": partial.direction,
        "from_revisions": list(partial.from_revisions),
        "interrupted": partial.interrupted,
        "error": partial.error,
        "started_at": _iso(partial.started_at),
        "actor": partial.actor,
        "job_id": partial.job_id,
        "statements": [
            {
                "position": s.position,
                "sql": s.sql,
                "outcome": s.outcome,
                "error": s.error,
                # The tool that ran it online (core/online.py), or null.
                "online_tool": s.online_tool,
            }
            for s in partial.statements
        ],
        # An online run cut off: what rollback drops first (its triggers,
        # then its helper tables).
        "online_leftovers": list(partial.leftovers),
    }


def _schema_check_json(database) -> dict | None:
    check = database.schema_check
    if check is None:
        return None
    return {
        "state": check.state,
        "against": check.against,
        "differences": check.differences,
    }


def revision_json(revision: Revision, applied: bool, current: bool) -> dict:
    return {
        "id": revision.id,
        "down_revisions": list(revision.down_revisions),
        "message": revision.message,
        "created": revision.created,
        "file": revision.filename,
        "sha256": revision.checksum,
        "kinds": revision.kinds,
        "applied": applied,
        "current": current,
    }


def lint_warning_json(warning: LintWarning) -> dict:
    return {
        "revision": warning.revision,
        "code": warning.code,
        "message": warning.message,
        "table": warning.table,
        "column": warning.column,
    }


def plan_json(plan: Plan) -> dict:
    return {
        "target": plan.target,
        "direction": plan.direction,
        "steps": [
            {
                "revision": step.revision.id,
                "message": step.revision.message,
                "direction": step.direction,
                "reversible": step.reversible,
                "sql": step.sql,
                "warnings": [lint_warning_json(w) for w in step.warnings],
            }
            for step in plan.steps
        ],
        "sql": plan.sql,
        "warnings": [lint_warning_json(w) for w in plan.warnings],
        "error": plan.error,
    }


def audit_json(row: MigrationAudit) -> dict:
    return {
        "id": row.id,
        "action": row.action,
        "revision": row.revision,
        "from": _revision_list(row.from_revisions),
        "to": _revision_list(row.to_revisions),
        "started_at": row.started_at.isoformat(),
        "duration_ms": row.duration_ms,
        "success": row.success,
        "error": row.error,
        "actor": row.actor,
        "os_user": hide_os_user_host(row.os_user),
        "sha256": row.checksum,
        "job_id": row.job_id,
        # The tool that ran some of the step's statements online, or null.
        "online_tool": row.online_tool,
        # "passed" (preflight ran first), "skipped" (--no-preflight) or None.
        "preflight": row.preflight,
    }
