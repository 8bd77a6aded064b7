"""How long a concurrent client's writes wait while salaries is copied,
plain against `--online` (pt-online-schema-change), side by side in one run,
on MariaDB/MySQL.

    .venv/bin/python bench/online.py [--scale 30] [--interval 0.02]

A new database (headway_bench_<random> on the server of BENCH_MYSQL_URL,
default mysql+pymysql://root@127.0.0.1/) is loaded with `flask demo
create-legacy --scale S` (the real size at 30: 300,000 employees, 2.8
million salaries), adopted and upgraded to head. A revision on top widens
salaries.salary (INT -> BIGINT: MariaDB can only copy the table).

While `flask db upgrade` runs it, then (after a downgrade, untimed) `flask
db upgrade --online`, a client updates a random salary every --interval
seconds, each in its own transaction, and times each write. Its worst wait is
the measure: how long the change kept a write waiting. Each acknowledged
write is read back at the end (lost: a write whose value is not there).
Targets: online under 1 s at the worst, and at least 10x less than plain.

The database is dropped at the end, failure or not.
"""

import argparse
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench.common import environment, flask, prepare_legacy, run_main  # noqa: E402

HEAD = "0003_employee_last_name_index"
STEP = "0900_wide_salary"
REVISION = f'''"""widen salaries.salary

Revision ID: {STEP}
Revises: {HEAD}
"""

import sqlalchemy as sa
from alembic import op

revision = "{STEP}"
down_revision = "{HEAD}"
branch_labels = None
depends_on = None


def upgrade():
    op.alter_column("salaries", "salary", existing_type=sa.Integer(),
                    type_=sa.BigInteger(), existing_nullable=False)


def downgrade():
    op.alter_column("salaries", "salary", existing_type=sa.BigInteger(),
                    type_=sa.Integer(), existing_nullable=False)
'''


def migrations_with_step(directory: Path) -> Path:
    target = directory / "migrations"
    shutil.copytree(ROOT / "migrations", target)
    shutil.rmtree(target / "versions" / "__pycache__", ignore_errors=True)
    (target / "versions" / f"{STEP}.py").write_text(REVISION)
    return target


class Client(threading.Thread):
    """Updates a random salary every `interval` seconds (autocommit), timing
    each write; `expected` holds each acknowledged row's value."""

    def __init__(self, url: str, keys: list, interval: float) -> None:
        super().__init__(daemon=True)
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        self.keys = keys
        self.interval = interval
        self.stop = threading.Event()
        self.waits: list[float] = []
        self.expected: dict = {}
        self.errors: list[str] = []
        self.value = 5_000_000

    def run(self) -> None:
        rng = random.Random(7)
        with self.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            while not self.stop.is_set():
                emp_no, from_date = rng.choice(self.keys)
                self.value += 1
                started = time.perf_counter()
                try:
                    conn.execute(
                        sa.text(
                            "UPDATE salaries SET salary = :v "
                            "WHERE emp_no = :e AND from_date = :f"
                        ),
                        {"v": self.value, "e": emp_no, "f": from_date},
                    )
                except sa.exc.DBAPIError as exc:
                    self.errors.append(str(exc.orig))
                    continue
                finally:
                    self.waits.append(time.perf_counter() - started)
                self.expected[(emp_no, from_date)] = self.value
                time.sleep(self.interval)
        self.engine.dispose()

    def lost(self, url: str) -> int:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        missing = 0
        with engine.connect() as conn:
            for (emp_no, from_date), value in self.expected.items():
                found = conn.execute(
                    sa.text(
                        "SELECT salary FROM salaries WHERE emp_no = :e "
                        "AND from_date = :f"
                    ),
                    {"e": emp_no, "f": from_date},
                ).scalar()
                missing += found != value
        engine.dispose()
        return missing


def measured(url: str, env: dict, keys: list, interval: float, *args: str):
    client = Client(url, keys, interval)
    client.start()
    time.sleep(1.0)  # the client's baseline before the change starts
    started = time.perf_counter()
    output = flask(env, *args, with_stderr=True)
    took = time.perf_counter() - started
    time.sleep(1.0)
    client.stop.set()
    client.join()
    return {
        "took": took,
        "writes": len(client.waits),
        "worst": max(client.waits),
        "median": statistics.median(client.waits),
        "p99": sorted(client.waits)[int(len(client.waits) * 0.99)],
        "errors": len(client.errors),
        "lost": client.lost(url),
        "output": output,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=30)
    parser.add_argument("--interval", type=float, default=0.02)
    args = parser.parse_args()
    if shutil.which("pt-online-schema-change") is None:
        raise SystemExit(
            "pt-online-schema-change is not installed: apt-get install percona-toolkit"
        )
    with common.scratch_database() as url, tempfile.TemporaryDirectory() as tmp:
        bench(url, Path(tmp), args.scale, args.interval, common.server_version(url))


def bench(url: str, tmp: Path, scale: float, interval: float, version: str) -> None:
    env = environment(url, migrations_with_step(tmp))
    started = time.perf_counter()
    prepare_legacy(env, scale, upgrade=(HEAD,))
    print(f"loaded, adopted, at {HEAD} in {time.perf_counter() - started:.0f} s")
    live = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with live.connect() as conn:
        rows = conn.exec_driver_sql("SELECT COUNT(*) FROM salaries").scalar()
        keys = [
            tuple(r)
            for r in conn.exec_driver_sql(
                "SELECT emp_no, from_date FROM salaries WHERE MOD(emp_no, 97) = 0 "
                "LIMIT 5000"
            )
        ]
    live.dispose()

    plain = measured(url, env, keys, interval, "db", "upgrade", STEP)
    flask(env, "db", "downgrade", HEAD)  # untimed: back to INT
    online = measured(url, env, keys, interval, "db", "upgrade", "--online", STEP)
    verify = flask(env, "db", "verify").strip()

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\n{platform.node()}: {os.cpu_count()} cores (load average {load}), "
        f"{version}, Python {platform.python_version()}; scale {scale:g} "
        f"({rows:,} salaries); a client updating a salary every "
        f"{interval * 1000:.0f} ms\n"
    )
    print(
        "| `ALTER TABLE salaries MODIFY salary BIGINT NOT NULL` | upgrade took "
        "| writes | worst write | median write | p99 write | failed | lost |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for label, r in (("plain `flask db upgrade`", plain), ("`--online`", online)):
        print(
            f"| {label} | {r['took']:.1f} s | {r['writes']} "
            f"| {r['worst'] * 1000:,.0f} ms | {r['median'] * 1000:.1f} ms "
            f"| {r['p99'] * 1000:.0f} ms | {r['errors']} | {r['lost']} |"
        )
    ratio = plain["worst"] / online["worst"]
    print(
        f"\nworst write: online {online['worst'] * 1000:,.0f} ms (target under "
        f"1,000 ms: {'ok' if online['worst'] < 1 else 'MISSED'}), "
        f"{ratio:.1f}x less than plain (target 10x: "
        f"{'ok' if ratio >= 10 else 'MISSED'}); after: {verify}"
    )
    print("\n$ flask db upgrade --online (its lines)")
    print("\n".join(line for line in online["output"].splitlines() if "online" in line))


if __name__ == "__main__":
    run_main(main)
