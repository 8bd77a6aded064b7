"""Schema changes from the console run as jobs: a separate process
(`python -m app.dbadmin.runner JOB_ID`, in its own session), so gunicorn's
timeouts, worker restarts and reloads cannot kill a migration half-way.

The web request checks the input, makes sure nothing else migrates, writes
the job row and starts the process; it answers at once. The process takes the
migration lock in migrations/env.py like any `flask db` run, and records its
log, its outcome and the audit trail.
"""

import os
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.engine import Engine

from app.dbadmin.lock import lock_is_free, migration_lock
from app.dbadmin.plan import PlanError, make_plan, resolve_target
from app.dbadmin.revisions import Catalog
from app.dbadmin.state import UNKNOWN_REVISION, UNVERSIONED, DatabaseState
from app.errors import HeadwayError
from app.extensions import db
from app.models.console import MigrationAudit, MigrationJob
from app.models.own import utcnow
from config import CONFIGS

ACTIONS = ("upgrade", "downgrade", "stamp", "adopt")
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class JobRefused(HeadwayError):
    """Bad input, or a target that cannot be reached: a 400."""


class JobConflict(HeadwayError):
    """Another migration is running: a 409."""

    def __init__(self, holder: str) -> None:
        self.holder = holder
        super().__init__(f"another migration is running: {holder}")


@dataclass
class JobRequest:
    action: str
    target: str | None
    purge: bool = False


def parse_request(data) -> JobRequest:
    """A JobRequest from JSON or form data, or JobRefused naming the problem."""
    if not isinstance(data, dict):
        raise JobRefused("the body must be a JSON object")
    action = data.get("action")
    if action not in ACTIONS:
        raise JobRefused(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    target = data.get("target")
    if target is not None and not isinstance(target, str):
        raise JobRefused("target must be a string")
    target = (target or "").strip() or None
    if target is None and action != "adopt":
        raise JobRefused(f"{action} needs a target: a revision, head, heads or base")
    purge = data.get("purge", False)
    if purge in ("true", "on", "1", "y"):
        purge = True
    elif purge in ("false", "off", "0", "", None):
        purge = False
    if not isinstance(purge, bool):
        raise JobRefused("purge must be true or false")
    if purge and action != "stamp":
        raise JobRefused("purge only goes with stamp")
    return JobRequest(action, target, purge)


def plan_job(
    engine: Engine, catalog: Catalog, state: DatabaseState, request: JobRequest
) -> list[str]:
    """The revisions the job will apply or revert, in order; JobRefused when
    the target cannot be reached from here in that direction."""
    action, target = request.action, request.target
    if action == "adopt":
        if state.state != UNVERSIONED:
            raise JobRefused(
                "adopt is only for an unversioned database; this one is "
                f"{state.state} ({', '.join(state.current) or 'no revision'})"
            )
        if target is not None:
            _resolve(catalog, target)
        return []
    if action == "stamp":
        _resolve(catalog, target)
        return []
    if state.state == UNKNOWN_REVISION:
        raise JobRefused(
            f"the database is stamped with {', '.join(state.unknown)}, which the "
            "scripts do not have: stamp it with a known revision first"
        )
    _resolve(catalog, target)
    try:
        # Steps only: rendering SQL would run the revisions' code in the request.
        plan = make_plan(engine, catalog, state, target, render=False)
    except PlanError as exc:
        raise JobRefused(str(exc)) from None
    if not plan.steps:
        raise JobRefused(f"nothing to do: the database is already at {target}")
    if plan.direction != action:
        raise JobRefused(
            f"{target} is not reachable by {action} from "
            f"{', '.join(state.current) or 'base'}: that would be a {plan.direction}"
        )
    return [step.revision.id for step in plan.steps]


def _resolve(catalog: Catalog, target: str) -> str:
    try:
        return resolve_target(catalog, target)
    except PlanError as exc:
        raise JobRefused(str(exc)) from None


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is dead too
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return True


def notice_interrupted_jobs() -> None:
    """Mark running jobs whose process is gone as interrupted. On this host
    the pid tells; for another host's job, a free lock does."""
    running = db.session.scalars(
        sa.select(MigrationJob).where(MigrationJob.status == "running")
    ).all()
    if not running:
        return
    here = socket.gethostname()
    lock_free = None
    for job in running:
        age = (utcnow() - job.started_at).total_seconds()
        if job.pid is None:
            # Being started: the request that claimed it sets the pid next.
            gone = age > 60
        elif job.host == here:
            gone = not _pid_alive(job.pid)
        else:
            if lock_free is None:
                with db.engine.connect() as conn:
                    lock_free = lock_is_free(conn)[0]
            gone = lock_free and age > 30
        if gone:
            job.status = "interrupted"
            job.finished_at = utcnow()
            job.error = (
                "its process ended before the job finished (killed?); its output "
                f"is in instance/jobs/job-{job.id}-run.out on {job.host}"
            )
            db.session.commit()
            # Comparing the schema builds revisions in a scratch database,
            # which runs their code: not inside a request.
            _spawn(job, "report")
    db.session.commit()


def start_job(
    engine: Engine,
    catalog: Catalog,
    state: DatabaseState,
    request: JobRequest,
    requested_by: str,
) -> MigrationJob:
    """Check, record and start a job; JobRefused or JobConflict otherwise."""
    planned = plan_job(engine, catalog, state, request)
    notice_interrupted_jobs()
    job = _claim(request, planned, state, requested_by)
    _spawn(job, "run")
    return job


def _claim(request, planned, state, requested_by) -> MigrationJob:
    """Record the job, unless another is running or holds the migration lock.
    A lock of its own ("claim") serialises this check-then-insert across
    workers and hosts, so that of many requests at once exactly one wins."""
    with db.engine.connect() as conn, migration_lock(conn, wait=10, purpose="claim"):
        # A new transaction, so that the check sees every job committed until
        # now (a REPEATABLE READ snapshot from earlier in the request would not).
        db.session.rollback()
        running = db.session.scalar(
            sa.select(MigrationJob).where(MigrationJob.status == "running").limit(1)
        )
        if running is not None:
            db.session.rollback()
            raise JobConflict(
                f"job #{running.id} ({running.action} {running.target}) by "
                f"{running.requested_by} since {running.started_at:%Y-%m-%d %H:%M:%S}"
            )
        free, holder = lock_is_free(conn)
        if not free:
            db.session.rollback()
            raise JobConflict(holder or "a migration outside the console")
        job = MigrationJob(
            action=request.action,
            target=request.target or "",
            purge=request.purge,
            requested_by=requested_by,
            from_revisions=",".join(state.current),
            status="running",
            host=socket.gethostname(),
            planned=",".join(planned),
            log="",
        )
        db.session.add(job)
        db.session.commit()
        return job


def _spawn(job: MigrationJob, task: str = "run") -> None:
    config = current_app.config
    env = dict(
        os.environ,
        HEADWAY_JOB_ID=str(job.id),
        HEADWAY_ACTOR=job.requested_by,
        # The job runs against this app's database and scripts.
        HEADWAY_CONFIG=config["NAME"] if config["NAME"] in CONFIGS else "production",
        DATABASE_URL=config["SQLALCHEMY_DATABASE_URI"],
        HEADWAY_MIGRATIONS_DIR=config["MIGRATIONS_DIR"],
    )
    if config.get("SECRET_KEY"):
        env["SECRET_KEY"] = config["SECRET_KEY"]
    # What the process prints (a crash before it can write to the job row,
    # say) stays in a file on this host.
    output_dir = Path(current_app.instance_path) / "jobs"
    output_dir.mkdir(parents=True, exist_ok=True)
    with open(output_dir / f"job-{job.id}-{task}.out", "ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.dbadmin.runner", task, str(job.id)],
            cwd=PROJECT_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            # Its own session: a signal to the worker's group does not reach it.
            start_new_session=True,
        )
    if task == "run":
        job.pid = process.pid
        db.session.commit()
    # Reap it when it ends, or it stays a zombie of this worker.
    threading.Thread(target=process.wait, daemon=True).start()


def job_json(job: MigrationJob, with_log: bool = True) -> dict:
    progress = job_progress(job)

    def iso(value):
        return value.isoformat() if value else None

    body = {
        "id": job.id,
        "action": job.action,
        "target": job.target,
        "purge": job.purge,
        "status": job.status,
        "requested_by": job.requested_by,
        "from_revisions": [r for r in job.from_revisions.split(",") if r],
        "to_revisions": [r for r in (job.to_revisions or "").split(",") if r],
        "planned": job.planned_revisions,
        "pid": job.pid,
        "host": job.host,
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "error": job.error,
        "verify": job.verify_result,
        "progress": {k: v for k, v in progress.items() if k != "audit"},
    }
    if with_log:
        body["log"] = job.log
    return body


def job_progress(job: MigrationJob) -> dict:
    """Step k of n, the step's revision, and the steps done, from the audit."""
    done = db.session.scalars(
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
    return {
        "total": len(planned),
        "done": len(ok),
        "step": min(len(ok) + 1, len(planned)) if planned else 0,
        "current_revision": current,
        "elapsed_seconds": round((end - job.started_at).total_seconds(), 1),
        "audit": done,
    }


def schema_report(job: MigrationJob) -> str:
    """After a failed or interrupted job: the stamped revision, and how the
    live schema compares with it and with the step that did not finish, so an
    operator sees which statements of that step already ran."""
    from app.dbadmin.adoption import (
        stamped_revisions,
        verify,
        verify_as_far_as_it_runs,
    )

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
