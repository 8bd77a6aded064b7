"""JSON of the migration console: /api/migrations/..."""

from flask import Blueprint, jsonify, request

from app.dbadmin.console import overview, status_json
from app.dbadmin.plan import PlanError, make_plan
from app.extensions import db

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
        broken_files=[
            {"file": b.filename, "problem": b.problem} for b in view.catalog.broken
        ],
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
