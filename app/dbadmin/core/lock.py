"""The one migration lock, taken by migrations/env.py on the connection that
runs the migration, so that the console's jobs, `flask db upgrade` in a shell
and deploy scripts exclude each other across workers and hosts.

MySQL/MariaDB: GET_LOCK on that connection, released explicitly (a pooled
connection would keep it) and by the server when the session dies, SIGKILL
included. SQLite: an flock on a file beside the database, released by the OS
when the process dies. Who holds it is written down beside it (a row in
headway_migration_lock, or the lock file) so that a refused caller can say who
and since when.
"""

import fcntl
import getpass
import hashlib
import json
import math
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from app.errors import HeadwayError

HOLDER_TABLE = "headway_migration_lock"
# The lock of a whole release or adoption (decide, stamp, upgrade), taken
# before the migration lock and held around it.
RELEASE_LOCK = "release"


class LockHeld(HeadwayError):
    """Another migration holds the lock."""

    def __init__(self, holder: str | None) -> None:
        self.holder = holder
        super().__init__(
            "another migration is running"
            + (f": {holder}" if holder else "")
            + "; try again when it has finished"
        )


def os_user() -> str:
    """The OS user@host of this process: recorded with every audited step."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        user = f"uid {os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def shell_actor() -> str:
    """Who runs a migration from a shell: the OS user@host, always. Nothing in
    the environment can name a console user or a job: only a job's process,
    after proving the console started it, acts for its user (jobs/runner.py)."""
    return os_user()


def holder_description(actor: str, job_id: int | None = None) -> str:
    who = f"job #{job_id} for {actor}" if job_id else actor
    since = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{who} (pid {os.getpid()} on {socket.gethostname()}) since {since}"


def mysql_lock_name(connection: Connection, purpose: str = "migrate") -> str:
    # One lock per database; MySQL allows 64 characters.
    database = connection.exec_driver_sql("SELECT DATABASE()").scalar() or ""
    name = f"headway.{purpose}.{database}"
    if len(name) > 64:
        digest = hashlib.sha256(database.encode()).hexdigest()[:40]
        name = f"headway.{purpose}.{digest}"
    return name


def sqlite_lock_path(connection: Connection, purpose: str = "migrate") -> Path | None:
    database = connection.engine.url.database
    if not database or database == ":memory:":
        return None  # a private database: nobody else can migrate it
    return Path(database).with_name(f"{Path(database).name}.{purpose}-lock")


@contextmanager
def migration_lock(
    connection: Connection,
    wait: float = 0,
    purpose: str = "migrate",
    holder: str | None = None,
) -> Iterator[None]:
    """Hold the migration lock for this database, or raise LockHeld (after
    waiting up to `wait` seconds). Another `purpose` is another lock (the
    console serialises the start of jobs with "claim"). `holder` says who
    holds it, for those refused (default: this shell's user)."""
    holder = holder or holder_description(shell_actor())
    dialect = connection.dialect.name
    if dialect == "mysql":
        with _mysql_lock(connection, wait, purpose, holder):
            yield
    elif dialect == "sqlite":
        path = sqlite_lock_path(connection, purpose)
        if path is None:
            yield
        else:
            with _file_lock(path, wait, holder):
                yield
    else:
        raise HeadwayError(f"no migration lock for {dialect} databases")


@contextmanager
def _mysql_lock(
    connection: Connection, wait: float, purpose: str, holder: str
) -> Iterator[None]:
    name = mysql_lock_name(connection, purpose)
    got = connection.execute(
        sa.text("SELECT GET_LOCK(:name, :wait)"), {"name": name, "wait": wait}
    ).scalar()
    if got != 1:
        connection.rollback()
        raise LockHeld(_mysql_holder(connection, name))
    try:
        _write_holder_row(connection, name, holder)
        # GET_LOCK is not transactional; committing lets Alembic begin its own.
        connection.commit()
        yield
    finally:
        if not connection.invalidated:
            connection.rollback()
            connection.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": name})
            connection.commit()


def _write_holder_row(connection: Connection, name: str, holder: str) -> None:
    if not sa.inspect(connection).has_table(HOLDER_TABLE):
        return  # Headway's tables are not set up: the holder stays unnamed
    table = sa.table(HOLDER_TABLE, sa.column("name"), sa.column("holder"))
    connection.execute(sa.delete(table).where(table.c.name == name))
    connection.execute(sa.insert(table).values(name=name, holder=holder))


def _mysql_holder(connection: Connection, name: str) -> str | None:
    holder = None
    if sa.inspect(connection).has_table(HOLDER_TABLE):
        table = sa.table(HOLDER_TABLE, sa.column("name"), sa.column("holder"))
        holder = connection.execute(
            sa.select(table.c.holder).where(table.c.name == name)
        ).scalar()
    if holder is None:
        session = connection.execute(
            sa.text("SELECT IS_USED_LOCK(:name)"), {"name": name}
        ).scalar()
        holder = f"database session {session}" if session else None
    connection.rollback()
    return holder


@contextmanager
def _file_lock(path: Path, wait: float, holder: str) -> Iterator[None]:
    handle = open(path, "a+")  # noqa: SIM115 (held for the whole block)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockHeld(read_file_holder(path)) from None
                time.sleep(0.2)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"holder": holder}))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()


def read_file_holder(path: Path) -> str | None:
    try:
        return json.loads(path.read_text() or "{}").get("holder")
    except (OSError, ValueError):
        return None


def lock_is_free(connection: Connection) -> tuple[bool, str | None]:
    """(free, holder) without taking the lock, for the console's checks."""
    dialect = connection.dialect.name
    if dialect == "mysql":
        name = mysql_lock_name(connection)
        free = connection.execute(
            sa.text("SELECT IS_FREE_LOCK(:name)"), {"name": name}
        ).scalar()
        if free == 1:
            connection.rollback()
            return True, None
        return False, _mysql_holder(connection, name)
    path = sqlite_lock_path(connection) if dialect == "sqlite" else None
    if path is None:
        return True, None
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False, read_file_holder(path)
        fcntl.flock(handle, fcntl.LOCK_UN)
    return True, None


def lock_wait_seconds(value: str | None, option: str = "-x lock_wait") -> float:
    """The seconds to wait for a lock, as given on the command line (`-x
    lock_wait=60`); 0 when not given. A bad value is refused in one line."""
    if value is None or value.strip() == "":
        return 0.0
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise HeadwayError(
            f"{option}={value}: expected a number of seconds, 0 or more "
            f"(e.g. {option}=60)"
        )
    return seconds


@dataclass
class Deadline:
    """What is left of a wait, shared by the locks a command takes in turn."""

    end: float

    @classmethod
    def after(cls, seconds: float) -> "Deadline":
        return cls(time.monotonic() + seconds)

    def left(self) -> float:
        return max(0.0, self.end - time.monotonic())


def take_release_lock(
    stack: ExitStack,
    connection: Connection,
    deadline: Deadline,
    say: Callable[[str], None],
    more_time: str | None = None,
) -> None:
    """Hold this database's release lock on `connection` until `stack`
    closes, waiting for another holder until the deadline (and saying so).
    `more_time` names the option that waits longer."""
    try:
        stack.enter_context(migration_lock(connection, 0, purpose=RELEASE_LOCK))
        return
    except LockHeld as held:
        if deadline.left() <= 0:
            raise _still_running(held, more_time) from None
        say(
            f"waiting up to {deadline.left():.0f} s for another release or "
            "adoption" + (f" ({held.holder})" if held.holder else "")
        )
    try:
        stack.enter_context(
            migration_lock(connection, deadline.left(), purpose=RELEASE_LOCK)
        )
    except LockHeld as held:
        raise _still_running(held, more_time) from None


def _still_running(held: LockHeld, more_time: str | None) -> HeadwayError:
    return HeadwayError(
        "another release or adoption is still running"
        + (f" ({held.holder})" if held.holder else "")
        + "; nothing was written. "
        + (f"Give it more time with {more_time}, or try" if more_time else "Try")
        + " again when it has finished"
    )


@contextmanager
def release_lock(
    engine: Engine,
    deadline: Deadline,
    say: Callable[[str], None],
    more_time: str | None = None,
) -> Iterator[None]:
    """This database's release lock, held for the block on a connection of
    its own: every adoption holds it around its decision, its stamp and the
    upgrade after it, so that deploys running at once take turns instead of
    each deciding the database is unversioned. (GET_LOCK belongs to a
    connection; migrations/env.py takes the migration lock on its own, inside
    this one.)"""
    with engine.connect() as connection, ExitStack() as held:
        take_release_lock(held, connection, deadline, say, more_time)
        yield
