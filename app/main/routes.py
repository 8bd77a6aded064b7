from flask import Blueprint, current_app, jsonify, redirect, url_for
from flask_login import current_user

from app.dbadmin.core.catalog import load_catalog
from app.dbadmin.core.drift import drift_status, with_drift_check
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
    """Readiness probe: the database answers, its schema is at head, and the
    live schema is what head describes (a cheap check on every probe: a
    stamp that lies or a column dropped out of band answers 503 at once).
    Load balancers and deploy scripts must not send traffic to an app whose
    schema is behind."""
    database = read_state(db.engine, load_catalog(), db.metadata)
    if database.reachable and database.current:
        # A drift check's finding outranks "up to date" here as on the pages.
        with_drift_check(database, drift_status(db.session, database.current))
    ready = database.info.ready
    body = {
        "status": "ok" if ready else "unavailable",
        # The state's key, and its words (app/dbadmin/core/state.py's STATES).
        "state": database.kind,
        "state_words": database.info.words,
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
