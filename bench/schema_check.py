"""What the cheap schema check (app/dbadmin/core/fingerprint.py) costs per
readiness probe and status call: the check alone (its three reads of
information_schema, or of sqlite_master and its pragmas, and the read of the
stored fingerprint) and the whole of read_state with and without it, on the
legacy database adopted at 0001_baseline and at head.

    .venv/bin/python bench/schema_check.py [--mysql-url URL] [--rounds 500]

On MariaDB it creates and drops a database of its own (headway_bench_*).
Prints one table; nothing is left behind.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import create_app  # noqa: E402
from app.dbadmin.core.catalog import load_catalog  # noqa: E402
from app.dbadmin.core.fingerprint import check_schema  # noqa: E402
from app.dbadmin.core.state import read_state  # noqa: E402
from app.demo.legacy import create_legacy  # noqa: E402
from app.extensions import db  # noqa: E402
from bench.common import scratch_database, server_url, sqlite_database  # noqa: E402
from config import TestingConfig  # noqa: E402


def timed(fn, rounds: int) -> tuple[float, float]:
    for _ in range(20):  # warm-up
        fn()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95)]


def measure(url: str, label: str, rounds: int) -> list[tuple]:
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=url)
    runner = app.test_cli_runner()
    rows = []
    with app.app_context():
        create_legacy(db.engine, scale=0.01, seed=1)
        for args in (["headway", "init"], ["db", "adopt", "--to", "0001_baseline"]):
            result = runner.invoke(args=args)
            assert result.exit_code == 0, result.output
        for where in ("0001_baseline (behind)", "head"):
            if where == "head":
                result = runner.invoke(args=["db", "upgrade"])
                assert result.exit_code == 0, result.output
            catalog = load_catalog()
            database = read_state(db.engine, catalog)
            rows.append((label, where, *_time_reads(catalog, database, rounds)))
        db.engine.dispose()
    return rows


def _time_reads(catalog, database, rounds: int) -> tuple:
    """The check alone on one connection; read_state without and with it."""
    current = database.current
    with db.engine.connect() as conn:
        check = check_schema(conn, catalog, current, db.metadata)
        assert check.state == "ok", check
        alone = timed(lambda: check_schema(conn, catalog, current, db.metadata), rounds)
    plain = timed(lambda: read_state(db.engine, catalog), rounds)
    full = timed(lambda: read_state(db.engine, catalog, db.metadata), rounds)
    return alone, plain, full


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--mysql-url",
        default=server_url(),
    )
    parser.add_argument("--rounds", type=int, default=500)
    args = parser.parse_args()
    rows = []
    with sqlite_database() as url:
        rows += measure(url, "SQLite", args.rounds)
    with scratch_database(args.mysql_url) as url:
        rows += measure(url, "MariaDB", args.rounds)

    print(f"rounds: {args.rounds} per figure (median / p95, milliseconds)")
    print()
    print("| dialect | stamped at | check alone | read_state | read_state + check |")
    print("|---|---|---|---|---|")
    for label, where, alone, plain, full in rows:
        print(
            f"| {label} | {where} | {alone[0]:.2f} / {alone[1]:.2f} "
            f"| {plain[0]:.2f} / {plain[1]:.2f} | {full[0]:.2f} / {full[1]:.2f} |"
        )


if __name__ == "__main__":
    main()
