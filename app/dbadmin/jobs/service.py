"""Schema changes from the console run as jobs: a separate process
(`python -m app.dbadmin.jobs.runner run JOB_ID`, in its own session), so gunicorn's
timeouts, worker restarts and reloads cannot kill a migration half-way.

The web request checks the input, makes sure nothing else migrates, writes
the job row and starts the process; it answers at once. The process takes the
migration lock in migrations/env.py like any `flask db` run, and records its
log, its outcome and the audit trail.
"""

import hashlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.dbadmin.core.adoption import unknown_revision_line
from app.dbadmin.core.catalog import Catalog
from app.dbadmin.core.guards import (
    Refused,
    check_unversioned,
    data_at_risk,
    data_loss_refusal,
    partial_line,
    plan_of_drops,
)
from app.dbadmin.core.lock import lock_is_free, migration_lock
from app.dbadmin.core.plan import PlanError, make_plan, resolve_target
from app.dbadmin.core.state import (
    DatabaseState,
    State,
    redundant_stamp_line,
    stamped_revisions,
)
from app.dbadmin.web.words import CONSOLE_WAYS
from app.errors import HeadwayError, error_line
from app.models.console import MigrationAudit, MigrationJob
from config import CONFIGS

# The actions that change the user's schema (or its stamp); each ends with a
# drift check (runner.py).
ACTIONS = ("upgrade", "downgrade", "stamp", "adopt", "rollback", "resume")
# The two ways out of a step left half-way (core/recovery.py).
SETTLING = ("rollback", "resume")
# Compares the live schema with its stamped revision's and with the models
# (core/drift.py): a job, because it builds schemas in scratch databases.
DRIFT_CHECK = "drift-check"
# What each step of a plan will do, before it runs (core/preflight.py): a job,
# because it builds scratch databases and scans large tables.
PREFLIGHT = "preflight"
# Jobs that read only: they change neither the schema nor its stamp.
CHECKS = (DRIFT_CHECK, PREFLIGHT)
PROJECT_ROOT = Path(__file__).resolve().parents[3]


class JobRefused(HeadwayError):
    """Bad input, or a target that cannot be reached: a 400."""


class JobNotStarted(HeadwayError):
    """The job was recorded, but its process could not start: it is marked
    failed with the reason, at once."""

    def __init__(self, job: MigrationJob, reason: str) -> None:
        self.job_id = job.id
        super().__init__(f"job #{job.id} could not start its process: {reason}")


class JobConflict(HeadwayError):
    """Another migration is running: a 409. `job_id`: the console's job that
    runs, if it is one."""

    def __init__(self, holder: str, job_id: int | None = None) -> None:
        self.holder = holder
        self.job_id = job_id
        super().__init__(f"another migration is running: {holder}")


def running_description(job: MigrationJob) -> str:
    what = f"{job.action} {job.target}".strip()
    return (
        f"job #{job.id} ({what}) by {job.requested_by} since "
        f"{job.started_at:%Y-%m-%d %H:%M:%S} UTC"
    )


def refuse_if_busy(session: Session, environment: "JobEnvironment") -> None:
    """JobConflict when a job runs, or something else holds the migration
    lock: checked before anything else about a new job (its input, its
    target), so that the answer to "may I?" is 409 while one runs."""
    try:
        notice_interrupted_jobs(session, environment)
        running = session.scalar(
            sa.select(MigrationJob)
            .where(MigrationJob.status == "running")
            .order_by(MigrationJob.id)
            .limit(1)
        )
    except sa.exc.SQLAlchemyError:
        # No job table yet (before `flask headway init`): no job runs; what
        # follows says what is missing.
        session.rollback()
        return
    if running is not None:
        raise JobConflict(running_description(running), running.id)
    with session.get_bind().connect() as conn:
        free, holder = lock_is_free(conn)
    if not free:
        raise JobConflict(holder or "a migration outside the console")


@dataclass
class JobRequest:
    action: str
    target: str | None
    purge: bool = False
    # The opt-ins of the guards (app/dbadmin/core/guards.py).
    allow_data_loss: bool = False
    no_verify: bool = False
    # Table copies through pt-online-schema-change (core/online.py).
    online: bool = False
    # Upgrade/downgrade without preflight first (the audit trail says so).
    no_preflight: bool = False


@dataclass(frozen=True)
class JobEnvironment:
    """What a job process needs to run against the same database, scripts
    and configuration as the app that starts it."""

    config_name: str
    database_url: str
    migrations_dir: str
    secret_key: str | None
    output_dir: Path

    @classmethod
    def of(cls, app: Flask) -> "JobEnvironment":
        config = app.config
        return cls(
            config_name=config["NAME"] if config["NAME"] in CONFIGS else "production",
            database_url=config["SQLALCHEMY_DATABASE_URI"],
            migrations_dir=config["MIGRATIONS_DIR"],
            secret_key=config.get("SECRET_KEY"),
            output_dir=Path(config["JOB_OUTPUT_DIR"]),
        )


@dataclass
class JobProgress:
    """Step k of n, the step's revision, and the steps done (audit rows)."""

    total: int
    done: int
    step: int
    current_revision: str | None
    elapsed_seconds: float
    audit: list[MigrationAudit]
    # A step has begun and not ended (its "Running upgrade ..." line is in
    # the log): before the first, the job is still checking, nothing ran.
    running: bool = False

    def line(self) -> str:
        """Where the job is, in words: the step running, never "step 1 of 2"
        while nothing has run."""
        if not self.total:
            return ""
        if self.running:
            return f"step {self.step} of {self.total} running"
        if self.done == 0:
            return f"checking before step 1 of {self.total}: nothing has run yet"
        return f"{self.done} of {self.total} steps done"


def plan_job(
    engine: Engine, catalog: Catalog, database: DatabaseState, job: JobRequest
) -> list[str]:
    """The revisions the job will apply or revert, in order; JobRefused when
    the target cannot be reached from here in that direction, or when a guard
    refuses it (the same guards migrations/env.py applies when it runs)."""
    action, target = job.action, job.target
    if action == DRIFT_CHECK:
        return []
    if action == PREFLIGHT:
        return _plan_of_preflight(engine, catalog, database, target)
    if action in SETTLING:
        partial = database.partial
        if partial is None:
            raise JobRefused(
                f"nothing to {action}: no migration step was left half-way"
            )
        if target and target != partial.revision:
            raise JobRefused(
                f"the step left half-way is {partial.revision}, not {target}"
            )
        return [partial.revision]
    if database.kind == State.PARTIAL:
        raise JobRefused(
            f"refusing to {action}: {partial_line(database.partial, CONSOLE_WAYS)}"
        )
    if action == "adopt":
        if database.kind != State.UNVERSIONED:
            raise JobRefused(
                "adopt is only for an unversioned database; this one is "
                f"{database.info.words} "
                f"({', '.join(database.current) or 'no revision'})"
            )
        if target is not None:
            _resolve(catalog, target)
        return []
    if database.kind == State.UNKNOWN_REVISION and not (
        action == "stamp" and job.purge
    ):
        raise JobRefused(unknown_revision_line(database.unknown, CONSOLE_WAYS, catalog))
    if database.kind == State.REDUNDANT_STAMP and not (action == "stamp" and job.purge):
        raise JobRefused(
            redundant_stamp_line(database.redundant, database.effective, CONSOLE_WAYS)
        )
    _resolve(catalog, target)
    if action == "stamp":
        # Proven in the job's process (it builds the revision's schema).
        return []
    try:
        # Steps only: rendering every step would run every revision's code in
        # the request (plan_of_drops renders the few that may drop data).
        plan = make_plan(
            engine, catalog, database, target, render=False, ways=CONSOLE_WAYS
        )
    except PlanError as exc:
        raise JobRefused(str(exc)) from None
    if not plan.steps:
        raise JobRefused(f"nothing to do: the database is already at {target}")
    if plan.direction != action:
        raise JobRefused(
            f"{target} is not reachable by {action} from "
            f"{', '.join(database.current) or 'base'}: that would be a {plan.direction}"
        )
    try:
        if database.kind == State.UNVERSIONED:
            check_unversioned(engine, catalog, ways=CONSOLE_WAYS)
        revisions = [step.revision.id for step in plan.steps]
        drops = plan_of_drops(engine, catalog, plan.direction, revisions)
        at_risk = data_at_risk(engine, drops)
    except Refused as exc:
        raise JobRefused(str(exc)) from None
    if at_risk and not job.allow_data_loss:
        raise JobRefused(data_loss_refusal(action, at_risk, CONSOLE_WAYS))
    if job.online:
        _check_online(engine)
    return [step.revision.id for step in plan.steps]


def _check_online(engine: Engine) -> None:
    """Refused at once where --online cannot work at all (SQLite, pt-osc
    missing); the job's own guards check each statement before it runs."""
    from flask import current_app

    from app.dbadmin.core.online import (
        OnlineSettings,
        OnlineUnavailable,
        require_online,
    )

    try:
        require_online(
            engine.dialect.name,
            OnlineSettings.from_config(current_app.config, enabled=True),
        )
    except OnlineUnavailable as exc:
        raise JobRefused(str(exc)) from None


def _plan_of_preflight(
    engine: Engine, catalog: Catalog, database: DatabaseState, target: str | None
) -> list[str]:
    """A preflight job's plan: the steps from here to `target`."""
    if database.kind == State.PARTIAL:
        raise JobRefused(
            f"no preflight: {partial_line(database.partial, CONSOLE_WAYS)}"
        )
    if not target:
        raise JobRefused("preflight needs a target: a revision, head, heads or base")
    _resolve(catalog, target)
    try:
        plan = make_plan(engine, catalog, database, target, render=False)
    except PlanError as exc:
        raise JobRefused(str(exc)) from None
    if not plan.steps:
        raise JobRefused(f"nothing to check: the database is already at {target}")
    return [step.revision.id for step in plan.steps]


def _resolve(catalog: Catalog, target: str) -> str:
    try:
        return resolve_target(catalog, target)
    except PlanError as exc:
        raise JobRefused(str(exc)) from None


def _pid_alive(pid: int | None) -> bool:
    """Whether the job's process still runs on this host (a zombie, exited
    but not yet reaped, does not)."""
    if not pid:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # another user's process: it exists


def job_file(output_dir: Path, job_id: int, task: str, kind: str = "out") -> Path:
    """A file of a job's process on its host: what it printed (`out`), or its
    last words (`end`): how it ended when it could not record that itself."""
    return output_dir / f"job-{job_id}-{task}.{kind}"


def open_private(path: Path, mode: str = "ab"):
    """`path` opened for appending, readable by Headway's user only (0600): a
    job's output can hold SQL, data values and tracebacks."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)  # a file an older version left readable
    return open(fd, mode)


def interruption_cause(environment: JobEnvironment, job: MigrationJob) -> str:
    """Why a job's process ended without recording the job's end: its last
    words when it left them (the database went away, say), else a guess."""
    if job.host == socket.gethostname():
        try:
            last_words = job_file(environment.output_dir, job.id, "run", "end")
            cause = last_words.read_text(errors="replace").strip()
        except OSError:
            cause = ""
        if cause:
            return f"its process ended without recording the job's end: {cause}"
    return "its process ended before the job finished (killed?)"


def _gone(session: Session, job, lock_free: list) -> bool:
    """Whether a job marked running has lost its process. On this host the
    pid tells; for another host's job, a free lock does (`lock_free`: the
    answer, read once per call of the caller)."""
    age = (utcnow() - job.started_at).total_seconds()
    if job.pid is None:
        # Being started: the request that claimed it sets the pid next.
        return age > 60
    if job.host == socket.gethostname():
        return not _pid_alive(job.pid)
    if not lock_free:
        with session.get_bind().connect() as conn:
            lock_free.append(lock_is_free(conn)[0])
    return lock_free[0] and age > 30


def interruption(session: Session, environment: JobEnvironment, job) -> dict | None:
    """What noticing that a running job's process is gone records (status,
    end, where it stopped, why), or None while it runs. Only reads: a page
    shows a dead job as interrupted with this; a write records it
    (notice_interrupted_jobs)."""
    if job.status != "running" or not _gone(session, job, []):
        return None
    try:
        # Where it stopped, not where it was going.
        to_revisions = ",".join(stamped_revisions(session.get_bind()))
    except sa.exc.SQLAlchemyError:
        to_revisions = None
    return {
        "status": "interrupted",
        "finished_at": utcnow(),
        "to_revisions": to_revisions,
        # The output file's place is on the page, for operators only.
        "error": interruption_cause(environment, job),
    }


def notice_interrupted_jobs(session: Session, environment: JobEnvironment) -> None:
    """Record the running jobs whose process is gone as interrupted, and start
    their reports. A write: called before a job starts or is cancelled, and
    by the supervisor of the job's process when it ends; a page only shows
    what this would record (interruption)."""
    running = session.scalars(
        sa.select(MigrationJob).where(MigrationJob.status == "running")
    ).all()
    for job in running:
        noticed = interruption(session, environment, job)
        if noticed is None:
            continue
        for name, value in noticed.items():
            setattr(job, name, value)
        session.commit()
        if job.action in ACTIONS:
            # Comparing the schema builds revisions in a scratch database,
            # which runs their code: not inside a request.
            _spawn(session, environment, job, "report")
    session.commit()


def shown_job(
    session: Session, environment: JobEnvironment, job_id: int
) -> MigrationJob | None:
    """The job as a page shows it: one whose process is gone is shown
    interrupted (a read: the object is detached, so nothing of it is
    written)."""
    job = session.get(MigrationJob, job_id)
    if job is None:
        return None
    noticed = interruption(session, environment, job)
    if noticed is not None:
        session.expunge(job)
        for name, value in noticed.items():
            setattr(job, name, value)
    return job


def _supervise(
    process: subprocess.Popen, environment: JobEnvironment, job_id: int
) -> None:
    """Wait for a job's process (and reap it, or it stays a zombie of this
    worker); when it ended without recording the job's end (killed, or its
    database went away), record the interruption and start the report, with
    a session of its own: no request has to notice it."""
    process.wait()
    engine = sa.create_engine(environment.database_url, poolclass=sa.pool.NullPool)
    try:
        with Session(engine) as session:
            job = session.get(MigrationJob, job_id)
            if job is not None and job.status == "running" and job.pid == process.pid:
                notice_interrupted_jobs(session, environment)
    except Exception:
        # The database does not answer (or is gone): the next write that
        # checks for running jobs records it; the page shows it meanwhile.
        pass
    finally:
        engine.dispose()


def cancel_job(session: Session, job_id: int, requested_by: str) -> MigrationJob:
    """Ask a running job to stop: SIGTERM to its process, which stops before
    its next statement (the statement executor's checkpoint), never inside
    one; a step it stops inside is recorded as partial. JobRefused when the
    job does not run here; LookupError when there is no such job."""
    job = session.get(MigrationJob, job_id)
    if job is None:
        raise LookupError(f"no job #{job_id}")
    if job.status != "running" or not job.pid:
        raise JobRefused(f"job #{job_id} is not running ({job.status})")
    if job.host != socket.gethostname():
        raise JobRefused(
            f"job #{job_id} runs on another host of this deployment: cancel "
            "it from a console served there"
        )
    try:
        os.kill(job.pid, signal.SIGTERM)
    except ProcessLookupError:
        raise JobRefused(f"job #{job_id} has just ended") from None
    try:
        job.log = (job.log or "") + f"\ncancel requested by {requested_by}"
        session.commit()
    except sa.exc.OperationalError:
        # SQLite: the job's step holds the database's one write lock until
        # it stops; the job's own log says it was cancelled.
        session.rollback()
    return job


def start_job(
    session: Session,
    environment: JobEnvironment,
    catalog: Catalog,
    database: DatabaseState,
    job_request: "JobRequest | Callable[[], JobRequest]",
    requested_by: str,
) -> MigrationJob:
    """Check, record and start a job; JobRefused, JobConflict or JobNotStarted
    otherwise. The one way a job starts: the console's plan form, its drift
    check and the API all come here (web/overview.py's launch_job).

    A running job answers first (JobConflict), whatever the request says:
    `job_request` may be a function that reads the request, called after
    that check (its own errors pass through)."""
    if database.reachable:
        refuse_if_busy(session, environment)
    if callable(job_request):
        job_request = job_request()
    if not database.reachable:
        raise JobRefused(database.summary())
    what = {DRIFT_CHECK: "a drift check", PREFLIGHT: "a preflight"}.get(
        job_request.action, "a job"
    )
    try:
        catalog.refuse_broken_files(what)
    except HeadwayError as exc:
        raise JobRefused(str(exc)) from None
    planned = plan_job(session.get_bind(), catalog, database, job_request)
    job = _claim(session, job_request, planned, database, requested_by)
    _spawn(session, environment, job, "run")
    return job


def _claim(
    session: Session,
    job_request: JobRequest,
    planned: list[str],
    database: DatabaseState,
    requested_by: str,
) -> MigrationJob:
    """Record the job, unless another is running or holds the migration lock.
    A lock of its own ("claim") serialises this check-then-insert across
    workers and hosts, so that of many requests at once exactly one wins."""
    engine = session.get_bind()
    with engine.connect() as conn, migration_lock(conn, wait=10, purpose="claim"):
        # A new transaction, so that the check sees every job committed until
        # now (a REPEATABLE READ snapshot from earlier in the request would not).
        session.rollback()
        running = session.scalar(
            sa.select(MigrationJob).where(MigrationJob.status == "running").limit(1)
        )
        if running is not None:
            session.rollback()
            raise JobConflict(running_description(running), running.id)
        free, holder = lock_is_free(conn)
        if not free:
            session.rollback()
            raise JobConflict(holder or "a migration outside the console")
        job = MigrationJob(
            action=job_request.action,
            target=job_request.target or "",
            purge=job_request.purge,
            allow_data_loss=job_request.allow_data_loss,
            no_verify=job_request.no_verify,
            online=job_request.online,
            no_preflight=job_request.no_preflight,
            requested_by=requested_by,
            from_revisions=",".join(database.current),
            status="running",
            host=socket.gethostname(),
            planned=",".join(planned),
            log="",
        )
        session.add(job)
        session.commit()
        return job


def _spawn(
    session: Session, environment: JobEnvironment, job: MigrationJob, task: str
) -> None:
    """Start the job's process (`task` is run or report). Who asked for it is
    in the job row; the process proves it was started from here with a
    one-time secret, written to its stdin and kept hashed in the row, so that
    a shell running the same command cannot act for the job's user.

    When the process cannot start (an unwritable output directory, no memory
    to fork), a run is marked failed at once with the reason, and
    JobNotStarted raised: nothing is left `running` without a process."""
    secret = secrets.token_urlsafe(32)
    job.launch_secret = launch_secret_hash(secret)
    session.commit()
    env = dict(
        os.environ,
        # The job runs against this app's database and scripts.
        HEADWAY_CONFIG=environment.config_name,
        DATABASE_URL=environment.database_url,
        HEADWAY_MIGRATIONS_DIR=environment.migrations_dir,
        HEADWAY_JOB_OUTPUT_DIR=str(environment.output_dir),
    )
    if environment.secret_key:
        env["SECRET_KEY"] = environment.secret_key
    output_path = job_file(environment.output_dir, job.id, task)
    process = None
    try:
        # What the process prints (a crash before it can write to the job
        # row, say) stays in a file on this host.
        with open_private(output_path) as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "app.dbadmin.jobs.runner", task, str(job.id)],
                cwd=PROJECT_ROOT,
                stdin=subprocess.PIPE,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
                # Its own session: a signal to the worker's group does not reach it.
                start_new_session=True,
            )
        process.stdin.write(secret.encode() + b"\n")
        process.stdin.close()
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        if process is not None:
            process.kill()
            process.wait()
        _not_started(session, job, task, error_line(exc))
        if task == "run":
            raise JobNotStarted(job, error_line(exc)) from None
        return
    if task == "run":
        job.pid = process.pid
        session.commit()
        threading.Thread(
            target=_supervise, args=(process, environment, job.id), daemon=True
        ).start()
    else:
        # Reap it when it ends, or it stays a zombie of this worker.
        threading.Thread(target=process.wait, daemon=True).start()


def launch_secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _not_started(session: Session, job: MigrationJob, task: str, reason: str) -> None:
    job.launch_secret = None
    if task == "run":
        job.status = "failed"
        job.finished_at = utcnow()
        job.error = f"its process could not start: {reason}"
        job.to_revisions = job.from_revisions
    else:
        job.schema_report = f"no report: its process could not start: {reason}"
    session.commit()


def job_progress(session: Session, job: MigrationJob) -> JobProgress:
    """Where the job is, from the audit rows it has written."""
    done = session.scalars(
        sa.select(MigrationAudit)
        .where(MigrationAudit.job_id == job.id)
        .order_by(MigrationAudit.id)
    ).all()
    planned = job.planned_revisions
    ok = [a for a in done if a.success]
    current = None
    if job.status == "running" and len(ok) < len(planned):
        current = planned[len(ok)]
    end = job.finished_at or utcnow()
    started = len(STEP_STARTED.findall(job.log or ""))
    return JobProgress(
        total=len(planned),
        done=len(ok),
        step=min(len(ok) + 1, len(planned)) if planned else 0,
        current_revision=current,
        elapsed_seconds=round((end - job.started_at).total_seconds(), 1),
        audit=list(done),
        running=current is not None and started > len(ok),
    )


# Alembic logs this line as it begins each step.
STEP_STARTED = re.compile(r"^\S* ?Running (?:upgrade|downgrade) ", re.MULTILINE)
# Lines of Alembic's set-up, the same on every run: not shown, not kept.
LOG_NOISE = ("setting up autogenerate plugin",)


def is_log_noise(line: str) -> bool:
    return any(noise in line for noise in LOG_NOISE)


def without_noise(log: str) -> str:
    """The job's log without the set-up noise (LOG_NOISE)."""
    if not any(noise in log for noise in LOG_NOISE):
        return log
    return "\n".join(line for line in log.split("\n") if not is_log_noise(line))
