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
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    environment,
    flask,
    on_each_backend,
    run_main,
)


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
        seconds, output = timed(
            runs, lambda: flask(env, *args, expect=(expect,), with_stderr=True), then
        )
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=30)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = on_each_backend(
        lambda url: scenario(environment(url), args.scale, args.runs),
        ("MariaDB/MySQL", "SQLite"),
        lambda backend: f"{backend}, scale {args.scale:g}:",
    )

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
    run_main(main)
