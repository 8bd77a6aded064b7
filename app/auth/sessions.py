"""Server-side login sessions: the cookie carries a secret, the database a
record named by its SHA-256. Logging out deletes the record, so a copied
cookie stops working at once."""

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app.clock import utcnow
from app.errors import HeadwayError
from app.extensions import db
from app.models.accounts import LoginSession, User
from app.validation import is_valid_id, printable

# last_seen_at is written at most this often: not a write on every request.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


# Every request of a logged-in user runs it: one indexed lookup of the
# session by its hash, its user loaded as the entity in the same statement
# (Flask-Login's current_user is the User for a cookie and for a bearer token
# alike, microblog's way).
_SESSION_AND_USER = (
    sa.select(
        User,
        LoginSession.id,
        LoginSession.created_at,
        LoginSession.last_seen_at,
    )
    .join_from(LoginSession, User, LoginSession.user_id == User.id)
    .where(LoginSession.secret_hash == sa.bindparam("secret_hash"))
)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def start_session(user: User, address: str, user_agent: str) -> str:
    """Record a new session of `user`; returns the secret for the cookie."""
    secret = secrets.token_urlsafe(32)
    record = LoginSession(
        user=user,
        secret_hash=secret_hash(secret),
        address=printable(address, 64),
        user_agent=printable(user_agent, 255),
    )
    db.session.add(record)
    db.session.commit()
    user.session_id = record.id
    user.session_secret = secret
    return secret


def user_for_session(secret: str) -> User | None:
    """The active user of a live session, else None, with the session's id
    and secret set on it (the Account page marks the current session; logout
    ends it). One indexed lookup; a record past its maximum age is deleted."""
    row = db.session.execute(
        _SESSION_AND_USER, {"secret_hash": secret_hash(secret)}
    ).first()
    if row is None or not row.User.active:
        return None
    user, session_id = row.User, row.id
    now = utcnow()
    max_age = timedelta(seconds=current_app.config["SESSION_MAX_AGE_SECONDS"])
    if now - row.created_at > max_age:
        db.session.execute(sa.delete(LoginSession).where(LoginSession.id == session_id))
        db.session.commit()
        return None
    if now - row.last_seen_at >= LAST_SEEN_RESOLUTION:
        db.session.execute(
            sa.update(LoginSession)
            .where(LoginSession.id == session_id)
            .values(last_seen_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    user.session_id = session_id
    user.session_secret = secret
    return user


def end_session(secret: str) -> None:
    """Log out: delete the record the cookie names."""
    db.session.execute(
        sa.delete(LoginSession).where(LoginSession.secret_hash == secret_hash(secret))
    )
    db.session.commit()


def end_session_by_id(session_id: int, owner: User | None = None) -> LoginSession:
    """End one session by its id (an admin, or its owner when `owner` is given)."""
    valid = is_valid_id(session_id)
    record = db.session.get(LoginSession, session_id) if valid else None
    if record is None or (owner is not None and record.user_id != owner.id):
        raise HeadwayError(f"no session with id {session_id}")
    db.session.delete(record)
    db.session.commit()
    return record


def end_all_sessions(user: User) -> int:
    """Delete every session of `user` (the caller commits); how many."""
    return db.session.execute(
        sa.delete(LoginSession).where(LoginSession.user_id == user.id)
    ).rowcount


def sessions_of(user: User) -> list[LoginSession]:
    return list(
        db.session.scalars(
            sa.select(LoginSession)
            .where(LoginSession.user_id == user.id)
            .order_by(LoginSession.last_seen_at.desc())
        )
    )
