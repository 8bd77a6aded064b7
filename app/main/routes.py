from flask import jsonify, redirect, url_for
from sqlalchemy.exc import SQLAlchemyError

from app.dbadmin.scripts import current_heads, script_directory
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
    """Readiness probe: the database answers and its schema is at head."""
    heads = set(script_directory().get_heads())
    try:
        with db.engine.connect() as conn:
            current = set(current_heads(conn))
    except SQLAlchemyError:
        return jsonify(status="unavailable", reason="the database does not answer"), 503
    if current != heads:
        return (
            jsonify(
                status="unavailable",
                reason="the schema is not at head",
                current=sorted(current),
                heads=sorted(heads),
            ),
            503,
        )
    return jsonify(status="ok", current=sorted(current))
