"""JSON of the migration console: /api/migrations/..."""

from flask import Blueprint, current_app, jsonify, request, url_for
from flask_login import current_user

from app.api.schemas import Error
from app.api.validation import describe
from app.auth.security import requires_role
from app.dbadmin.core.guards import Refused, check_unversioned
from app.dbadmin.core.plan import PlanError, make_plan
from app.dbadmin.core.state import State
from app.dbadmin.jobs.service import (
    JobConflict,
    JobEnvironment,
    JobNotStarted,
    JobRefused,
    job_progress,
    shown_job,
)
from app.dbadmin.jobs.service import cancel_job as cancel
from app.dbadmin.web.forms import BadInput, parse_audit_filter
from app.dbadmin.web.overview import audit_rows, launch_job, overview, running_job
from app.dbadmin.web.preflight import kept_preflight, preflight_json
from app.dbadmin.web.schemas import JobStarted, NewJob
from app.dbadmin.web.serialize import (
    audit_json,
    broken_files_json,
    job_json,
    plan_json,
    revision_json,
    status_json,
)
from app.dbadmin.web.words import CONSOLE_WAYS
from app.extensions import db

bp = Blueprint("migrations_api", __name__)


@bp.get("/status")
def status():
    view = overview()
    if not view.database.reachable:
        return jsonify(status_json(view, running=None)), 503
    return jsonify(status_json(view, running=running_job()))


@bp.get("/revisions")
def revisions():
    view = overview()
    applied = view.database.applied(view.catalog)
    return jsonify(
        revisions=[
            revision_json(r, r.id in applied, r.id in view.database.current)
            for r in view.catalog.revisions
        ],
        heads=list(view.catalog.heads),
        broken_files=broken_files_json(view.catalog),
    )


@bp.get("/plan")
def plan():
    target = request.args.get("target", "").strip()
    if not target:
        return jsonify(error="give the target revision: ?target=REV"), 400
    view = overview()
    if not view.database.reachable:
        return jsonify(
            error="the database does not answer", state=State.UNREACHABLE
        ), 503
    try:
        result = make_plan(
            db.engine, view.catalog, view.database, target, ways=CONSOLE_WAYS
        )
        if result.direction == "upgrade" and view.database.kind == State.UNVERSIONED:
            # As the plan page: an unversioned database with tables is
            # adopted, never upgraded from base.
            check_unversioned(db.engine, view.catalog, ways=CONSOLE_WAYS)
    except PlanError as exc:
        return jsonify(error=str(exc), target=target), 400
    except Refused as exc:
        return jsonify(error=str(exc), target=target, state=State.UNVERSIONED), 400
    kept = kept_preflight(db.engine, tuple(view.database.current), result)
    # The newest preflight of this plan, as kept (null when none was run).
    return jsonify({**plan_json(result), "preflight": preflight_json(kept)})


@bp.post("/jobs")
@requires_role("operator")
@describe(
    request_model=NewJob,
    responses={202: JobStarted, 400: Error, 409: Error, 503: Error},
)
def create_job(body: NewJob):
    """Start stamp / upgrade / downgrade / adopt as a background job.

    A downgrade, a stamp, and any job with `allow_data_loss` need the target
    typed again in `typed_target`, exactly as given in `target`: the same
    deliberate yes as the console's form (400 without it; nothing runs).
    A step that would drop data is refused unless `allow_data_loss` is true."""
    job_request = body.job_request()
    try:
        view = overview()
        if not view.database.reachable:
            return jsonify(error=view.database.summary(), state=State.UNREACHABLE), 503
        job = launch_job(job_request)
    except JobRefused as exc:
        return jsonify(error=str(exc)), 400
    except JobConflict as exc:
        running = None
        if exc.job_id is not None:
            running = {
                "id": exc.job_id,
                "url": url_for("migrations_api.get_job", job_id=exc.job_id),
                "page": url_for("migrations.job", job_id=exc.job_id),
            }
        return jsonify(error=str(exc), holder=exc.holder, job=running), 409
    except JobNotStarted as exc:
        # The job exists and has ended: failed, like any job, with the reason.
        return jsonify(id=exc.job_id, status="failed", error=str(exc)), 202
    return jsonify(id=job.id, status=job.status), 202


@bp.post("/jobs/<id:job_id>/cancel")
@requires_role("operator")
@describe(responses={202: JobStarted, 400: Error, 404: Error})
def cancel_job(job_id: int):
    """Stop a running job before its next statement (never inside one); a
    step it stops inside is recorded as partial (state "partial")."""
    try:
        job = cancel(db.session, job_id, current_user.username)
    except LookupError as exc:
        return jsonify(error=str(exc)), 404
    except JobRefused as exc:
        return jsonify(error=str(exc)), 400
    return jsonify(id=job.id, status=job.status), 202


@bp.get("/jobs/<id:job_id>")
def get_job(job_id: int):
    job = shown_job(db.session, JobEnvironment.of(current_app), job_id)
    if job is None:
        return jsonify(error=f"no job #{job_id}"), 404
    return jsonify(job_json(job, job_progress(db.session, job)))


@bp.get("/audit")
def audit():
    """The audit trail, newest first; ?revision= &action= &actor= &job= &failed=1
    &limit= (default 100, at most 1000)."""
    try:
        rows = audit_rows(parse_audit_filter(request.args))
    except BadInput as exc:
        return jsonify(error=str(exc)), 400
    return jsonify(audit=[audit_json(a) for a in rows])
