"""How long `flask db current` makes a shell user wait, against bare Alembic.

    .venv/bin/python bench/cli_startup.py [--pairs 11]

1. Makes a MariaDB/MySQL database (BENCH_MYSQL_URL, default
   mysql+pymysql://root@127.0.0.1/) with the legacy schema (`flask demo
   create-legacy --scale 0.01`), adopted and upgraded to head, as a user would.
2. Writes a bare Alembic environment in a temporary directory: an alembic.ini,
   Headway's revision files and an env.py that only connects and reads the
   version table (no Flask, no models): what `alembic current` costs on the
   same database.
3. Runs `flask db current` and `alembic current` one after the other, --pairs
   times after a warm-up of each, and prints each one's median and the ratio
   of the medians. Target: the ratio at most 1.4. Exit 1 when it is above.
   Python writes its bytecode caches (__pycache__, ignored by git) in the
   warm-up, as on a user's machine after the first command, even where
   PYTHONDONTWRITEBYTECODE is set: otherwise every run would compile
   Headway's modules (and the revision files) from source again.

The database and the temporary directory are removed at the end.
"""

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEFAULT_SERVER = "mysql+pymysql://root@127.0.0.1/"
TARGET = 1.4

ENV_PY = """
from alembic import context
from sqlalchemy import create_engine

with create_engine(context.config.get_main_option("sqlalchemy.url")).connect() as c:
    context.configure(connection=c)
    with context.begin_transaction():
        context.run_migrations()
"""


def timed(command: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=11)
    args = parser.parse_args()
    server = sa.make_url(os.environ.get("BENCH_MYSQL_URL", DEFAULT_SERVER))
    name = f"headway_bench_cli_{secrets.token_hex(3)}"
    admin = sa.create_engine(server.set(database=""), poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE `{name}`")
    url = server.set(database=name).render_as_string(hide_password=False)
    work = Path(tempfile.mkdtemp(prefix="headway-bench-cli-"))
    env = {**os.environ, "DATABASE_URL": url, "HEADWAY_CONFIG": "development"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # see the docstring
    flask = [str(BIN / "flask")]
    try:
        for command in (
            ("demo", "create-legacy", "--scale", "0.01"),
            ("headway", "init"),
            ("db", "adopt"),
            ("db", "upgrade"),
        ):
            timed(flask + list(command), env, ROOT)
        # Headway's revision files, with Alembic's own plain env.py.
        shutil.copytree(
            ROOT / "migrations" / "versions",
            work / "versions",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        shutil.copy(ROOT / "migrations" / "script.py.mako", work)
        (work / "env.py").write_text(textwrap.dedent(ENV_PY))
        (work / "alembic.ini").write_text(
            f"[alembic]\nscript_location = {work}\n"
            f"sqlalchemy.url = {url.replace('%', '%%')}\n"
        )
        alembic = [str(BIN / "alembic"), "-c", str(work / "alembic.ini"), "current"]
        flask_current = flask + ["db", "current"]
        timed(flask_current, env, ROOT)
        timed(alembic, env, work)
        flask_times, alembic_times = [], []
        for _ in range(args.pairs):
            flask_times.append(timed(flask_current, env, ROOT))
            alembic_times.append(timed(alembic, env, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        admin.dispose()
    flask_median = statistics.median(flask_times)
    alembic_median = statistics.median(alembic_times)
    ratio = flask_median / alembic_median
    verdict = "PASS" if ratio <= TARGET else "FAIL"
    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {args.pairs} pairs")
    print(f"{'command':<24}{'median ms':>12}{'min ms':>10}{'max ms':>10}")
    for label, times in (
        ("flask db current", flask_times),
        ("alembic current", alembic_times),
    ):
        print(
            f"{label:<24}{statistics.median(times) * 1000:>12.0f}"
            f"{min(times) * 1000:>10.0f}{max(times) * 1000:>10.0f}"
        )
    print(f"ratio {ratio:.2f} (target at most {TARGET}): {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
