"""Login accounts: the rules, shared by the CLI, the admin and the login page."""

import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from app.auth import sessions, throttle, tokens
from app.auth.passwords import MIN_PASSWORD_LENGTH, hash_password, verify_password
from app.clock import utcnow
from app.errors import HeadwayError
from app.extensions import db
from app.models.accounts import ROLES, USERNAME_KEY_MAX_LENGTH, User
from app.validation import check_name

FIRST_PASSWORD = "first-admin-password"

USERNAME_MAX_LENGTH = 64


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise HeadwayError(
            f"the password must have at least {MIN_PASSWORD_LENGTH} characters"
        )


def check_role(role: str) -> None:
    if role not in ROLES:
        raise HeadwayError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")


def username_key(username: str) -> str:
    """The canonical form of a username: NFKC, case-folded, without
    surrounding blanks. `Victim`, `VICTIM`, `victim ` and the full-width
    `ｖｉｃｔｉｍ` all name the same account; `José` and `Jose` do not. The
    database compares keys byte for byte, whatever its collation."""
    folded = unicodedata.normalize("NFKC", username).casefold()
    # Folding can undo the normalisation (Unicode's NFKC_Casefold does both).
    return unicodedata.normalize("NFKC", folded).strip()


def check_username(username: str) -> str:
    """The username as it is stored (surrounding blanks removed), if valid."""
    username = check_name(username.strip(), "the username", USERNAME_MAX_LENGTH)
    if len(username_key(username)) > USERNAME_KEY_MAX_LENGTH:
        raise HeadwayError("the username is too long once normalised")
    return username


def user_named(username: str) -> User | None:
    """The account `username` names, in any case or width."""
    return db.session.scalar(
        sa.select(User).where(User.username_key == username_key(username))
    )


def find_user(username: str) -> User:
    user = user_named(username)
    if user is None:
        raise HeadwayError(f"no user named {username!r}")
    return user


def create_user(username: str, password: str, role: str) -> User:
    username = check_username(username)
    check_role(role)
    check_password_rules(password)
    existing = user_named(username)
    if existing is not None:
        same = "" if existing.username == username else f" ({existing.username!r})"
        raise HeadwayError(f"a user named {username!r}{same} already exists")
    user = User(
        username=username,
        username_key=username_key(username),
        password_hash=hash_password(password),
        role=role,
    )
    db.session.add(user)
    db.session.commit()
    return user


@dataclass
class EndedAccess:
    """What ending a user's access took away: sessions ended, tokens revoked."""

    sessions: int = 0
    tokens: int = 0

    def describe(self, username: str) -> str:
        def count(n: int, what: str) -> str:
            return f"{n} {what}{'' if n == 1 else 's'}"

        return (
            f"{count(self.sessions, 'session')} of {username} ended and "
            f"{count(self.tokens, 'API token')} revoked."
        )


def end_access(user: User) -> EndedAccess:
    """End every session of `user` and revoke every token (the caller
    commits): after a password change, when disabled, or on request."""
    return EndedAccess(
        sessions=sessions.end_all_sessions(user),
        tokens=tokens.revoke_all_tokens(user),
    )


def set_password(user: User, password: str) -> EndedAccess:
    """Change the password; every session and token of the user ends. The
    first admin's generated password, kept in instance/ by `flask headway
    ensure-admin`, is deleted once it is no longer the password."""
    check_password_rules(password)
    forget_first_password(user)
    user.password_hash = hash_password(password)
    throttle.forget_account(user.username_key)
    return end_access(user)


def first_password_file() -> Path:
    """Where `flask headway ensure-admin` keeps a generated first password:
    instance/first-admin-password (FIRST_PASSWORD_FILE elsewhere: tests)."""
    configured = current_app.config.get("FIRST_PASSWORD_FILE")
    return Path(configured or Path(current_app.instance_path) / FIRST_PASSWORD)


def forget_first_password(user: User) -> None:
    """Delete the kept first password when it is `user`'s (which is about to
    change)."""
    kept = first_password_file()
    if not user.password_hash:
        return  # a new account: not the first admin's password
    try:
        if verify_password(user.password_hash, kept.read_text().strip()):
            kept.unlink()
    except OSError:
        pass  # no file (the usual case), or not ours to read


def log_out_everywhere(user: User) -> EndedAccess:
    return end_access(user)


def set_role(user: User, role: str) -> None:
    check_role(role)
    user.role = role
    ensure_an_admin_remains(user)


def disable(user: User) -> EndedAccess:
    user.active = False
    ensure_an_admin_remains(user)
    return end_access(user)


def ensure_an_admin_remains(user: User) -> None:
    """Before a change to `user` is committed: refuse it if no active admin
    would be left. The admins' rows stay locked until the caller's transaction
    ends, so that two concurrent demotions are checked one after the other
    (each alone would leave an admin; together, none)."""
    if user.role == "admin" and user.active:
        return
    with db.session.no_autoflush:  # the pending change is written after the lock
        admins = _lock_active_admins()
    if not admins - {user.id}:
        raise HeadwayError(
            f"{user.username!r} is the last active admin, and there must remain "
            "at least one active admin: make another admin first"
        )


def _lock_active_admins() -> set[int]:
    """The ids of the active admins as committed now, locked until the end of
    the transaction (a locking read sees the latest commit, not the snapshot
    the transaction started with)."""
    if db.session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks and ignores FOR UPDATE: a write takes the
        # database's write lock first, so a concurrent check waits until this
        # transaction ends.
        db.session.execute(
            sa.update(User)
            .where(User.role == "admin")
            .values(role=User.role)
            .execution_options(synchronize_session=False)
        )
    return set(
        db.session.scalars(
            sa.select(User.id)
            .where(User.role == "admin", User.active.is_(True))
            .order_by(User.id)
            .with_for_update()
        )
    )


def has_active_admin() -> bool:
    return (
        db.session.scalar(
            sa.select(User.id).where(User.role == "admin", User.active.is_(True))
        )
        is not None
    )


# Login


def _dummy_hash() -> str:
    """A hash to verify against when the user does not exist, made with the
    same cost as real ones, so that an unknown name costs the same work."""
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
    otherwise None, the same for every reason. Raises throttle.TooManyAttempts
    when the address, or the account as a whole, must wait.

    An unknown name goes through the same statements and the same hash check
    as a known one with a wrong password: neither the answer nor the time
    tells them apart.

    The throttle counts per account, whatever case or width the name was
    typed in: by the account's key, or an unknown name's canonical form
    (cut to the key's length: no account has a longer one)."""
    now = utcnow()
    key = username_key(username)[:USERNAME_KEY_MAX_LENGTH]
    pair_locked = throttle.check(key, address, now)
    user = db.session.scalar(sa.select(User).where(User.username_key == key))
    password_ok = verify_password(
        user.password_hash if user is not None else _dummy_hash(), password
    )
    if password_ok and user is not None and user.active and not pair_locked:
        throttle.forget(key, address)
        user.last_login_at = now
        db.session.commit()
        return user
    throttle.record_failure(key, address, now)
    return None


def confirm_password(user: User, password: str, address: str) -> bool:
    """A logged-in user re-entering the password (to create an API token or
    change the password): throttled and counted like a login. Raises
    throttle.TooManyAttempts when the account or address must wait."""
    now = utcnow()
    pair_locked = throttle.check(user.username_key, address, now)
    if verify_password(user.password_hash, password) and not pair_locked:
        return True
    throttle.record_failure(user.username_key, address, now)
    return False
