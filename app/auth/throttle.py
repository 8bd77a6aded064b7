"""Failed logins, counted in the database so that every gunicorn worker
agrees, in three ways:

- per client address: too many failures and the address must wait (429);
- per account and address: too many failures lock that pair, so an
  attacker locks out only themselves, never the account's owner elsewhere;
- per account as a whole: failures beyond a free allowance bring
  progressively longer delays (1 s, 2 s, 4 s ... up to a cap), never a lock.

The `username` given to these functions is the account's username_key
(app/auth/accounts.py): `VICTIM` and `victim ` count as `victim`. Unknown
names are counted exactly like known ones: the work and the answers tell
nothing about which accounts exist.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import mysql, sqlite

from app.errors import HeadwayError
from app.extensions import db
from app.models.accounts import LoginFailures

ADDRESS, ACCOUNT, PAIR = "address", "account", "pair"


class TooManyAttempts(HeadwayError):
    """This address, or this account as a whole, must wait before trying again."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Key:
    scope: str
    username: str = ""
    address: str = ""

    def where(self):
        return sa.and_(
            LoginFailures.scope == self.scope,
            LoginFailures.username == self.username,
            LoginFailures.address == self.address,
        )


def _keys(username: str, address: str) -> tuple[Key, Key, Key]:
    return (
        Key(ADDRESS, address=address),
        Key(ACCOUNT, username=username),
        Key(PAIR, username=username, address=address),
    )


def _seconds(name: str) -> timedelta:
    return timedelta(seconds=current_app.config[name])


def account_delay(failures: int) -> int:
    """Seconds an account must wait after its last failure, given its count."""
    config = current_app.config
    over = failures - config["LOGIN_ACCOUNT_FREE_FAILURES"]
    if over < 0:
        return 0
    return min(2**over, config["LOGIN_ACCOUNT_MAX_DELAY_SECONDS"])


def check(username: str, address: str, now: datetime) -> bool:
    """Before a login is tried. Raises TooManyAttempts when the address or the
    account must wait; returns whether the (account, address) pair is locked.
    One query, whoever the account is."""
    config = current_app.config
    window_start = now - _seconds("LOGIN_WINDOW_SECONDS")
    keys = _keys(username, address)
    rows = {
        Key(r.scope, r.username, r.address): r
        for r in db.session.scalars(
            sa.select(LoginFailures).where(sa.or_(*(k.where() for k in keys)))
        )
    }
    by_address, by_account, by_pair = (rows.get(k) for k in keys)
    if (
        by_address is not None
        and by_address.window_start > window_start
        and by_address.failures >= config["LOGIN_MAX_ADDRESS_FAILURES"]
    ):
        wait = by_address.window_start - window_start
        raise TooManyAttempts(
            "too many failed logins from this address; try again later",
            math.ceil(wait.total_seconds()),
        )
    if by_account is not None and by_account.window_start > window_start:
        retry_at = by_account.last_failed_at + timedelta(
            seconds=account_delay(by_account.failures)
        )
        if retry_at > now:
            wait = math.ceil((retry_at - now).total_seconds())
            raise TooManyAttempts(
                "too many failed logins for this account; "
                f"try again in {wait} second{'s' if wait != 1 else ''}",
                wait,
            )
    return (
        by_pair is not None
        and by_pair.locked_until is not None
        and by_pair.locked_until > now
    )


def record_failure(username: str, address: str, now: datetime) -> None:
    """Count a failed login for the address, the account and the pair; lock
    the pair when it reaches LOGIN_MAX_FAILURES within the window."""
    config = current_app.config
    window_start = now - _seconds("LOGIN_WINDOW_SECONDS")
    lock_until = now + _seconds("LOGIN_LOCK_SECONDS")
    table = LoginFailures.__table__
    expired = table.c.window_start <= window_start
    reaches_limit = sa.and_(
        sa.not_(expired), table.c.failures + 1 >= config["LOGIN_MAX_FAILURES"]
    )
    for key in _keys(username, address):
        # One atomic upsert per key: concurrent failures in several workers all
        # count. MySQL assigns from left to right, each assignment seeing the
        # ones before, so locked_until comes first and window_start last: every
        # expression then reads the row's old values, as on SQLite.
        assignments = []
        if key.scope == PAIR:
            assignments.append(
                (
                    "locked_until",
                    sa.case((reaches_limit, lock_until), else_=table.c.locked_until),
                )
            )
        assignments += [
            ("failures", sa.case((expired, 1), else_=table.c.failures + 1)),
            ("last_failed_at", now),
            ("window_start", sa.case((expired, now), else_=table.c.window_start)),
        ]
        first = dict(
            scope=key.scope,
            username=key.username,
            address=key.address,
            failures=1,
            window_start=now,
            last_failed_at=now,
            locked_until=lock_until
            if key.scope == PAIR and config["LOGIN_MAX_FAILURES"] <= 1
            else None,
        )
        db.session.execute(_upsert(first, assignments))
    # Rows whose window and lock are both over are of no more use.
    stale = now - max(_seconds("LOGIN_WINDOW_SECONDS"), _seconds("LOGIN_LOCK_SECONDS"))
    db.session.execute(sa.delete(table).where(table.c.last_failed_at < stale))
    db.session.commit()


def _upsert(values: dict, assignments: list):
    """INSERT `values`, or apply `assignments` (in order) to the existing row."""
    table = LoginFailures.__table__
    if db.session.get_bind().dialect.name in ("mysql", "mariadb"):
        return mysql.insert(table).values(values).on_duplicate_key_update(assignments)
    return (
        sqlite.insert(table)
        .values(values)
        .on_conflict_do_update(
            index_elements=[c.name for c in table.primary_key], set_=dict(assignments)
        )
    )


def forget(username: str, address: str) -> None:
    """After a successful login: the account's and the pair's counts start
    afresh (the address keeps its count)."""
    _, account, pair = _keys(username, address)
    db.session.execute(
        sa.delete(LoginFailures).where(sa.or_(account.where(), pair.where()))
    )


def forget_account(username: str) -> None:
    """After a password change: no delay or lock left on the account."""
    db.session.execute(
        sa.delete(LoginFailures).where(
            LoginFailures.username == username,
            LoginFailures.scope.in_((ACCOUNT, PAIR)),
        )
    )
