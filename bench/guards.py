"""How long Headway's guards make the `flask db` commands a user runs on the
legacy database, at the real size, on MariaDB/MySQL and on SQLite.

    .venv/bin/python bench/guards.py [--scale 30] [--runs 3]

For each backend: a new database (headway_bench_<random> on the server of
BENCH_MYSQL_URL, default mysql+pymysql://root@127.0.0.1/; a temporary file for
SQLite), loaded with `flask demo create-legacy --scale S` (the real size at
30: 300,000 employees, 2.8 million salaries), `flask headway init`. Then, as
`flask` processes (Python's start included, as a user waits for it), each
run once to warm up, then timed --runs times, and the median printed:

- `flask db current`: the baseline, a command without guards;
- `flask db upgrade` on the unversioned database: refused (the first
  revision's tables are there);
- `flask db adopt --dry-run`: every revision's schema built and compared;
- `flask db stamp head`: refused (the live schema is not head's), with the
  revision that does match;
- `flask db stamp 0001_baseline`: verified, then stamped (then base again);
- after `flask db adopt` and `flask db upgrade`: `flask db downgrade base`,
  refused, with the row count of each table (estimates above 1,000,000 rows
  on MySQL);
- `flask db downgrade 0001_baseline`: employees.email holds only NULLs, so it
  runs (then `flask db upgrade` again, untimed).

Every database the bench makes is dropped at the end, failure or not.
"""

import argparse
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "mysql+pymysql://root@127.0.0.1/"


def environment(database_url: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HEADWAY_", "GUNICORN_"))
        and k not in ("DATABASE_URL", "SECRET_KEY", "FLASK_APP")
    }
    env.update(
        HEADWAY_CONFIG="production",
        SECRET_KEY=secrets.token_hex(16),
        DATABASE_URL=database_url,
    )
    return env


def flask(env: dict[str, str], *args: str, expect: int = 0) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if result.returncode != expect:
        raise SystemExit(
            f"flask {' '.join(args)} exited {result.returncode}, expected {expect}:\n"
            + result.stdout
            + result.stderr
        )
    return result.stdout + result.stderr


def timed(runs: int, run: Callable[[], str], then: Callable[[], object] = None):
    """Median seconds of `run` over `runs`, after one untimed warm-up run (a
    server just loaded with millions of rows is still busy at first); `then`
    restores the state after each, untimed. Also the output of the last run."""
    seconds = []
    for i in range(runs + 1):
        started = time.perf_counter()
        output = run()
        if i:
            seconds.append(time.perf_counter() - started)
        if then is not None:
            then()
    return statistics.median(seconds), output


def scenario(env: dict[str, str], scale: float, runs: int) -> list[tuple[str, float]]:
    started = time.perf_counter()
    flask(env, "demo", "create-legacy", "--scale", f"{scale:g}")
    print(f"  loaded in {time.perf_counter() - started:.1f} s", flush=True)
    flask(env, "headway", "init")
    rows = []

    def measure(label, *args, expect=0, then=None, contains=""):
        seconds, output = timed(runs, lambda: flask(env, *args, expect=expect), then)
        assert contains in output, output
        rows.append((label, seconds))
        print(f"  {label}: {seconds:.2f} s", flush=True)

    measure("flask db current (no guard)", "db", "current")
    measure(
        "flask db upgrade, unversioned: refused",
        "db",
        "upgrade",
        expect=1,
        contains="unversioned but already has",
    )
    measure(
        "flask db adopt --dry-run",
        "db",
        "adopt",
        "--dry-run",
        contains="would adopt at 0001_baseline",
    )
    measure(
        "flask db stamp head: refused, match named",
        "db",
        "stamp",
        "head",
        expect=1,
        contains="The database matches 0001_baseline",
    )
    measure(
        "flask db stamp 0001_baseline: verified",
        "db",
        "stamp",
        "0001_baseline",
        then=lambda: flask(env, "db", "stamp", "base"),
        contains="verified",
    )
    flask(env, "db", "adopt")
    flask(env, "db", "upgrade")
    measure(
        "flask db downgrade base: refused, counted",
        "db",
        "downgrade",
        "base",
        expect=1,
        contains="table salaries:",
    )
    measure(
        "flask db downgrade 0001_baseline (NULLs)",
        "db",
        "downgrade",
        "0001_baseline",
        then=lambda: flask(env, "db", "upgrade"),
    )
    return rows


def bench_mysql(server_url: str, scale: float, runs: int):
    server = sa.create_engine(server_url)
    name = f"headway_bench_{secrets.token_hex(4)}"
    with server.connect() as conn:
        conn.exec_driver_sql(
            f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
        )
    try:
        url = server.url.set(database=name).render_as_string(hide_password=False)
        return scenario(environment(url), scale, runs)
    finally:
        with server.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        server.dispose()


def bench_sqlite(scale: float, runs: int):
    with tempfile.TemporaryDirectory() as tmp:
        return scenario(environment(f"sqlite:///{tmp}/legacy.db"), scale, runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=30)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    server_url = os.environ.get("BENCH_MYSQL_URL", DEFAULT_SERVER)

    results = {}
    for backend, run in (
        ("MariaDB/MySQL", lambda: bench_mysql(server_url, args.scale, args.runs)),
        ("SQLite", lambda: bench_sqlite(args.scale, args.runs)),
    ):
        print(f"{backend}, scale {args.scale:g}:", flush=True)
        results[backend] = run()

    print(
        f"\n{platform.node()}: {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; scale {args.scale:g}, median of "
        f"{args.runs} runs, seconds (a `flask` process each)\n"
    )
    backends = list(results)
    labels = [label for label, _ in results[backends[0]]]
    width = max(map(len, labels))
    print(f"| {'command':<{width}} | " + " | ".join(backends) + " |")
    print(f"|{'-' * (width + 2)}|" + "|".join("---" for _ in backends) + "|")
    for i, label in enumerate(labels):
        cells = " | ".join(f"{results[b][i][1]:.2f}" for b in backends)
        print(f"| {label:<{width}} | {cells} |")


if __name__ == "__main__":
    main()
