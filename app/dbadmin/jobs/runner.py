"""The process of one console job:
`python -m app.dbadmin.jobs.runner run JOB_ID`, and `report JOB_ID` (how the
schema was left after an interrupted job).

Started by the web worker in its own session; runs the migration in-process
through Alembic (migrations/env.py takes the lock and writes the audit
trail), keeps the job's log in the database as it goes, and records how it
ended.
"""

import logging
import sys
import traceback

import sqlalchemy as sa
from alembic import command

from app import create_app
from app.dbadmin.core.adoption import (
    adopt,
    stamped_revisions,
    verify,
    verify_as_far_as_it_runs,
)
from app.dbadmin.core.alembic_env import alembic_config
from app.errors import HeadwayError, error_line
from app.extensions import db
from app.models.console import MigrationAudit, MigrationJob
from app.models.own import utcnow

JOBS = MigrationJob.__table__


class JobLog(logging.Handler):
    """Appends log lines to the job row, each at once, so the console shows
    them live. A failed write is retried with the next line."""

    def __init__(self, job_id: int) -> None:
        super().__init__(logging.INFO)
        self.job_id = job_id
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        self.flush()

    def write(self, text: str) -> None:
        self.lines.extend(text.rstrip("\n").splitlines())
        self.flush()

    def flush(self) -> None:
        try:
            with db.engine.begin() as conn:
                conn.execute(
                    sa.update(JOBS)
                    .where(JOBS.c.id == self.job_id)
                    .values(log="\n".join(self.lines))
                )
        except (sa.exc.SQLAlchemyError, RuntimeError):
            pass  # the database is busy or gone: the next line retries


def run(job: MigrationJob) -> None:
    # Who asked, and which job this is, reach env.py's lock and audit trail.
    who = {"actor": job.requested_by, "job_id": job.id}
    # The guards of migrations/env.py: what the operator said yes to, and the
    # console's words for it in their refusals.
    opt_ins = {
        "allow_data_loss": job.allow_data_loss,
        "no_verify": job.no_verify,
        "surface": "console",
    }
    config = alembic_config(configure_logger=False, **who, **opt_ins)
    if job.action == "upgrade":
        command.upgrade(config, job.target)
    elif job.action == "downgrade":
        command.downgrade(config, job.target)
    elif job.action == "stamp":
        command.stamp(config, job.target, purge=job.purge)
    elif job.action == "adopt":
        adoption = adopt(db.engine, to=job.target or None, run_attributes=who)
        if not adoption.stamped:
            result = adoption.verification
            raise HeadwayError(
                f"no revision matches; nothing was written. Closest: {result.label}: "
                + "; ".join(result.differences)
            )
    else:
        raise HeadwayError(f"unknown action {job.action!r}")


def schema_report(job: MigrationJob) -> str:
    """After a failed or interrupted job: the stamped revision, and how the
    live schema compares with it and with the step that did not finish, so an
    operator sees which statements of that step already ran."""
    current = stamped_revisions(db.engine)
    lines = [f"stamped at {', '.join(current) or 'base (unversioned)'}"]
    done = db.session.scalars(
        sa.select(MigrationAudit).where(MigrationAudit.job_id == job.id)
    ).all()
    failed = next((a.revision for a in done if not a.success), None)
    if failed is None:
        applied = {a.revision for a in done}
        failed = next((r for r in job.planned_revisions if r not in applied), None)

    def describe(label, result, error=None):
        if error:
            lines.append(f"against {label}: its migration fails there too: {error}")
        state = "matches" if result.matches else "differs"
        lines.append(f"against {label} ({result.label}): {state}")
        lines.extend(f"  - {d}" for d in result.differences)

    try:
        if current:
            describe("the stamped revision", verify(db.engine))
        if failed and failed not in current:
            result, error = verify_as_far_as_it_runs(db.engine, failed)
            describe(f"the unfinished step {failed}", result, error)
    except Exception as exc:  # a report, not the job's outcome
        lines.append(f"could not compare the schema: {exc}")
    return "\n".join(lines)


def main(job_id: int) -> int:
    app = create_app()
    with app.app_context():
        job = db.session.get(MigrationJob, job_id)
        if job is None:
            print(f"no job {job_id}", file=sys.stderr)
            return 1
        log = JobLog(job_id)
        alembic_logger = logging.getLogger("alembic")
        alembic_logger.setLevel(logging.INFO)
        alembic_logger.addHandler(log)
        log.write(
            f"{job.action} {job.target} requested by {job.requested_by}".replace(
                "  ", " "
            )
        )
        status, error = "succeeded", None
        try:
            run(job)
        except Exception as exc:  # the job's outcome, whatever went wrong
            status = "failed"
            error = error_line(exc)
            if not isinstance(exc, HeadwayError):
                log.write(traceback.format_exc())
            # A guard's refusal lists what it found below its first line.
            log.write(f"failed: {exc if isinstance(exc, HeadwayError) else error}")
        db.session.rollback()
        job = db.session.get(MigrationJob, job_id)
        # Computed before the job row changes: with a pending update in the
        # session, the log's own writes to that row would wait on it.
        to_revisions = ",".join(stamped_revisions(db.engine))
        report = schema_report(job) if status == "failed" else None
        job.status = status
        job.error = error
        job.finished_at = utcnow()
        job.to_revisions = to_revisions
        job.schema_report = report
        log.write(f"{status}; the database is at {job.to_revisions or 'base'}")
        job.log = "\n".join(log.lines)
        db.session.commit()
        alembic_logger.removeHandler(log)
        return 0 if status == "succeeded" else 1


def report(job_id: int) -> int:
    app = create_app()
    with app.app_context():
        job = db.session.get(MigrationJob, job_id)
        if job is None:
            return 1
        job.schema_report = schema_report(job)
        db.session.commit()
        return 0


if __name__ == "__main__":
    task, job_id = sys.argv[1], int(sys.argv[2])
    sys.exit(main(job_id) if task == "run" else report(job_id))
