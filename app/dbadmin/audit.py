"""The audit trail: one headway_audit row per step applied to the user's
schema, by the console or the CLI, written through Alembic's on_version_apply
on the migrating connection (so a step and its row are committed together).
"""

import hashlib
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app.dbadmin.lock import actor
from app.models.console import MigrationAudit
from app.models.own import utcnow

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

    def __init__(self, connection: Connection, action: str | None = None) -> None:
        self.connection = connection
        # "adopt" when the stamp comes from `flask db adopt`.
        self.action = action
        self.actor = actor()
        job = os.environ.get("HEADWAY_JOB_ID", "")
        self.job_id = int(job) if job.isdigit() else None
        self.enabled = sa.inspect(connection).has_table(AUDIT_TABLE.name)
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
        steps_of = migration_context._migrations_fn

        def planned_steps(heads, ctx):
            self.planned = list(steps_of(heads, ctx))
            return self.planned

        migration_context._migrations_fn = planned_steps

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
        )
        self.done += 1

    def record_failure(self, exc: BaseException) -> None:
        """After a step failed (and its transaction was rolled back)."""
        step = self.planned[self.done] if self.done < len(self.planned) else None
        info = step.info if step is not None else None
        error = str(getattr(exc, "orig", None) or exc).strip() or type(exc).__name__
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
            self._write(success=False, error=f"{type(exc).__name__}: {error}", **fields)
            self.connection.commit()
        except sa.exc.SQLAlchemyError:
            pass  # the connection is gone: the failure itself is what matters

    def _write(self, *, from_revisions, to_revisions, success, error=None, **row):
        now = utcnow()
        elapsed = time.monotonic() - self.clock
        if self.enabled:
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


def audit_rows(filters) -> list[MigrationAudit]:
    """Audit rows, newest first, filtered by a mapping such as request.args:
    revision, action, actor (a part of it), job, failed=1, limit."""
    from app.extensions import db

    query = sa.select(MigrationAudit).order_by(MigrationAudit.id.desc())
    if filters.get("revision"):
        query = query.where(MigrationAudit.revision == filters["revision"])
    if filters.get("action"):
        query = query.where(MigrationAudit.action == filters["action"])
    if filters.get("actor"):
        query = query.where(MigrationAudit.actor.contains(filters["actor"]))
    if filters.get("job"):
        if not str(filters["job"]).isdigit():
            raise ValueError("job must be a job id")
        query = query.where(MigrationAudit.job_id == int(filters["job"]))
    if filters.get("failed") in ("1", "true", "yes"):
        query = query.where(MigrationAudit.success.is_(False))
    limit = str(filters.get("limit") or "100")
    if not limit.isdigit() or not 1 <= int(limit) <= 1000:
        raise ValueError("limit must be a number from 1 to 1000")
    return list(db.session.scalars(query.limit(int(limit))))


def audit_json(row: MigrationAudit) -> dict:
    return {
        "id": row.id,
        "action": row.action,
        "revision": row.revision,
        "from": [r for r in row.from_revisions.split(",") if r],
        "to": [r for r in row.to_revisions.split(",") if r],
        "started_at": row.started_at.isoformat(),
        "duration_ms": row.duration_ms,
        "success": row.success,
        "error": row.error,
        "actor": row.actor,
        "sha256": row.checksum,
        "job_id": row.job_id,
    }
