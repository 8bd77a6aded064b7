"""The process of one console job: `python -m app.dbadmin.runner run JOB_ID`
(and `report JOB_ID`: how the schema was left after an interrupted job).

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
from app.dbadmin.adoption import adopt, stamped_revisions
from app.dbadmin.jobs import schema_report
from app.dbadmin.scripts import alembic_config
from app.errors import HeadwayError
from app.extensions import db
from app.models.console import MigrationJob
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
    config = alembic_config(configure_logger=False)
    if job.action == "upgrade":
        command.upgrade(config, job.target)
    elif job.action == "downgrade":
        command.downgrade(config, job.target)
    elif job.action == "stamp":
        command.stamp(config, job.target, purge=job.purge)
    elif job.action == "adopt":
        adoption = adopt(db.engine, to=job.target or None)
        if not adoption.stamped:
            result = adoption.verification
            raise HeadwayError(
                f"no revision matches; nothing was written. Closest: {result.label}: "
                + "; ".join(result.differences)
            )
    else:
        raise HeadwayError(f"unknown action {job.action!r}")


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
            error = str(getattr(exc, "orig", None) or exc).strip() or type(exc).__name__
            if not isinstance(exc, HeadwayError):
                log.write(traceback.format_exc())
            log.write(f"failed: {error}")
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
        job.verify_result = report
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
        job.verify_result = schema_report(job)
        db.session.commit()
        return 0


if __name__ == "__main__":
    task, job_id = sys.argv[1], int(sys.argv[2])
    sys.exit(main(job_id) if task == "run" else report(job_id))
