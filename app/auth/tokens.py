"""API tokens: only their SHA-256 is stored. A token expires, records when it
was last used, and is created only by the CLI or by a logged-in session that
re-entered the password, never by another token."""

import hashlib
import hmac
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app.clock import utcnow
from app.errors import HeadwayError
from app.extensions import db
from app.models.accounts import ApiToken, User
from app.validation import check_name, is_valid_id

TOKEN_PREFIX = "hw_"
NAME_MAX_LENGTH = 64
MAX_TOKEN_DAYS = 3650
# last_used_at is written at most this often: not a write on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def active_tokens_query(user: User):
    return sa.select(ApiToken).where(
        ApiToken.user_id == user.id,
        ApiToken.revoked_at.is_(None),
        ApiToken.expires_at > utcnow(),
    )


def create_token(
    user: User, name: str = "", days: int | None = None
) -> tuple[ApiToken, str]:
    """A new token for `user`; the token text is returned once, never stored.
    Refused when the user already holds MAX_ACTIVE_TOKENS live tokens."""
    name = check_name(name, "the token name", NAME_MAX_LENGTH, required=False)
    days = current_app.config["API_TOKEN_DAYS"] if days is None else days
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise HeadwayError(f"a token lives from 1 to {MAX_TOKEN_DAYS} days")
    # The user's row is locked while counting, so that concurrent requests
    # cannot together go over the limit.
    db.session.execute(
        sa.select(User.id).where(User.id == user.id).with_for_update()
    ).all()
    limit = current_app.config["MAX_ACTIVE_TOKENS"]
    active = db.session.scalar(
        sa.select(sa.func.count()).select_from(active_tokens_query(user).subquery())
    )
    if active >= limit:
        db.session.rollback()
        raise HeadwayError(
            f"{user.username} already holds {limit} active API tokens, the most "
            "allowed: revoke one first"
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    record = ApiToken(
        user=user,
        name=name,
        token_hash=_token_hash(token),
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    db.session.add(record)
    db.session.commit()
    return record, token


def user_for_token(token: str) -> User | None:
    """The active user a live token belongs to, else None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    record = db.session.scalar(
        sa.select(ApiToken).where(ApiToken.token_hash == _token_hash(token))
    )
    now = utcnow()
    if record is None or not record.is_live(now) or not record.user.active:
        return None
    # The lookup is by hash; compare again in constant time all the same.
    if not hmac.compare_digest(record.token_hash, _token_hash(token)):
        return None
    if record.last_used_at is None or now - record.last_used_at > LAST_USED_RESOLUTION:
        record.last_used_at = now
        db.session.commit()
    return record.user


def revoke_token(token_id: int, owner: User | None = None) -> ApiToken:
    """Revoke one token (an admin, or its owner when `owner` is given)."""
    record = db.session.get(ApiToken, token_id) if is_valid_id(token_id) else None
    if record is None or (owner is not None and record.user_id != owner.id):
        raise HeadwayError(f"no API token with id {token_id}")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        db.session.commit()
    return record


def revoke_all_tokens(user: User) -> int:
    """Revoke every live token of `user` (the caller commits); how many."""
    now = utcnow()
    return db.session.execute(
        sa.update(ApiToken)
        .where(
            ApiToken.user_id == user.id,
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > now,
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount


def tokens_of(user: User) -> list[ApiToken]:
    return list(
        db.session.scalars(
            sa.select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )
