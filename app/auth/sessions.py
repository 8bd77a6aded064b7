"""Server-side login sessions: the cookie carries a secret, the database a
record named by its SHA-256. Logging out deletes the record, so a copied
cookie stops working at once."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app.errors import HeadwayError
from app.extensions import db
from app.models.accounts import LoginSession, User, role_at_least
from app.models.own import utcnow
from app.validation import is_valid_id, printable

# last_seen_at is written at most this often: not a write on every request.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


@dataclass(eq=False)
class SessionUser:
    """The user of a live login session, as a request needs it (Flask-Login's
    current_user): read with the session check in one plain row. Loading the
    account and its session as entities costs three times the query, on every
    request; the pages that change the account load it (account())."""

    id: int
    username: str
    role: str
    session_id: int
    session_secret: str

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        # What Flask-Login keeps in the cookie: the secret naming the record.
        return self.session_secret

    def has_role(self, role: str) -> bool:
        return role_at_least(self.role, role)


def account(user: SessionUser | User) -> User:
    """The account of the signed-in user, as an entity (to change it, or to
    check its password): a bearer token's user is one already."""
    if isinstance(user, User):
        return user
    return db.session.get(User, user.id)


# Every request of a logged-in user runs it: built once (building a statement
# and its cache key costs more than running it), run on the session's
# connection as plain Core (no ORM execution, no entities).
_sessions = LoginSession.__table__
_users = User.__table__
_SESSION_AND_USER = (
    sa.select(
        _sessions.c.id,
        _sessions.c.created_at,
        _sessions.c.last_seen_at,
        _users.c.id.label("user_id"),
        _users.c.username,
        _users.c.role,
        _users.c.active,
    )
    .join_from(_sessions, _users, _sessions.c.user_id == _users.c.id)
    .where(_sessions.c.secret_hash == sa.bindparam("secret_hash"))
)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def start_session(user: User, address: str, user_agent: str) -> str:
    """Record a new session of `user`; returns the secret for the cookie."""
    secret = secrets.token_urlsafe(32)
    db.session.add(
        LoginSession(
            user=user,
            secret_hash=secret_hash(secret),
            address=printable(address, 64),
            user_agent=printable(user_agent, 255),
        )
    )
    db.session.commit()
    user.session_secret = secret
    return secret


def user_for_session(secret: str) -> SessionUser | None:
    """The active user of a live session, else None. One indexed lookup (the
    user joined in); a record past its maximum age is deleted."""
    connection = db.session.connection()
    row = connection.execute(
        _SESSION_AND_USER, {"secret_hash": secret_hash(secret)}
    ).first()
    if row is None or not row.active:
        return None
    now = utcnow()
    max_age = timedelta(seconds=current_app.config["SESSION_MAX_AGE_SECONDS"])
    if now - row.created_at > max_age:
        connection.execute(sa.delete(_sessions).where(_sessions.c.id == row.id))
        db.session.commit()
        return None
    if now - row.last_seen_at >= LAST_SEEN_RESOLUTION:
        connection.execute(
            sa.update(_sessions)
            .where(_sessions.c.id == row.id)
            .values(last_seen_at=now)
        )
        db.session.commit()
    return SessionUser(row.user_id, row.username, row.role, row.id, secret)


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
