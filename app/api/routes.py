import sqlalchemy as sa
from flask import Blueprint, jsonify, request
from flask_login import current_user

from app.auth.accounts import create_token, revoke_token
from app.auth.security import requires_role
from app.errors import HeadwayError
from app.extensions import db
from app.models.accounts import ApiToken, User

bp = Blueprint("api", __name__)


def _iso(value):
    return value.isoformat() if value else None


def _token_json(token: ApiToken) -> dict:
    return {
        "id": token.id,
        "name": token.name,
        "created_at": _iso(token.created_at),
        "last_used_at": _iso(token.last_used_at),
        "revoked_at": _iso(token.revoked_at),
    }


@bp.get("/me")
def me():
    """Who the caller is."""
    return jsonify(username=current_user.username, role=current_user.role)


@bp.get("/me/tokens")
def my_tokens():
    tokens = db.session.scalars(
        sa.select(ApiToken).where(ApiToken.user_id == current_user.id)
    )
    return jsonify(tokens=[_token_json(t) for t in tokens])


@bp.post("/me/tokens")
def create_my_token():
    """A new token for the caller (e.g. to rotate one); shown once."""
    body = request.get_json(silent=True)
    if body is None and request.data:
        return jsonify(error="the body must be JSON"), 400
    name = (body or {}).get("name", "")
    if not isinstance(name, str):
        return jsonify(error="name must be a string"), 400
    try:
        record, token = create_token(current_user, name)
    except HeadwayError as exc:
        return jsonify(error=str(exc)), 400
    return jsonify(token=token, **_token_json(record)), 201


@bp.post("/me/tokens/<int:token_id>/revoke")
def revoke_my_token(token_id: int):
    try:
        record = revoke_token(token_id, owner=current_user)
    except HeadwayError as exc:
        return jsonify(error=str(exc)), 404
    return jsonify(_token_json(record))


@bp.get("/users")
@requires_role("admin")
def users():
    accounts = db.session.scalars(sa.select(User).order_by(User.username))
    return jsonify(
        users=[
            {
                "username": u.username,
                "role": u.role,
                "active": u.active,
                "last_login_at": _iso(u.last_login_at),
            }
            for u in accounts
        ]
    )
