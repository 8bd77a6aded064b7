"""JSON of the migration console: /api/migrations/..."""

from flask import Blueprint, jsonify, request
from flask_login import current_user

from app.auth.security import requires_role
from app.dbadmin.audit import audit_json, audit_rows
from app.dbadmin.console import broken_files_json, overview, status_json
from app.dbadmin.jobs import (
    JobConflict,
    JobRefused,
    job_json,
    notice_interrupted_jobs,
    parse_request,
    start_job,
)
from app.dbadmin.plan import PlanError, make_plan
from app.extensions import db
from app.models.console import MigrationJob

bp = Blueprint("migrations_api", __name__)


@bp.get("/status")
def status():
    view = overview()
    code = 503 if view.state.state == "unreachable" else 200
    return jsonify(status_json(view)), code


@bp.get("/revisions")
def revisions():
    view = overview()
    applied = view.state.applied(view.catalog)
    return jsonify(
        revisions=[
            {
                "id": r.id,
                "down_revisions": list(r.down_revisions),
                "message": r.message,
                "created": r.created,
                "file": r.filename,
                "sha256": r.checksum,
                "kinds": r.kinds,
                "applied": r.id in applied,
                "current": r.id in view.state.current,
            }
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
    if view.state.state == "unreachable":
        return jsonify(error="the database does not answer", state="unreachable"), 503
    try:
        result = make_plan(db.engine, view.catalog, view.state, target)
    except PlanError as exc:
        return jsonify(error=str(exc), target=target), 400
    return jsonify(
        target=result.target,
        direction=result.direction,
        steps=[
            {
                "revision": s.revision.id,
                "message": s.revision.message,
                "direction": s.direction,
                "reversible": s.reversible,
                "sql": s.sql,
                "warnings": [w.as_json() for w in s.warnings],
            }
            for s in result.steps
        ],
        sql=result.sql,
        warnings=[w.as_json() for w in result.warnings],
        error=result.error,
    )


@bp.post("/jobs")
@requires_role("operator")
def create_job():
    """Start stamp / upgrade / downgrade / adopt as a background job."""
    data = request.get_json(silent=True)
    if data is None:
        return jsonify(error="the body must be JSON"), 400
    try:
        job_request = parse_request(data)
        view = overview()
        if view.state.state == "unreachable":
            return jsonify(error=view.state.summary(), state="unreachable"), 503
        job = start_job(
            db.engine, view.catalog, view.state, job_request, current_user.username
        )
    except JobRefused as exc:
        return jsonify(error=str(exc)), 400
    except JobConflict as exc:
        return jsonify(error=str(exc), holder=exc.holder), 409
    return jsonify(id=job.id, status=job.status), 202


@bp.get("/jobs/<int:job_id>")
def get_job(job_id: int):
    notice_interrupted_jobs()
    job = db.session.get(MigrationJob, job_id)
    if job is None:
        return jsonify(error=f"no job {job_id}"), 404
    return jsonify(job_json(job))


@bp.get("/history")
def history():
    """The audit trail, newest first; ?revision= &action= &actor= &job= &failed=1
    &limit= (default 100, at most 1000)."""
    try:
        rows = audit_rows(request.args)
    except ValueError as exc:
        return jsonify(error=str(exc)), 400
    return jsonify(history=[audit_json(a) for a in rows])
