"""Headway's accounts: users, their API tokens and failed logins."""

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models.own import utcnow

ROLES = ("viewer", "operator", "admin")


class User(db.Model):
    __tablename__ = "headway_users"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    username: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(255))
    role: so.Mapped[str] = so.mapped_column(sa.String(16), default="viewer")
    active: so.Mapped[bool] = so.mapped_column(default=True)
    # Part of the login session id: rotating it ends every existing session.
    session_token: so.Mapped[str] = so.mapped_column(sa.String(64))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    last_login_at: so.Mapped[datetime | None]
    failed_logins: so.Mapped[int] = so.mapped_column(default=0)
    # Start of the window in which failed_logins are counted.
    first_failed_at: so.Mapped[datetime | None]
    locked_until: so.Mapped[datetime | None]

    tokens: so.Mapped[list["ApiToken"]] = so.relationship(back_populates="user")

    # Flask-Login
    is_anonymous = False

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        # The session carries the token too: rotating it ends every session.
        return f"{self.id}:{self.session_token}"

    def has_role(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    def __repr__(self) -> str:
        return f"<User {self.username} ({self.role})>"


class LoginFailures(db.Model):
    """Failed logins per client address, in the database so that every
    gunicorn worker counts the same."""

    __tablename__ = "headway_login_failures"

    address: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    failures: so.Mapped[int] = so.mapped_column(default=0)
    window_start: so.Mapped[datetime] = so.mapped_column(default=utcnow)


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
    last_used_at: so.Mapped[datetime | None]
    revoked_at: so.Mapped[datetime | None]

    user: so.Mapped[User] = so.relationship(back_populates="tokens")
