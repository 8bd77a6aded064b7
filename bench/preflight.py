"""How long preflight takes on the legacy database at the real size, and how
close its estimated duration of a table copy comes to the real copy, on
MariaDB/MySQL.

    .venv/bin/python bench/preflight.py [--scale 30] [--runs 3]

A new database (headway_bench_<random> on the server of BENCH_MYSQL_URL,
default mysql+pymysql://root@127.0.0.1/) is loaded with `flask demo
create-legacy --scale S` (the real size at 30: 300,000 employees, 2.8
million salaries), adopted and upgraded to head. Then, each with a copy of
migrations/ holding one more revision:

1. every kind: a revision with one statement of each kind preflight knows
   (instant, in place, copy, rebuild; duplicates, NULLs, a NOT NULL column
   without a default, a shorter VARCHAR, an ENUM losing a value, a foreign
   key, a CHECK): the whole preflight (rehearsal, scratch copies, samples,
   data checks) timed in-process (the app built before the clock starts),
   --runs times, the median; target 5 s;
2. the copy of salaries (`MODIFY salary BIGINT NOT NULL`): preflight's
   estimate, then the same ALTER run for real on the live table and timed
   (then put back, untimed), --runs times, medians side by side; target:
   the estimate within 2x of the real run;
3. `flask db preflight` as a user runs it, for the revision of the README
   (a salary copy, a NOT NULL column, a unique index on names), printed;
   then `flask db upgrade`, which preflight refuses before its first
   statement, printed.

The database is dropped at the end, failure or not.
"""

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from alembic.script import ScriptDirectory

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.dbadmin.core import preflight as pf  # noqa: E402
from app.dbadmin.core.catalog import load_catalog  # noqa: E402
from app.extensions import db  # noqa: E402
from bench import common  # noqa: E402
from bench.common import environment, flask, prepare_legacy, run_main  # noqa: E402
from config import TestingConfig  # noqa: E402

# The project's head: the bench's revisions go on top of it.
HEAD = ScriptDirectory(str(ROOT / "migrations")).get_current_head()

EVERY_KIND = """
op.add_column("employees", sa.Column("nickname", sa.String(20), nullable=True))
op.create_index("ix_titles_title", "titles", ["title"])
op.alter_column("salaries", "salary", existing_type=sa.Integer(),
                type_=sa.BigInteger(), existing_nullable=False)
op.alter_column("titles", "to_date", existing_type=sa.Date(), nullable=False)
op.create_index("ix_employees_names", "employees", ["first_name", "last_name"],
                unique=True)
op.add_column("employees", sa.Column("badge", sa.String(20), nullable=False))
op.alter_column("employees", "last_name", existing_type=sa.String(16),
                type_=sa.String(8), existing_nullable=False)
op.alter_column("employees", "gender", existing_type=sa.Enum("M", "F"),
                type_=sa.Enum("M"), existing_nullable=False)
op.create_foreign_key("fk_titles_manager", "titles", "dept_manager",
                      ["emp_no"], ["emp_no"])
op.create_check_constraint("ck_salary_positive", "salaries", "salary > 0")
"""

SALARY_COPY = """
op.alter_column("salaries", "salary", existing_type=sa.Integer(),
                type_=sa.BigInteger(), existing_nullable=False)
"""

README_EXAMPLE = """
op.alter_column("salaries", "salary", existing_type=sa.Integer(),
                type_=sa.BigInteger(), existing_nullable=False)
op.add_column("employees", sa.Column("badge", sa.String(20), nullable=False))
op.create_index("ix_employees_names", "employees", ["first_name", "last_name"],
                unique=True)
"""


def migrations_with(directory: Path, name: str, body: str) -> Path:
    target = directory / name
    shutil.copytree(ROOT / "migrations", target)
    shutil.rmtree(target / "versions" / "__pycache__", ignore_errors=True)
    code = "\n".join("    " + line for line in body.strip().splitlines())
    (target / "versions" / f"0900_{name}.py").write_text(
        f'"""{name}\n\nRevision ID: 0900_{name}\nRevises: {HEAD}\n"""\n\n'
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        f"revision = '0900_{name}'\ndown_revision = '{HEAD}'\n"
        "branch_labels = None\ndepends_on = None\n\n\n"
        f"def upgrade():\n{code}\n\n\ndef downgrade():\n    pass\n"
    )
    return target


def app_on(url: str, migrations: Path):
    return create_app(
        TestingConfig, SQLALCHEMY_DATABASE_URI=url, MIGRATIONS_DIR=str(migrations)
    )


def run_preflight(app) -> tuple[pf.Preflight, float]:
    """The whole preflight (`preflight_to`: the plan, the rehearsal, the
    scratch copies, samples and timings, the data checks, the blockers), and
    the seconds it took; the app is built before the clock starts."""
    with app.app_context():
        try:
            started = time.perf_counter()
            result = pf.preflight_to(db.engine, load_catalog(), "head")[1]
            return result, time.perf_counter() - started
        finally:
            db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=30)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with common.scratch_database() as url, tempfile.TemporaryDirectory() as tmp:
        bench(url, Path(tmp), args.scale, args.runs, common.server_version(url))


def bench(url: str, tmp: Path, scale: float, runs: int, version: str) -> None:
    env = environment(url)
    started = time.perf_counter()
    prepare_legacy(env, scale, init=False, upgrade=(HEAD,))
    print(f"loaded, adopted, at {HEAD} in {time.perf_counter() - started:.0f} s")
    live = sa.create_engine(url, poolclass=sa.pool.NullPool)

    # 1. The whole preflight of a plan with one statement of each kind.
    every_kind = app_on(url, migrations_with(tmp, "every_kind", EVERY_KIND))
    run_preflight(every_kind)  # warm-up: the server has just loaded
    seconds = []
    for _ in range(runs):
        result, elapsed = run_preflight(every_kind)
        seconds.append(elapsed)
    [step] = result.steps
    print(f"\nevery kind: {len(step.statements)} statements")
    for s in step.statements:
        found = ", ".join(f"{f.kind} ({f.severity})" for f in s.findings) or "-"
        estimate = f"{s.estimate_s:.2f} s" if s.estimate_s is not None else "-"
        print(f"  {s.index:2}  {s.lock.kind:<24} {estimate:>8}  {found}")

    # 2. The estimate of a copy of salaries against the real copy.
    salary_copy = app_on(url, migrations_with(tmp, "salary_copy", SALARY_COPY))
    estimates, reals = [], []
    for _ in range(runs):
        estimate = run_preflight(salary_copy)[0].steps[0].statements[0]
        assert estimate.lock.kind == pf.COPY, estimate.lock
        estimates.append(estimate.estimate_s)
        with live.connect() as conn:
            started = time.perf_counter()
            conn.exec_driver_sql("ALTER TABLE salaries MODIFY salary BIGINT NOT NULL")
            reals.append(time.perf_counter() - started)
            conn.exec_driver_sql("ALTER TABLE salaries MODIFY salary INT NOT NULL")
    with live.connect() as conn:
        rows = conn.exec_driver_sql("SELECT COUNT(*) FROM salaries").scalar()
    live.dispose()

    # 3. What a user sees.
    readme = migrations_with(tmp, "badge_and_names", README_EXAMPLE)
    env = environment(url, readme)
    output = flask(env, "db", "preflight", expect=(0, 1), with_stderr=True)
    # And the upgrade that preflight refuses before its first statement.
    refused = flask(env, "db", "upgrade", expect=(1,), with_stderr=True)

    whole = statistics.median(seconds)
    estimate, real = statistics.median(estimates), statistics.median(reals)
    ratio = max(estimate, real) / min(estimate, real)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\n{platform.node()}: {os.cpu_count()} cores (load average {load}), "
        f"{version}, Python {platform.python_version()}; scale {scale:g} "
        f"({rows:,} salaries), median of {runs} runs\n"
    )
    print("| measure | result | target | verdict |")
    print("|---|---|---|---|")
    print(
        f"| whole preflight, {len(step.statements)} statements of every kind "
        f"| {whole:.2f} s | under 5 s | {'ok' if whole < 5 else 'MISSED'} |"
    )
    print(
        f"| salaries copy: estimated / real | {estimate:.2f} s / {real:.2f} s "
        f"({ratio:.2f}x) | within 2x | {'ok' if ratio <= 2 else 'MISSED'} |"
    )
    print(
        f"\nruns: whole {', '.join(f'{s:.2f}' for s in seconds)} s; "
        f"estimated {', '.join(f'{s:.2f}' for s in estimates)} s; "
        f"real {', '.join(f'{s:.2f}' for s in reals)} s"
    )
    print("\n$ flask db preflight\n" + output)
    print("$ flask db upgrade\n" + refused)


if __name__ == "__main__":
    run_main(main)
