"""The process of one console job:
`python -m app.dbadmin.jobs.runner run JOB_ID`, and `report JOB_ID` (how the
schema was left after an interrupted job).

Started by the web worker in its own session; runs the migration in-process
through Alembic (migrations/env.py takes the lock and writes the audit
trail), keeps the job's log in the database as it goes, and records how it
ended.
"""

import logging
import signal
import sys
import time
import traceback
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from flask import current_app

from app import create_app
from app.cli import database_error_line
from app.clock import utcnow
from app.dbadmin.core import recovery
from app.dbadmin.core.adoption import (
    adopt,
    inspect_unfinished_step,
    keeping_the_proof,
    stamped_revisions,
    verify,
    verify_revisions,
)
from app.dbadmin.core.alembic_env import alembic_config
from app.dbadmin.core.catalog import load_catalog
from app.dbadmin.core.drift import has_drift, run_drift_check
from app.dbadmin.core.executor import Cancelled
from app.dbadmin.core.guards import partial_line
from app.dbadmin.core.lock import Deadline, release_lock
from app.dbadmin.core.scratch import drop_stale_scratch_databases, set_scratch_owner
from app.dbadmin.core.state import unsettled_step
from app.dbadmin.jobs.service import (
    ACTIONS,
    DRIFT_CHECK,
    PREFLIGHT,
    is_log_noise,
    job_file,
    launch_secret_hash,
    open_private,
)
from app.dbadmin.web.words import CONSOLE_WAYS
from app.errors import HeadwayError, error_line
from app.extensions import db
from app.models.console import MigrationAudit, MigrationJob

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
        line = self.format(record)
        if is_log_noise(line):
            return  # Alembic's set-up, the same on every run
        self.lines.append(line)
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


class CancelCheckpoint:
    """A cancel (SIGTERM from the console) noted, to be acted on by the
    statement executor before the next statement. A job that runs no
    migration (a drift check) stops at once: it changes nothing."""

    def __init__(self) -> None:
        self.requested = False
        self.immediate = False

    def __call__(self) -> bool:
        return self.requested

    def on_sigterm(self, signum, frame) -> None:
        self.requested = True
        if self.immediate:
            raise Cancelled("cancelled")


CANCEL = CancelCheckpoint()


def run(job: MigrationJob, log: "JobLog") -> None:
    if job.action == DRIFT_CHECK:
        CANCEL.immediate = True
        drift_check(job, log)
        return
    if job.action == PREFLIGHT:
        CANCEL.immediate = True
        preflight_check(job, log)
        return
    # Who asked, and which job this is, reach env.py's lock and audit trail.
    who = {"actor": job.requested_by, "job_id": job.id}
    # The guards of migrations/env.py: what the operator said yes to, and the
    # console's words for it in their refusals.
    opt_ins = {
        "allow_data_loss": job.allow_data_loss,
        "no_verify": job.no_verify,
        "ways": CONSOLE_WAYS,
        # Table copies through pt-online-schema-change (core/online.py).
        "online": job.online,
        "no_preflight": job.no_preflight,
    }
    config = alembic_config(
        configure_logger=False, cancel_requested=CANCEL, **who, **opt_ins
    )
    if job.action == "upgrade":
        with keeping_the_proof(db.engine):
            command.upgrade(config, job.target)
    elif job.action == "downgrade":
        with keeping_the_proof(db.engine):
            command.downgrade(config, job.target)
    elif job.action == "stamp":
        # A stamp's guard proves the live schema is the target's, unless the
        # operator said --no-verify.
        with keeping_the_proof(db.engine, proven=not job.no_verify):
            command.stamp(config, job.target, purge=job.purge)
    elif job.action == "rollback":
        settlement = recovery.rollback(
            db.engine,
            actor=job.requested_by,
            job_id=job.id,
            allow_data_loss=job.allow_data_loss,
            ways=CONSOLE_WAYS,
            show=lambda s: _log_settlement(log, s),
            cancel_requested=CANCEL,
        )
        log.write(f"rolled back: {settlement.proof}")
    elif job.action == "resume":
        settlement = recovery.resume(
            db.engine,
            load_catalog(),
            actor=job.requested_by,
            job_id=job.id,
            show=lambda s: _log_settlement(log, s),
            cancel_requested=CANCEL,
        )
        result = verify_revisions(db.engine, settlement.stamped)
        if not result.matches:
            raise HeadwayError(
                f"resumed and stamped {result.label}, but verify finds: "
                + "; ".join(result.differences)
            )
        log.write(f"resumed: stamped {result.label}, and the schema verifies")
    elif job.action == "adopt":
        # Decided under the release lock, like every adoption (a deploy's
        # `flask db upgrade --adopt` may be adopting it right now).
        with release_lock(db.engine, Deadline.after(0), log.write):
            adoption = adopt(db.engine, to=job.target or None, run_attributes=who)
        if not adoption.stamped:
            result = adoption.verification
            raise HeadwayError(
                f"no revision matches; nothing was written. Closest: {result.label}: "
                + "; ".join(result.differences)
            )
    else:
        raise HeadwayError(f"unknown action {job.action!r}")


def _log_settlement(log: JobLog, settlement) -> None:
    log.write(f"{settlement.action} of {settlement.partial.summary()}")
    for note in settlement.notes:
        log.write(f"note: {note}")
    log.write("\n".join(f"  {sql};" for sql in settlement.statements))


def drift_check(job: MigrationJob, log: JobLog) -> None:
    """Compare the live schema with its stamped revision's and with the
    models, keep the result (the drift page shows it) and log it."""
    log.write("drift check: comparing the live schema with its stamped revision's")
    check = run_drift_check(
        db.session, load_catalog(), db.metadata, f"{job.requested_by} (job #{job.id})"
    )
    if check.stamp_error:
        log.write(f"drift check: could not compare with the stamp: {check.stamp_error}")
    if not has_drift(check):
        log.write(f"drift check: no drift at {check.revisions or 'base'}")
        return
    differences = (check.stamp_differences or "").splitlines() + (
        check.model_differences or ""
    ).splitlines()
    log.write(f"drift check: {len(differences)} difference(s):")
    log.write("\n".join(f"  - {d}" for d in differences))


def preflight_check(job: MigrationJob, log: JobLog) -> None:
    """Preflight of the plan to the job's target, kept for the plan page
    (and logged). A step that will fail is the result, not the job's
    failure."""
    from app.dbadmin.core.preflight import preflight_to, record_result
    from app.dbadmin.preflight_text import preflight_lines

    log.write(f"preflight of the plan to {job.target}")
    start = tuple(stamped_revisions(db.engine))
    plan, result = preflight_to(db.engine, load_catalog(), job.target)
    log.write("\n".join(preflight_lines(result, plan.direction, plan.target)))
    with db.engine.begin() as conn:
        record_result(
            conn,
            result,
            start=start,
            target=job.target,
            direction=plan.direction,
            checked_by=job.requested_by,
            job_id=job.id,
        )


def wrote_audit_rows(job_id: int) -> bool:
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(MigrationAudit)
            .where(MigrationAudit.job_id == job_id)
        )
        > 0
    )


def schema_report(job: MigrationJob) -> str:
    """After a failed or interrupted job: the stamped revision, how the live
    schema compares with it and with the step that did not finish, and which
    objects of that step exist already, so an operator sees which of its
    statements already ran (MySQL DDL is not transactional)."""
    current = stamped_revisions(db.engine)
    lines = [f"stamped at {', '.join(current) or 'base (unversioned)'}"]

    def describe(label, result, error=None):
        if error:
            lines.append(f"against {label}: its migration fails there too: {error}")
        state = "matches" if result.matches else "differs"
        lines.append(f"against {label} ({result.label}): {state}")
        lines.extend(f"  - {d}" for d in result.differences)

    try:
        failed = _unfinished_step(job)
        if failed is None or job.action not in ("upgrade", "downgrade"):
            if current:
                describe("the stamped revision", verify(db.engine))
            return "\n".join(lines)
        step = inspect_unfinished_step(db.engine, failed, job.action)
        if step.stamped is not None:
            describe("the stamped revision", step.stamped)
        describe(f"the unfinished step {failed}", step.destination, step.error)
        if step.traces:
            lines.append(f"the unfinished step {failed} already ran in part:")
            lines.extend(f"  - {trace}" for trace in step.traces)
    except Exception as exc:  # a report, not the job's outcome
        lines.append(f"could not compare the schema: {error_line(exc)}")
    return "\n".join(lines)


def _unfinished_step(job: MigrationJob) -> str | None:
    """The revision of the step that failed, or the first planned one that
    has no audit row (the step a killed process was in)."""
    done = db.session.scalars(
        sa.select(MigrationAudit).where(MigrationAudit.job_id == job.id)
    ).all()
    failed = next((a.revision for a in done if not a.success), None)
    if failed is None:
        applied = {a.revision for a in done}
        failed = next((r for r in job.planned_revisions if r not in applied), None)
    return failed


def prove_launch(job_id: int, secret: str) -> bool:
    """Whether the console started this process for the job: the secret it
    wrote to our stdin matches the job row's hash. Used once: the hash is
    cleared in the same statement, so neither a second process nor a shell
    that learns the command line can act for the job's user."""
    if not secret:
        return False
    with db.engine.begin() as conn:
        claimed = conn.execute(
            sa.update(JOBS)
            .where(
                JOBS.c.id == job_id,
                JOBS.c.launch_secret == launch_secret_hash(secret),
            )
            .values(launch_secret=None)
        ).rowcount
    return claimed == 1


def refuse(job_id: int) -> int:
    print(
        f"job #{job_id}: refused. Job processes are started by the console, "
        "which hands each one a secret; run migrations from a shell with "
        "`flask db upgrade` (recorded as your OS user).",
        file=sys.stderr,
    )
    return 2


def clean_up_scratch_databases(log: JobLog) -> None:
    """Drop the scratch databases whose owner is gone (a job or a shell's
    verify killed while it built a schema), before this job makes its own."""
    try:
        dropped = drop_stale_scratch_databases(db.engine)
    except sa.exc.SQLAlchemyError as exc:  # the job itself will say more
        log.write(f"scratch databases: not checked: {error_line(exc)}")
        return
    for scratch in dropped:
        log.write(
            f"dropped the scratch database {scratch.name}: its owner, "
            f"{scratch.describe()}, is gone"
        )


def main(job_id: int, secret: str) -> int:
    app = create_app(web=False)
    with app.app_context():
        if not prove_launch(job_id, secret):
            return refuse(job_id)
        job = db.session.get(MigrationJob, job_id)
        log = JobLog(job_id)
        alembic_logger = logging.getLogger("alembic")
        alembic_logger.setLevel(logging.INFO)
        alembic_logger.addHandler(log)
        # The statement executor's waits for metadata locks, too.
        executor_logger = logging.getLogger("headway.executor")
        executor_logger.setLevel(logging.INFO)
        executor_logger.addHandler(log)
        log.write(
            f"{job.action} {job.target} requested by {job.requested_by}".replace(
                "  ", " "
            )
        )
        set_scratch_owner(f"j{job_id}")
        clean_up_scratch_databases(log)
        status, error = "succeeded", None
        signal.signal(signal.SIGTERM, CANCEL.on_sigterm)
        try:
            run(job, log)
        except Cancelled as exc:
            status, error = "cancelled", str(exc)
            log.write(f"cancelled: {exc}")
        except Exception as exc:  # the job's outcome, whatever went wrong
            status = "failed"
            error = error_line(exc)
            if not isinstance(exc, HeadwayError):
                log.write(traceback.format_exc())
            # A guard's refusal lists what it found below its first line.
            log.write(f"failed: {exc if isinstance(exc, HeadwayError) else error}")
        try:
            record_end(job_id, status, error, log)
        except sa.exc.SQLAlchemyError as exc:
            # The database is gone (the likely cause of the failure too): the
            # console reads these last words when it finds the process gone,
            # rather than guessing it was killed.
            outcome = status + (f" ({error})" if error else "")
            leave_last_words(
                job_id,
                f"it had {outcome}, and then {database_error_line(exc)}",
            )
            raise
        finally:
            alembic_logger.removeHandler(log)
            executor_logger.removeHandler(log)
        return 0 if status == "succeeded" else 1


def record_end(job_id: int, status: str, error: str | None, log: "JobLog") -> None:
    """Record how the job ended (after a drift check, when it changed the
    schema), retrying while the database does not answer: an outage may be
    over in seconds."""
    for wait in (*current_app.config["JOB_END_RETRY_SECONDS"], None):
        try:
            _record_end(job_id, status, error, log)
            return
        except sa.exc.OperationalError:
            db.session.rollback()
            if wait is None:
                raise
            time.sleep(wait)


def _record_end(job_id: int, status: str, error: str | None, log: "JobLog") -> None:
    db.session.rollback()
    job = db.session.get(MigrationJob, job_id)
    # Computed before the job row changes: with a pending update in the
    # session, the log's own writes to that row would wait on it.
    to_revisions = ",".join(stamped_revisions(db.engine))
    report = None
    if status in ("failed", "cancelled") and job.action in ACTIONS:
        report = failure_report(job)
    if job.action in ACTIONS and wrote_audit_rows(job_id):
        # The schema (or its stamp) changed: check it at once, so that the
        # console's drift status is never older than the change. After the
        # migration lock is released (env.py's run has ended): the check
        # builds schemas in scratch databases, seconds to minutes, and
        # holding the lock would make every `flask db` in a shell fail
        # meanwhile. The job stays "running" until it ends, so no console
        # job starts in between; a shell's run that slips in is recorded
        # in the audit trail, which makes this check stale (core/drift.py).
        try:
            drift_check(job, log)
        except Exception as exc:  # a check after the job, not its outcome
            db.session.rollback()
            log.write(f"drift check: not made: {error_line(exc)}")
        db.session.rollback()
        job = db.session.get(MigrationJob, job_id)
    job.status = status
    job.error = error
    job.finished_at = utcnow()
    job.to_revisions = to_revisions
    job.schema_report = report
    log.write(f"{status}; the database is at {job.to_revisions or 'base'}")
    job.log = "\n".join(log.lines)
    db.session.commit()


def leave_last_words(job_id: int, text: str) -> None:
    """One line beside the job's output file (app/dbadmin/jobs/service.py
    interruption_cause), for when the database cannot take it."""
    path = job_file(Path(current_app.config["JOB_OUTPUT_DIR"]), job_id, "run", "end")
    with open_private(path, "a") as last_words:
        last_words.write(text + "\n")


def report(job_id: int, secret: str) -> int:
    app = create_app(web=False)
    with app.app_context():
        if not prove_launch(job_id, secret):
            return refuse(job_id)
        set_scratch_owner(f"j{job_id}")
        job = db.session.get(MigrationJob, job_id)
        job.schema_report = failure_report(job)
        db.session.commit()
        return 0


def failure_report(job: MigrationJob) -> str:
    """After a failed or interrupted job: a step left half-way says exactly
    what ran (the journal); otherwise the schema is compared with the
    revisions around the step that did not finish."""
    partial = unsettled_step(db.engine)
    return partial_line(partial, CONSOLE_WAYS) if partial else schema_report(job)


if __name__ == "__main__":
    task, job_id = sys.argv[1], int(sys.argv[2])
    # The console writes the launch secret on stdin (never in argv, which
    # every user of the machine can read).
    launch_secret = sys.stdin.readline().strip()
    sys.exit((main if task == "run" else report)(job_id, launch_secret))
