from flask import jsonify, redirect, url_for
from flask_login import current_user

from app.dbadmin.revisions import load_catalog
from app.dbadmin.state import (
    BEHIND,
    UNKNOWN_REVISION,
    UNREACHABLE,
    UNVERSIONED,
    UP_TO_DATE,
    read_state,
)
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
    ready = state.state == UP_TO_DATE
    body = {
        "status": "ok" if ready else "unavailable",
        "state": state.state,
        "reason": GENERIC_REASONS[state.state],
    }
    # Anyone may probe; revisions and error texts (hosts, ports) are for
    # logged-in users only.
    if current_user.is_authenticated:
        body.update(
            detail=state.summary(),
            current=list(state.current),
            heads=list(state.heads),
        )
    return jsonify(body), 200 if ready else 503


GENERIC_REASONS = {
    UP_TO_DATE: "the schema is at head",
    BEHIND: "the schema is behind the code",
    UNVERSIONED: "the database has no schema version",
    UNKNOWN_REVISION: "the database is at a revision the code does not know",
    UNREACHABLE: "the database does not answer",
}
