"""What the benchmarks share: `flask` run as a user runs it, in a clean
production environment; scratch databases; the legacy database set up with
the commands of the README.

A bench imports it as bench.common, with the project root on sys.path.
"""

import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "mysql+pymysql://root@127.0.0.1/"
FLASK_SECONDS = 3600

T = TypeVar("T")


class BenchError(Exception):
    """The benchmark cannot go on; the message says why."""


def run_main(main: Callable[[], object]) -> None:
    """Run a bench's main(); a BenchError ends it with its message and exit
    status 1 (the clean-up of `finally` blocks done)."""
    try:
        main()
    except BenchError as exc:
        sys.exit(str(exc))


# -- flask ----------------------------------------------------------------------


def environment(
    database_url: str,
    migrations: Path | None = None,
    *,
    secret_key: str | None = None,
    **extra: str,
) -> dict[str, str]:
    """The environment of a production deployment on `database_url`, with
    nothing inherited that could point the app elsewhere; `migrations` sets
    HEADWAY_MIGRATIONS_DIR, `extra` adds variables."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HEADWAY_", "GUNICORN_"))
        and k not in ("DATABASE_URL", "SECRET_KEY", "FLASK_APP")
    }
    env.update(
        HEADWAY_CONFIG="production",
        SECRET_KEY=secret_key or secrets.token_hex(32),
        DATABASE_URL=database_url,
    )
    if migrations is not None:
        env["HEADWAY_MIGRATIONS_DIR"] = str(migrations)
    env.update(extra)
    return env


def flask(
    env: dict[str, str],
    *args: str,
    expect: tuple[int, ...] = (0,),
    stdin: str | None = None,
    timeout: float = FLASK_SECONDS,
    with_stderr: bool = False,
) -> str:
    """Run `flask ARGS` from the project root, as a user would: its stdout
    (and its stderr after it, `with_stderr`). BenchError when it exits with a
    status not in `expect`, or runs over `timeout` seconds."""
    try:
        result = subprocess.run(
            [sys.executable, "-m", "flask", *args],
            cwd=ROOT,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"flask {' '.join(args)} ran over {timeout:g} s") from None
    if result.returncode not in expect:
        raise BenchError(
            f"flask {' '.join(args)} exited {result.returncode}:\n"
            f"{result.stdout}{result.stderr}"
        )
    return result.stdout + result.stderr if with_stderr else result.stdout


def prepare_legacy(
    env: dict[str, str],
    scale: float | str,
    *,
    init: bool = True,
    adopt: tuple[str, ...] | None = (),
    upgrade: tuple[str, ...] | None = (),
    each: Callable[[str, Callable[[], str]], object] | None = None,
    timeout: float = FLASK_SECONDS,
) -> list[float]:
    """The legacy database set up as a user would: `flask demo create-legacy
    --scale SCALE`, `flask headway init` (`init`), `flask db adopt ADOPT...`,
    `flask db upgrade UPGRADE...` (None leaves a step out). `each(label, call)`,
    when given, runs each command (to time it), the label its command line;
    `timeout`: each command's, as flask()'s. The seconds of each command, in
    that order."""
    scale = scale if isinstance(scale, str) else f"{scale:g}"
    commands = [("demo", "create-legacy", "--scale", scale)]
    if init:
        commands.append(("headway", "init"))
    if adopt is not None:
        commands.append(("db", "adopt", *adopt))
    if upgrade is not None:
        commands.append(("db", "upgrade", *upgrade))
    seconds = []
    for args in commands:
        call = partial(flask, env, *args, timeout=timeout)
        started = time.perf_counter()
        if each is None:
            call()
        else:
            each(f"flask {' '.join(args)}", call)
        seconds.append(time.perf_counter() - started)
    return seconds


def create_user(env: dict[str, str], name: str, role: str, password: str) -> str:
    """`flask users create NAME --role ROLE --password-stdin`."""
    return flask(
        env,
        *("users", "create", name, "--role", role, "--password-stdin"),
        stdin=password + "\n",
    )


# -- databases ------------------------------------------------------------------


def server_url() -> str:
    """The MariaDB/MySQL server the benches use: BENCH_MYSQL_URL, or the local
    one."""
    return os.environ.get("BENCH_MYSQL_URL", DEFAULT_SERVER)


@contextmanager
def scratch_database(server: str | None = None) -> Iterator[str]:
    """A new database headway_bench_<random> on `server` (default:
    server_url()), its URL; dropped at the end, failure or not."""
    engine = sa.create_engine(server or server_url(), poolclass=sa.pool.NullPool)
    name = f"headway_bench_{secrets.token_hex(4)}"
    with engine.connect() as conn:
        conn.exec_driver_sql(
            f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
        )
    try:
        yield engine.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        engine.dispose()


@contextmanager
def sqlite_database() -> Iterator[str]:
    """A SQLite database in a temporary directory, its URL; removed at the
    end."""
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{tmp}/legacy.db"


def server_version(url: str) -> str:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql("SELECT VERSION()").scalar()
    finally:
        engine.dispose()


def on_each_backend(
    body: Callable[[str], T], names: tuple[str, str], heading: Callable[[str], str]
) -> dict[str, T]:
    """`body(url)` on a scratch database of the MariaDB/MySQL server, then on a
    temporary SQLite file, after printing `heading(name)`; the results by name
    (`names`: the server's, SQLite's)."""
    results = {}
    for name, database in zip(names, (scratch_database, sqlite_database), strict=True):
        print(heading(name), flush=True)
        with database() as url:
            results[name] = body(url)
    return results
