"""Login accounts and API tokens: the rules, shared by the CLI, the admin and
the login page."""

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from app.auth.passwords import MIN_PASSWORD_LENGTH, hash_password, verify_password
from app.errors import HeadwayError
from app.extensions import db
from app.models.accounts import ROLES, ApiToken, LoginFailures, User
from app.models.own import utcnow

TOKEN_PREFIX = "hw_"


class TooManyAttempts(HeadwayError):
    """This client address failed to log in too often; it must wait."""


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise HeadwayError(
            f"the password must have at least {MIN_PASSWORD_LENGTH} characters"
        )


def check_role(role: str) -> None:
    if role not in ROLES:
        raise HeadwayError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")


def new_session_token() -> str:
    return secrets.token_hex(16)


def find_user(username: str) -> User:
    user = db.session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        raise HeadwayError(f"no user named {username!r}")
    return user


def create_user(username: str, password: str, role: str) -> User:
    username = username.strip()
    if not username:
        raise HeadwayError("the username must not be empty")
    if len(username) > 64:
        raise HeadwayError("the username must have at most 64 characters")
    check_role(role)
    check_password_rules(password)
    if db.session.scalar(sa.select(User.id).where(User.username == username)):
        raise HeadwayError(f"a user named {username!r} already exists")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        session_token=new_session_token(),
    )
    db.session.add(user)
    db.session.commit()
    return user


def set_password(user: User, password: str) -> None:
    """Change the password; every existing session of the user ends."""
    check_password_rules(password)
    user.password_hash = hash_password(password)
    user.session_token = new_session_token()
    user.failed_logins = 0
    user.first_failed_at = None
    user.locked_until = None


def log_out_everywhere(user: User) -> None:
    user.session_token = new_session_token()


def set_role(user: User, role: str) -> None:
    check_role(role)
    user.role = role
    ensure_an_admin_remains(user)


def disable(user: User) -> None:
    user.active = False
    user.session_token = new_session_token()
    ensure_an_admin_remains(user)


def ensure_an_admin_remains(user: User) -> None:
    """After a change to `user`: refuse it if no active admin would be left.
    (The caller's transaction is not committed when this raises.)"""
    if user.role == "admin" and user.active:
        return
    others = db.session.scalar(
        sa.select(sa.func.count(User.id)).where(
            User.role == "admin", User.active.is_(True), User.id != user.id
        )
    )
    if not others:
        raise HeadwayError(
            f"{user.username!r} is the last active admin, and there must remain "
            "at least one active admin: make another admin first"
        )


def has_active_admin() -> bool:
    return (
        db.session.scalar(
            sa.select(User.id).where(User.role == "admin", User.active.is_(True))
        )
        is not None
    )


# Login, with lock-out per account and a limit per client address.


def _dummy_hash() -> str:
    """A hash to verify against when the user does not exist, so that an
    unknown name costs the same time as a wrong password."""
    cache = current_app.extensions.setdefault("headway_dummy_hash", {})
    key = (
        current_app.config["ARGON2_TIME_COST"],
        current_app.config["ARGON2_MEMORY_COST"],
    )
    if key not in cache:
        cache[key] = hash_password(secrets.token_hex(16))
    return cache[key]


def authenticate(username: str, password: str, address: str) -> User | None:
    """The user, when the password is right and the account may log in now;
    otherwise None, the same for every reason. Raises TooManyAttempts when the
    client address is over its limit."""
    config = current_app.config
    now = utcnow()
    _check_address(address, now)
    user = db.session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        verify_password(_dummy_hash(), password)
        _record_address_failure(address, now)
        return None
    password_ok = verify_password(user.password_hash, password)
    locked = user.locked_until is not None and user.locked_until > now
    if password_ok and user.active and not locked:
        user.failed_logins = 0
        user.first_failed_at = None
        user.locked_until = None
        user.last_login_at = now
        db.session.commit()
        return user
    if not locked:
        _record_user_failure(user, now, config)
    _record_address_failure(address, now)
    return None


def _record_user_failure(user: User, now: datetime, config) -> None:
    window_start = now - timedelta(seconds=config["LOGIN_WINDOW_SECONDS"])
    expired = sa.or_(
        User.first_failed_at.is_(None), User.first_failed_at < window_start
    )
    # One atomic UPDATE: concurrent failures in several workers all count.
    db.session.execute(
        sa.update(User)
        .where(User.id == user.id)
        .values(
            failed_logins=sa.case((expired, 1), else_=User.failed_logins + 1),
            first_failed_at=sa.case((expired, now), else_=User.first_failed_at),
        )
    )
    db.session.commit()
    db.session.refresh(user)
    if user.failed_logins >= config["LOGIN_MAX_FAILURES"]:
        user.locked_until = now + timedelta(seconds=config["LOGIN_LOCK_SECONDS"])
        user.failed_logins = 0
        user.first_failed_at = None
        db.session.commit()


def _check_address(address: str, now: datetime) -> None:
    config = current_app.config
    row = db.session.get(LoginFailures, address)
    window = timedelta(seconds=config["LOGIN_WINDOW_SECONDS"])
    if (
        row is not None
        and row.window_start > now - window
        and row.failures >= config["LOGIN_MAX_ADDRESS_FAILURES"]
    ):
        raise TooManyAttempts(
            "too many failed logins from this address; try again later"
        )


def _record_address_failure(address: str, now: datetime) -> None:
    window_start = now - timedelta(seconds=current_app.config["LOGIN_WINDOW_SECONDS"])
    table = LoginFailures.__table__
    updated = db.session.execute(
        sa.update(table)
        .where(table.c.address == address)
        .values(
            failures=sa.case(
                (table.c.window_start < window_start, 1), else_=table.c.failures + 1
            ),
            window_start=sa.case(
                (table.c.window_start < window_start, now), else_=table.c.window_start
            ),
        )
    ).rowcount
    if not updated:
        try:
            db.session.execute(
                sa.insert(table).values(address=address, failures=1, window_start=now)
            )
        except sa.exc.IntegrityError:
            # Another worker inserted it first: count this one there.
            db.session.rollback()
            return _record_address_failure(address, now)
    db.session.commit()


# API tokens: only their SHA-256 is stored.


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User, name: str = "") -> tuple[ApiToken, str]:
    """A new token for `user`; the token text is returned once, never stored."""
    if len(name) > 64:
        raise HeadwayError("the token name must have at most 64 characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(user=user, name=name, token_hash=_token_hash(token))
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
    if record is None or record.revoked_at is not None or not record.user.active:
        return None
    # The lookup is by hash; compare again in constant time all the same.
    if not hmac.compare_digest(record.token_hash, _token_hash(token)):
        return None
    now = utcnow()
    # Recorded to the minute: not a write on every request.
    if record.last_used_at is None or now - record.last_used_at > timedelta(minutes=1):
        record.last_used_at = now
        db.session.commit()
    return record.user


def revoke_token(token_id: int, owner: User | None = None) -> ApiToken:
    record = db.session.get(ApiToken, token_id)
    if record is None or (owner is not None and record.user_id != owner.id):
        raise HeadwayError(f"no API token with id {token_id}")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        db.session.commit()
    return record
