from flask import jsonify, redirect, url_for

from app.dbadmin.revisions import load_catalog
from app.dbadmin.state import UP_TO_DATE, read_state
from app.extensions import db
from app.main import bp


@bp.get("/")
def index():
    return redirect(url_for("admin.index"))


@bp.get("/healthz")
def healthz():
    """Liveness probe: the process serves requests."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Readiness probe: the database answers and its schema is at head. Load
    balancers and deploy scripts must not send traffic to an app whose schema
    is behind."""
    state = read_state(db.engine, load_catalog())
    body = {
        "state": state.state,
        "current": list(state.current),
        "heads": list(state.heads),
    }
    if state.state != UP_TO_DATE:
        return jsonify(status="unavailable", reason=state.summary(), **body), 503
    return jsonify(status="ok", **body)
