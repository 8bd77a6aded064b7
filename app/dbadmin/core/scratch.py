"""Scratch databases: where a revision's schema is built, to compare with.

On SQLite a temporary file; on MySQL/MariaDB a temporary database on the same
server, named with SCRATCH_DATABASE_PREFIX, so the login needs CREATE and DROP
(and the DDL privileges the migrations use) on databases with that prefix.

A process killed while it builds (a job SIGKILLed, a lost connection) cannot
drop its scratch database, so each one says whose it is:

- its name is `{prefix}{owner}_{created}_{random}`, owner `j<job id>` in a
  console job's process, else `p<pid>`, created the Unix time in base 36;
- its owner holds a named lock (GET_LOCK, scratch_lock_name) on a connection
  of its own from before the database is created until after it is dropped.
  The server frees the lock when that session ends, however the process ended.

A scratch database whose lock is free and which is older than
SCRATCH_GRACE_SECONDS has lost its owner: the next job, verify or adopt on the
server drops it (drop_stale_scratch_databases). One whose lock is held is in
use, whoever holds it (another host, another test run on the same server);
names of another form are left alone.
"""

import hashlib
import os
import re
import secrets
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy.engine import Engine

from app.dbadmin.core.alembic_env import (
    ALEMBIC_LOCK,
    alembic_config,
    inside_a_running_migration,
    quiet_alembic,
    upgrade_steps,
)
from app.errors import HeadwayError


class ScratchUnavailable(HeadwayError):
    """The login may not create the scratch database (the grant is missing)."""


_owner: str | None = None


def set_scratch_owner(label: str) -> None:
    """Name this process's scratch databases after `label` (a job: "j12")."""
    global _owner
    _owner = label


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, digit = divmod(number, 36)
        text = digits[digit] + text
        if not number:
            return text


def new_scratch_name(prefix: str) -> str:
    owner = _owner or f"p{os.getpid()}"
    return f"{prefix}{owner}_{_base36(int(time.time()))}_{secrets.token_hex(3)}"


def scratch_lock_name(name: str) -> str:
    # A digest: MySQL limits lock names to 64 characters, and the prefix is
    # the operator's.
    return "headway.scratch." + hashlib.sha1(name.encode()).hexdigest()


@dataclass(frozen=True)
class ScratchName:
    name: str
    owner: str  # "j12" (job 12) or "p345" (process 345)
    created: int  # Unix time

    def describe(self) -> str:
        kind, number = self.owner[0], self.owner[1:]
        return f"job #{number}" if kind == "j" else f"process {number}"


def parse_scratch_name(prefix: str, name: str) -> ScratchName | None:
    match = re.fullmatch(
        re.escape(prefix) + r"([jp]\d+)_([0-9a-z]{1,13})_[0-9a-f]{6}", name
    )
    if match is None:
        return None
    return ScratchName(name, match.group(1), int(match.group(2), 36))


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
    return escaped + "%"


def drop_stale_scratch_databases(live: Engine) -> list[ScratchName]:
    """Drop the scratch databases on `live`'s server whose owner is gone (lock
    free, older than the grace period); the ones dropped. Those this login
    cannot see or drop are left, without an error: cleaning up must never
    stop the work that asked for it."""
    if live.dialect.name != "mysql":
        return []
    prefix = current_app.config["SCRATCH_DATABASE_PREFIX"]
    grace = current_app.config["SCRATCH_GRACE_SECONDS"]
    dropped = []
    with live.connect() as conn:
        names = conn.execute(
            sa.text("SHOW DATABASES LIKE :pattern"), {"pattern": _like_prefix(prefix)}
        ).scalars()
        for scratch in filter(None, (parse_scratch_name(prefix, n) for n in names)):
            if time.time() - scratch.created < grace:
                continue
            holder = conn.execute(
                sa.text("SELECT IS_USED_LOCK(:lock)"),
                {"lock": scratch_lock_name(scratch.name)},
            ).scalar()
            if holder is not None:
                continue  # its owner is alive
            try:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{scratch.name}`")
            except sa.exc.DBAPIError:
                continue
            dropped.append(scratch)
    return dropped


@contextmanager
def scratch_engine(live: Engine) -> Iterator[Engine]:
    """An empty database of the live one's dialect, dropped afterwards."""
    dialect = live.dialect.name
    if dialect == "sqlite":
        fd, path = tempfile.mkstemp(prefix="headway-scratch-", suffix=".db")
        os.close(fd)
        engine = sa.create_engine(f"sqlite:///{path}", poolclass=sa.pool.NullPool)
        try:
            yield engine
        finally:
            engine.dispose()
            os.unlink(path)
    elif dialect == "mysql":
        prefix = current_app.config["SCRATCH_DATABASE_PREFIX"]
        name = new_scratch_name(prefix)
        # The owner's lock, on a connection of its own (a pooled one would
        # keep it after its return), taken before the database exists.
        owner = sa.create_engine(live.url, poolclass=sa.pool.NullPool)
        with owner.connect() as held:
            held.execute(
                sa.text("SELECT GET_LOCK(:lock, 0)"), {"lock": scratch_lock_name(name)}
            )
            drop_stale_scratch_databases(live)
            with _mysql_scratch(live, prefix, name) as engine:
                yield engine
            held.execute(
                sa.text("SELECT RELEASE_LOCK(:lock)"), {"lock": scratch_lock_name(name)}
            )
        owner.dispose()
    else:
        raise HeadwayError(
            f"verifying a {dialect} database is not supported "
            "(Headway supports MySQL/MariaDB and SQLite)"
        )


@contextmanager
def _mysql_scratch(live: Engine, prefix: str, name: str) -> Iterator[Engine]:
    with live.connect() as conn:
        charset, collation = conn.execute(
            sa.text(
                "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME "
                "FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()"
            )
        ).one()
        try:
            conn.exec_driver_sql(
                f"CREATE DATABASE `{name}` CHARACTER SET {charset} COLLATE {collation}"
            )
        except sa.exc.DBAPIError as exc:
            pattern = prefix.replace("_", "\\_") + "%"
            raise ScratchUnavailable(
                f"cannot create the scratch database `{name}` that holds a "
                f"revision's schema ({exc.orig}); grant this login CREATE, "
                "DROP and the migrations' DDL privileges there: "
                f"GRANT ALL ON `{pattern}`.* TO '{live.url.username}'@'...'"
            ) from None
    engine = sa.create_engine(live.url.set(database=name), poolclass=sa.pool.NullPool)
    try:
        yield engine
    finally:
        engine.dispose()
        with live.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")


def upgrade_to(
    engine: Engine, revisions: tuple[str, ...], script: ScriptDirectory | None = None
) -> None:
    """Run the user's migrations on `engine` until it stands at `revisions`.
    Callers building many revisions pass one `script` (parsing every revision
    file once, not once per build)."""
    # Quiet: these steps run on a scratch database, not on the user's.
    with ALEMBIC_LOCK, quiet_alembic(), inside_a_running_migration():
        _upgrade(engine, revisions, script)


def _upgrade(engine: Engine, revisions, script: ScriptDirectory | None) -> None:
    with engine.connect() as conn:
        config = alembic_config(connection=conn, configure_logger=False)
        script = script or ScriptDirectory.from_config(config)
        for rev in revisions:
            # What `alembic upgrade REV` does, with the scripts already parsed.
            def steps(heads, context, rev=rev):
                return upgrade_steps(script, rev, heads)

            with EnvironmentContext(config, script, fn=steps, destination_rev=rev):
                script.run_env()
        conn.commit()
