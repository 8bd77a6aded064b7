import sqlalchemy as sa
from flask import Blueprint, current_app, g, jsonify, request
from flask_login import current_user

from app.api.openapi import openapi_document
from app.api.schemas import (
    Account,
    AccountList,
    CreatedToken,
    Error,
    Me,
    NewToken,
    Token,
    TokenList,
)
from app.api.validation import describe
from app.auth.accounts import confirm_password
from app.auth.security import requires_role
from app.auth.throttle import TooManyAttempts
from app.auth.tokens import create_token, revoke_token, tokens_of
from app.errors import HeadwayError
from app.extensions import db
from app.models.accounts import User

bp = Blueprint("api", __name__)


def _token(record) -> dict:
    return Token.model_validate(record, from_attributes=True).model_dump(mode="json")


@bp.get("/openapi.json")
def openapi():
    """This description of the JSON API (OpenAPI 3.1)."""
    return jsonify(openapi_document(current_app))


@bp.get("/me")
@describe(responses={200: Me})
def me():
    """Who the caller is."""
    return jsonify(username=current_user.username, role=current_user.role)


@bp.get("/me/tokens")
@describe(responses={200: TokenList})
def my_tokens():
    """The caller's API tokens (never their values)."""
    return jsonify(tokens=[_token(t) for t in tokens_of(current_user)])


def _sessions_only():
    """Refused before the body is read: a token cannot create tokens."""
    if g.get("bearer_auth"):
        return jsonify(
            error="an API token cannot create tokens: log in and re-enter your "
            "password, or use `flask users token create`"
        ), 403
    return None


@bp.post("/me/tokens")
@describe(
    request_model=NewToken,
    responses={201: CreatedToken, 403: Error, 429: Error},
    before_body=_sessions_only,
)
def create_my_token(body: NewToken):
    """A new token for the caller, shown once.

    Only a logged-in session that re-enters the password may create one: a
    token cannot create tokens (use `flask users token create` for scripts)."""
    try:
        address = request.remote_addr or "unknown"
        if not confirm_password(current_user, body.password, address):
            return jsonify(error="wrong password", fields={"password": "wrong"}), 403
        record, token = create_token(current_user, body.name, body.days)
    except TooManyAttempts as exc:
        return jsonify(error=str(exc)), 429, {"Retry-After": str(exc.retry_after)}
    except HeadwayError as exc:
        return jsonify(error=str(exc)), 400
    return jsonify(token=token, **_token(record)), 201


@bp.post("/me/tokens/<id:token_id>/revoke")
@describe(responses={200: Token, 404: Error})
def revoke_my_token(token_id: int):
    """Revoke one of the caller's tokens."""
    try:
        record = revoke_token(token_id, owner=current_user)
    except HeadwayError as exc:
        return jsonify(error=str(exc)), 404
    return jsonify(_token(record))


@bp.get("/users")
@requires_role("admin")
@describe(responses={200: AccountList})
def users():
    """Every account (admins only)."""
    accounts = db.session.scalars(sa.select(User).order_by(User.username))
    listed = [Account.model_validate(a, from_attributes=True) for a in accounts]
    return jsonify(AccountList(users=listed).model_dump(mode="json"))
