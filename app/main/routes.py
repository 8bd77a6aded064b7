from flask import jsonify

from app.main import bp


@bp.get("/healthz")
def healthz():
    """Liveness probe: the process serves requests."""
    return jsonify(status="ok")
