"""Headway's accounts: users, their login sessions, API tokens and failed
logins."""

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects import mysql

from app.clock import utcnow
from app.extensions import db

ROLES = ("viewer", "operator", "admin")

# The longest canonical username (app/auth/accounts.py username_key): NFKC and
# case folding can make a 64-character name longer.
USERNAME_KEY_MAX_LENGTH = 255


def binary_string(length: int) -> sa.String:
    """A string compared byte for byte on every dialect. MySQL's and MariaDB's
    usual collations (utf8mb4_general_ci, uca1400_ai_ci) make 'José' equal
    'jose ' and 'JOSE': only a binary collation is unambiguous."""
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"),
        "mysql",
        "mariadb",
    )


def role_at_least(role: str, needed: str) -> bool:
    """Whether `role` may do what `needed` may (the roles are ordered)."""
    return ROLES.index(role) >= ROLES.index(needed)


class User(db.Model):
    __tablename__ = "headway_users"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    # As typed at creation; binary, so that its unique index does not refuse
    # `jose` beside `José` (username_key keeps them apart too).
    username: so.Mapped[str] = so.mapped_column(binary_string(64), unique=True)
    # The name as accounts are looked up and throttled: one per account
    # (app/auth/accounts.py username_key).
    username_key: so.Mapped[str] = so.mapped_column(
        binary_string(USERNAME_KEY_MAX_LENGTH), unique=True
    )
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(255))
    role: so.Mapped[str] = so.mapped_column(sa.String(16), default="viewer")
    active: so.Mapped[bool] = so.mapped_column(default=True)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    last_login_at: so.Mapped[datetime | None]

    tokens: so.Mapped[list["ApiToken"]] = so.relationship(
        back_populates="user", passive_deletes=True
    )
    sessions: so.Mapped[list["LoginSession"]] = so.relationship(
        back_populates="user", passive_deletes=True
    )

    # Flask-Login
    is_anonymous = False
    # The login session a browser's request runs in (app/auth/sessions.py
    # user_for_session); None for a bearer token. The secret is never stored:
    # the database keeps only its hash.
    session_secret = None
    session_id = None

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str | None:
        # What Flask-Login keeps in the session cookie: the secret naming the
        # server-side session record, not the user id.
        return self.session_secret

    def has_role(self, role: str) -> bool:
        return role_at_least(self.role, role)

    def __repr__(self) -> str:
        return f"<User {self.username} ({self.role})>"


class LoginSession(db.Model):
    """A logged-in browser session. The cookie carries a secret whose SHA-256
    names the record; deleting the record ends the session on the server."""

    __tablename__ = "headway_sessions"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    secret_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    user_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("headway_users.id", ondelete="CASCADE"), index=True
    )
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    last_seen_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    address: so.Mapped[str] = so.mapped_column(sa.String(64), default="")
    user_agent: so.Mapped[str] = so.mapped_column(sa.String(255), default="")

    user: so.Mapped[User] = so.relationship(back_populates="sessions")


# To the microsecond on MySQL/MariaDB too (DATETIME alone keeps whole
# seconds): a delay of 1 s after a failure must not end before it began.
PreciseDateTime = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


class LoginFailures(db.Model):
    """Failed logins within a window, in the database so that every gunicorn
    worker counts the same. One row per client address (scope "address"), per
    account (scope "account"), and per account and address (scope "pair"); the
    unused key part is "". An account is named by its username_key, an
    unknown name by the same canonical form."""

    __tablename__ = "headway_login_failures"

    scope: so.Mapped[str] = so.mapped_column(sa.String(8), primary_key=True)
    username: so.Mapped[str] = so.mapped_column(
        binary_string(USERNAME_KEY_MAX_LENGTH), primary_key=True
    )
    address: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    failures: so.Mapped[int] = so.mapped_column(default=0)
    window_start: so.Mapped[datetime] = so.mapped_column(
        PreciseDateTime, default=utcnow
    )
    last_failed_at: so.Mapped[datetime] = so.mapped_column(
        PreciseDateTime, default=utcnow, index=True
    )
    # Scope "pair" only: the account may not log in from the address until then.
    locked_until: so.Mapped[datetime | None] = so.mapped_column(PreciseDateTime)


class ApiToken(db.Model):
    __tablename__ = "headway_api_tokens"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("headway_users.id", ondelete="CASCADE"), index=True
    )
    name: so.Mapped[str] = so.mapped_column(sa.String(64), default="")
    # SHA-256 of the token; the token itself is shown once and never stored.
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    expires_at: so.Mapped[datetime]
    last_used_at: so.Mapped[datetime | None]
    revoked_at: so.Mapped[datetime | None]

    user: so.Mapped[User] = so.relationship(back_populates="tokens")

    def is_live(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now
