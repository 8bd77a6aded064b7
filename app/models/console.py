"""The migration console's records: jobs, the lock holder, the audit trail
and drift checks."""

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.clock import utcnow
from app.extensions import db


class MigrationJob(db.Model):
    __tablename__ = "headway_jobs"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    action: so.Mapped[str] = so.mapped_column(sa.String(16))
    target: so.Mapped[str] = so.mapped_column(sa.String(255))
    purge: so.Mapped[bool] = so.mapped_column(default=False)
    # The opt-ins of Headway's guards (app/dbadmin/core/guards.py).
    allow_data_loss: so.Mapped[bool] = so.mapped_column(
        default=False, server_default=sa.false()
    )
    no_verify: so.Mapped[bool] = so.mapped_column(
        default=False, server_default=sa.false()
    )
    # How the job runs its steps: without preflight first (the operator
    # skipped it, and the audit says so), or with table copies routed to the
    # online schema-change tool.
    no_preflight: so.Mapped[bool] = so.mapped_column(
        default=False, server_default=sa.false()
    )
    online: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    requested_by: so.Mapped[str] = so.mapped_column(sa.String(255))
    from_revisions: so.Mapped[str] = so.mapped_column(sa.String(1024), default="")
    to_revisions: so.Mapped[str | None] = so.mapped_column(sa.String(1024))
    status: so.Mapped[str] = so.mapped_column(sa.String(16), index=True)
    pid: so.Mapped[int | None]
    host: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    started_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    finished_at: so.Mapped[datetime | None]
    error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    log: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    # The revisions the job means to apply or revert, in order (comma-separated).
    planned: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    # After a failure or an interruption: how the schema compares with the
    # revisions around the step that did not finish (jobs/runner.py's
    # schema_report). The column keeps the name it was created with.
    schema_report: so.Mapped[str | None] = so.mapped_column("verify_result", sa.Text)
    # SHA-256 of a one-time secret the console hands to the job's process on
    # its stdin: the process proves with it that the console started it (and
    # so may act for requested_by); cleared as soon as it is used.
    launch_secret: so.Mapped[str | None] = so.mapped_column(sa.String(64))

    @property
    def planned_revisions(self) -> list[str]:
        return [r for r in self.planned.split(",") if r]


class MigrationLockHolder(db.Model):
    """Who holds the migration lock on MySQL/MariaDB (GET_LOCK itself only
    knows a connection id)."""

    __tablename__ = "headway_migration_lock"

    name: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    holder: so.Mapped[str] = so.mapped_column(sa.String(512))


class MigrationAudit(db.Model):
    """One row per step applied to the user's schema, by the web or the CLI."""

    __tablename__ = "headway_audit"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    # upgrade, downgrade, stamp, stamp-unverified (--no-verify), adopt or
    # adopt-accepted (`flask db adopt --accept-differences`)
    action: so.Mapped[str] = so.mapped_column(sa.String(16))
    revision: so.Mapped[str | None] = so.mapped_column(sa.String(255), index=True)
    from_revisions: so.Mapped[str] = so.mapped_column(sa.String(1024), default="")
    to_revisions: so.Mapped[str] = so.mapped_column(sa.String(1024), default="")
    started_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, index=True)
    duration_ms: so.Mapped[int | None]
    success: so.Mapped[bool] = so.mapped_column(default=True)
    error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    # The console user of a job (proven by the job's launch secret), else the
    # OS user@host of the shell that ran it.
    actor: so.Mapped[str] = so.mapped_column(sa.String(255))
    # Always the OS user@host of the process that applied the step.
    os_user: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    checksum: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    job_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("headway_jobs.id", ondelete="SET NULL"), index=True
    )
    # What an adoption stamped despite (adopt-accepted), one per line.
    accepted_differences: so.Mapped[str | None] = so.mapped_column(sa.Text)
    # The tool that ran some of the step's statements online (core/online.py);
    # NULL when the server ran them all.
    online_tool: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    # "passed" when preflight ran first and let the step through, "skipped"
    # when the operator ran it without (--no-preflight); NULL for a stamp,
    # a rollback or resume, and rows from before preflight.
    preflight: so.Mapped[str | None] = so.mapped_column(sa.String(16))


class PreflightResult(db.Model):
    """A preflight of a plan (core/preflight.py), as JSON: kept so that the
    plan page shows the newest one of its plan without running it (it
    builds scratch databases and scans large tables: an operator's job)."""

    __tablename__ = "headway_preflights"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    checked_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, index=True)
    checked_by: so.Mapped[str] = so.mapped_column(sa.String(255))
    job_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("headway_jobs.id", ondelete="SET NULL"), index=True
    )
    # The plan: the stamped revisions it starts from, its target as given,
    # its direction, and its steps' revisions in order (comma-separated):
    # what the plan page finds it by.
    from_revisions: so.Mapped[str] = so.mapped_column(sa.String(1024))
    target: so.Mapped[str] = so.mapped_column(sa.String(255))
    direction: so.Mapped[str] = so.mapped_column(sa.String(16))
    steps: so.Mapped[str] = so.mapped_column(sa.Text)
    # The worst step's verdict: fails, blocks_writes, unknown or safe.
    verdict: so.Mapped[str] = so.mapped_column(sa.String(16))
    result: so.Mapped[str] = so.mapped_column(sa.Text)


class DriftCheck(db.Model):
    """The last comparisons of the live schema with its stamped revision and
    with the models: kept so every worker shows the same result without
    rebuilding a revision's schema on each page."""

    __tablename__ = "headway_drift_checks"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    checked_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, index=True)
    checked_by: so.Mapped[str] = so.mapped_column(sa.String(255))
    # The stamped revisions the check was made at, comma-separated.
    revisions: so.Mapped[str] = so.mapped_column(sa.String(1024))
    # Differences against the stamped revision's schema (one per line);
    # NULL when that schema could not be built.
    stamp_differences: so.Mapped[str | None] = so.mapped_column(sa.Text)
    stamp_error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    # Differences between the models and the live schema (one per line).
    model_differences: so.Mapped[str] = so.mapped_column(sa.Text, default="")


class StepRun(db.Model):
    """One migration step as it ran on the live database, statement by
    statement (core/executor.py): what the database was before it, and how it
    ended. MySQL/MariaDB commit each DDL statement on its own, so a step that
    fails half-way leaves its first statements applied: such a run stays
    "partial" until `flask db rollback` or `flask db resume` settles it."""

    __tablename__ = "headway_step_runs"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    # upgrade, downgrade, rollback or resume
    action: so.Mapped[str] = so.mapped_column(sa.String(16))
    revision: so.Mapped[str] = so.mapped_column(sa.String(255))
    direction: so.Mapped[str] = so.mapped_column(sa.String(16))
    # The alembic_version rows before the step (comma-separated).
    from_revisions: so.Mapped[str] = so.mapped_column(sa.String(1024), default="")
    # running, applied, failed (nothing applied), partial, rolled_back, resumed
    status: so.Mapped[str] = so.mapped_column(sa.String(16), index=True)
    # {table: SHOW CREATE TABLE before the step's first statement on it, or
    # null when the table did not exist}, as JSON.
    before_image: so.Mapped[str] = so.mapped_column(sa.Text, default="{}")
    error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    actor: so.Mapped[str] = so.mapped_column(sa.String(255))
    job_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("headway_jobs.id", ondelete="SET NULL"), index=True
    )
    # The step run a rollback or resume settles.
    settles: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("headway_step_runs.id", ondelete="SET NULL")
    )
    started_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    ended_at: so.Mapped[datetime | None]


class StepStatement(db.Model):
    """The journal: each statement of a step run, recorded before it is sent
    and again when it ends."""

    __tablename__ = "headway_step_statements"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    step_run_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("headway_step_runs.id", ondelete="CASCADE"), index=True
    )
    position: so.Mapped[int]  # 1, 2, … within the step
    sql_text: so.Mapped[str] = so.mapped_column(sa.Text)
    # running, ok, failed, or rolled_back (its transaction was undone)
    outcome: so.Mapped[str] = so.mapped_column(sa.String(16))
    error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    started_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    duration_ms: so.Mapped[int | None]
    # The tool that ran it online (core/online.py: "pt-online-schema-change
    # 3.2.1"); NULL when the server ran it.
    online_tool: so.Mapped[str | None] = so.mapped_column(sa.String(64))


class SchemaFingerprint(db.Model):
    """The live schema's fingerprint (core/fingerprint.py) when Headway last
    proved it to be a revision's schema: what every readiness probe and
    status call compares the live schema with."""

    __tablename__ = "headway_schema_fingerprints"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    # sha256 of the revisions and of their files' (and ancestors') content.
    key: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    revisions: so.Mapped[str] = so.mapped_column(sa.String(1024))
    fingerprint: so.Mapped[str] = so.mapped_column(sa.String(64))
    recorded_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
