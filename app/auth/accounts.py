"""Creating and looking up login accounts; shared by the CLI and the web."""

import secrets

import sqlalchemy as sa

from app.auth.passwords import MIN_PASSWORD_LENGTH, hash_password
from app.errors import HeadwayError
from app.extensions import db
from app.models.headway import ROLES, User


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise HeadwayError(
            f"the password must have at least {MIN_PASSWORD_LENGTH} characters"
        )


def create_user(username: str, password: str, role: str) -> User:
    username = username.strip()
    if not username:
        raise HeadwayError("the username must not be empty")
    if role not in ROLES:
        raise HeadwayError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    check_password_rules(password)
    if db.session.scalar(sa.select(User.id).where(User.username == username)):
        raise HeadwayError(f"a user named {username!r} already exists")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        session_token=secrets.token_hex(16),
    )
    db.session.add(user)
    db.session.commit()
    return user


def has_active_admin() -> bool:
    return (
        db.session.scalar(
            sa.select(User.id).where(User.role == "admin", User.active.is_(True))
        )
        is not None
    )
