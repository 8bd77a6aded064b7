from flask import Blueprint, current_app, jsonify, redirect, url_for
from flask_login import current_user

from app.dbadmin.core.catalog import load_catalog
from app.dbadmin.core.state import read_state
from app.extensions import db

bp = Blueprint("main", __name__)


@bp.get("/")
def index():
    return redirect(url_for("admin.index"))


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico whatever the page links to, without a
    cookie: the static SVG, public like every static file."""
    return current_app.send_static_file("favicon.svg")


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
    ready = database.info.ready
    body = {
        "status": "ok" if ready else "unavailable",
        "state": database.kind,
        "reason": database.info.reason,
    }
    # Anyone may probe; revisions and error texts (hosts, ports) are for
    # logged-in users only.
    if current_user.is_authenticated:
        body.update(
            detail=database.summary(),
            current=list(database.current),
            heads=list(database.heads),
        )
    return jsonify(body), 200 if ready else 503
