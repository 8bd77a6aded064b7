from flask import Blueprint, jsonify, redirect, url_for

from app.dbadmin.core.catalog import load_catalog
from app.dbadmin.core.state import State, read_state
from app.extensions import db

bp = Blueprint("main", __name__)


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
    database = read_state(db.engine, load_catalog())
    body = {
        "state": database.kind,
        "current": list(database.current),
        "heads": list(database.heads),
    }
    if database.kind != State.UP_TO_DATE:
        return jsonify(status="unavailable", reason=database.summary(), **body), 503
    return jsonify(status="ok", **body)
