"""The audit trail: one headway_audit row per step applied to the user's
schema, by the console or the CLI, written through Alembic's on_version_apply
on the migrating connection (so a step and its row are committed together).
"""

import hashlib
import sys
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app.clock import utcnow
from app.dbadmin.core.alembic_env import watch_steps
from app.dbadmin.core.lock import os_user, shell_actor
from app.errors import error_line
from app.models.console import MigrationAudit

AUDIT_TABLE = MigrationAudit.__table__


def file_checksum(path: str | None) -> str | None:
    if not path:
        return None
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


class AuditTrail:
    """Follows one Alembic run on `connection` and records each step."""

    def __init__(
        self,
        connection: Connection,
        action: str | None = None,
        actor: str | None = None,
        job_id: int | None = None,
        accepted_differences: list[str] | None = None,
    ) -> None:
        self.connection = connection
        # The differences an explicit adoption stamps despite.
        self.accepted_differences = accepted_differences
        # "adopt" when the stamp comes from `flask db adopt`.
        self.action = action
        self.actor = actor or shell_actor()
        self.job_id = job_id
        inspector = sa.inspect(connection)
        self.enabled = inspector.has_table(AUDIT_TABLE.name)
        # Before `flask headway init` upgrades Headway's tables, the column
        # may not exist yet; the step must not fail for it.
        self.os_user = os_user()
        columns = (
            {c["name"] for c in inspector.get_columns(AUDIT_TABLE.name)}
            if self.enabled
            else set()
        )
        self.has_os_user = "os_user" in columns
        self.has_accepted = "accepted_differences" in columns
        self.has_online_tool = "online_tool" in columns
        # The tool that ran some of the next row's step online (set by
        # migrations/env.py from the statement executor), else None.
        self.online_tool: str | None = None
        self.has_preflight = "preflight" in columns
        # "passed" or "skipped", set by the guards before the first step.
        self.preflight: str | None = None
        self.planned: list = []
        self.done = 0
        self.step_started = utcnow()
        self.clock = time.monotonic()
        if not self.enabled:
            print(
                "Headway: this run is not recorded in the audit trail; run "
                "`flask headway init` to set it up.",
                file=sys.stderr,
            )

    def attach(self, migration_context) -> None:
        """Learn the steps of the run (to name the one that fails)."""
        watch_steps(migration_context, self._planned)

    def _planned(self, steps: list) -> None:
        self.planned = steps

    def on_version_apply(self, ctx, step, heads, run_args) -> None:
        script = step.up_revision if step.up_revision_id else None
        if step.is_stamp:
            action = self.action or "stamp"
        else:
            action = "upgrade" if step.is_upgrade else "downgrade"
        self._write(
            action=action,
            revision=step.up_revision_id,
            from_revisions=step.source_revision_ids,
            to_revisions=step.destination_revision_ids,
            success=True,
            checksum=file_checksum(getattr(script, "path", None)),
            **self._accepted(step.is_stamp),
        )
        self.done += 1

    def _accepted(self, is_stamp: bool) -> dict:
        if is_stamp and self.accepted_differences is not None and self.has_accepted:
            return {"accepted_differences": "\n".join(self.accepted_differences)}
        return {}

    def record_failure(self, exc: BaseException, applied: list[int] = ()) -> None:
        """After a step failed (and its transaction was rolled back);
        `applied`: the positions of its statements that stayed applied (a
        step left half-way on MySQL)."""
        step = self.planned[self.done] if self.done < len(self.planned) else None
        info = step.info if step is not None else None
        if info is not None:
            action = "upgrade" if info.is_upgrade else "downgrade"
            if info.is_stamp:
                action = self.action or "stamp"
            script = info.up_revision if info.up_revision_id else None
            fields = dict(
                action=action,
                revision=info.up_revision_id,
                from_revisions=info.source_revision_ids,
                to_revisions=info.destination_revision_ids,
                checksum=file_checksum(getattr(script, "path", None)),
            )
        else:
            fields = dict(
                action=self.action or "upgrade",
                revision=None,
                from_revisions=(),
                to_revisions=(),
                checksum=None,
            )
        try:
            self.connection.rollback()
            error = error_line(exc, with_type=True)
            if applied:
                listed = ", ".join(str(position) for position in applied)
                error = (
                    f"partially applied: statement(s) {listed} stayed applied "
                    f"(the step journal has them); {error}"
                )
            self._write(success=False, error=error, **fields)
            self.connection.commit()
        except sa.exc.SQLAlchemyError:
            pass  # the connection is gone: the failure itself is what matters

    def record(
        self,
        *,
        revision: str | None,
        from_revisions,
        to_revisions,
        error: BaseException | None = None,
    ) -> None:
        """One row for a run that is not an Alembic step (rollback, resume)."""
        self._write(
            action=self.action,
            revision=revision,
            from_revisions=from_revisions,
            to_revisions=to_revisions,
            success=error is None,
            error=error_line(error, with_type=True) if error else None,
            checksum=None,
        )

    def _write(self, *, from_revisions, to_revisions, success, error=None, **row):
        now = utcnow()
        elapsed = time.monotonic() - self.clock
        if self.enabled:
            if self.has_os_user:
                row["os_user"] = self.os_user
            if self.has_online_tool:
                row["online_tool"] = self.online_tool
            self.online_tool = None
            if self.has_preflight and self.preflight is not None:
                row.setdefault("preflight", self.preflight)
            self.connection.execute(
                sa.insert(AUDIT_TABLE).values(
                    from_revisions=",".join(from_revisions),
                    to_revisions=",".join(to_revisions),
                    started_at=now - timedelta(seconds=elapsed),
                    duration_ms=int(elapsed * 1000),
                    success=success,
                    error=error,
                    actor=self.actor,
                    job_id=self.job_id,
                    **row,
                )
            )
        self.clock = time.monotonic()
