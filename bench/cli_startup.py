"""How long `flask db current` makes a shell user wait, against bare Alembic.

    .venv/bin/python bench/cli_startup.py [--pairs 11]

1. Makes a MariaDB/MySQL database (BENCH_MYSQL_URL, default
   mysql+pymysql://root@127.0.0.1/) with the legacy schema (`flask demo
   create-legacy --scale 0.01`), adopted and upgraded to head, as a user would.
2. Writes a bare Alembic environment in a temporary directory: an alembic.ini,
   Headway's revision files and an env.py that only connects and reads the
   version table (no Flask, no models): what `alembic current` costs on the
   same database.
3. Writes the smallest Flask-Migrate app beside it, for reference: Flask,
   Flask-SQLAlchemy and Flask-Migrate in ten lines, `flask db init`'s
   migrations/ with Headway's revision files. Its `flask db current` is what
   a Flask-Migrate app pays over bare Alembic (Flask, Werkzeug, Jinja, Click,
   SQLAlchemy's ORM); Headway's `flask db` leaves the ORM out
   (app/database.py).
4. Runs Headway's `flask db current`, the minimal app's and `alembic current`
   one after the other, --pairs times after a warm-up of each, and prints each
   one's median and the ratios of the medians to Alembic's. Target: Headway's
   ratio at most 1.4. Exit 1 when it is above.
   Then, with --revisions N (default 1,000; 0 leaves it out), the same
   three commands with N more revisions written after the head (pending:
   the database stays where it is), as bench/console.py writes them, for
   how the start-up grows with the history. Printed, not judged: the target
   is the first table's.
   The CPU time (user + system) of each run is printed beside it: on a busy
   machine the wall-clock times swing with the other work, and the ratio of
   the CPU times is the steadier account of what each command costs.
   Python writes its bytecode caches (__pycache__, ignored by git) in the
   warm-up, as on a user's machine after the first command, even where
   PYTHONDONTWRITEBYTECODE is set: otherwise every run would compile
   Headway's modules (and the revision files) from source again.

The database and the temporary directory are removed at the end.
"""

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    ROOT,
    BenchError,
    environment,
    prepare_legacy,
    run_main,
    scratch_database,
)
from bench.console import (  # noqa: E402
    plan_revisions,
    project_revisions,
    write_migrations,
)

BIN = Path(sys.executable).parent
TARGET = 1.4

ENV_PY = """
from alembic import context
from sqlalchemy import create_engine

with create_engine(context.config.get_main_option("sqlalchemy.url")).connect() as c:
    context.configure(connection=c)
    with context.begin_transaction():
        context.run_migrations()
"""

MINIMAL_APP = """
import os

from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
db.init_app(app)
Migrate(app, db)
"""


def timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """The run's wall-clock time and its CPU time (user + system), in seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise BenchError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=11)
    parser.add_argument("--revisions", type=int, default=1000)
    args = parser.parse_args()
    with (
        scratch_database() as url,
        tempfile.TemporaryDirectory(prefix="headway-bench-cli-") as tmp,
    ):
        work = Path(tmp)
        env = environment(url)
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # see the docstring
        prepare_legacy(env, 0.01)
        times = time_commands(args.pairs, url, env, work / "project", ROOT)
        status = report(times, args.pairs, "the project's revisions", judged=True)
        if args.revisions:
            migrations = work / "longer" / "migrations"
            write_migrations(
                migrations, plan_revisions(args.revisions, project_revisions()[0])
            )
            longer_env = {**env, "HEADWAY_MIGRATIONS_DIR": str(migrations)}
            times = time_commands(
                args.pairs, url, longer_env, work / "longer", ROOT, migrations
            )
            print()
            report(times, args.pairs, f"{args.revisions:,} revisions more")
    return status


def time_commands(
    pairs: int,
    url: str,
    env: dict[str, str],
    work: Path,
    cwd: Path,
    migrations: Path = ROOT / "migrations",
) -> dict[str, list[tuple[float, float]]]:
    """Each command's (wall, CPU) seconds on the revision files of
    `migrations`, `pairs` runs each, interleaved, after a warm-up of each;
    `flask db current` from `cwd` with `env`."""
    work.mkdir(parents=True, exist_ok=True)
    # The same revision files, with Alembic's own plain env.py.
    shutil.copytree(
        migrations / "versions",
        work / "versions",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(ROOT / "migrations" / "script.py.mako", work)
    (work / "env.py").write_text(textwrap.dedent(ENV_PY))
    (work / "alembic.ini").write_text(
        f"[alembic]\nscript_location = {work}\n"
        f"sqlalchemy.url = {url.replace('%', '%%')}\n"
    )
    minimal = work / "minimal"
    minimal.mkdir()
    (minimal / "app.py").write_text(textwrap.dedent(MINIMAL_APP))
    minimal_env = {**env, "FLASK_APP": "app"}
    flask = [str(BIN / "flask")]
    timed(flask + ["db", "init"], minimal_env, minimal)
    shutil.rmtree(minimal / "migrations" / "versions")
    shutil.copytree(work / "versions", minimal / "migrations" / "versions")
    alembic = [str(BIN / "alembic"), "-c", str(work / "alembic.ini"), "current"]
    flask_current = flask + ["db", "current"]
    runs = (
        ("flask db current", flask_current, env, cwd),
        ("minimal Flask-Migrate app", flask_current, minimal_env, minimal),
        ("alembic current", alembic, env, work),
    )
    times: dict[str, list[tuple[float, float]]] = {label: [] for label, *_ in runs}
    for _, command, run_env, cwd in runs:
        timed(command, run_env, cwd)
    for _ in range(pairs):
        for label, command, run_env, cwd in runs:
            times[label].append(timed(command, run_env, cwd))
    return times


def report(
    times: dict[str, list[tuple[float, float]]],
    pairs: int,
    heading: str,
    judged: bool = False,
) -> int:
    """Print the table; 0 when the target is met (or not `judged`), else 1."""
    wall = {label: [w for w, _ in values] for label, values in times.items()}
    cpu = {label: [c for _, c in values] for label, values in times.items()}
    base_wall = statistics.median(wall["alembic current"])
    base_cpu = statistics.median(cpu["alembic current"])
    ratio = statistics.median(wall["flask db current"]) / base_wall
    verdict = "PASS" if ratio <= TARGET else "FAIL"
    load = os.getloadavg()
    print(
        f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} "
        f"{load[2]:.2f}, Python {sys.version.split()[0]}, {pairs} runs each; "
        f"{heading}"
    )
    print(
        f"{'command':<26}{'median ms':>10}{'min':>6}{'max':>6}{'ratio':>7}"
        f"{'CPU ms':>8}{'ratio':>7}"
    )
    for label in times:
        median_wall = statistics.median(wall[label])
        median_cpu = statistics.median(cpu[label])
        print(
            f"{label:<26}{median_wall * 1000:>10.0f}{min(wall[label]) * 1000:>6.0f}"
            f"{max(wall[label]) * 1000:>6.0f}{median_wall / base_wall:>7.2f}"
            f"{median_cpu * 1000:>8.0f}{median_cpu / base_cpu:>7.2f}"
        )
    if judged:
        print(f"ratio {ratio:.2f} (target at most {TARGET}): {verdict}")
    else:
        print(f"ratio {ratio:.2f}")
    if load[0] > (os.cpu_count() or 1):
        cpu_ratio = statistics.median(cpu["flask db current"]) / base_cpu
        print(
            "the machine was busy (load above its CPUs): the wall-clock ratio "
            f"swings with the other work; the CPU ratio ({cpu_ratio:.2f}) is the "
            "steadier figure"
        )
    return 0 if verdict == "PASS" or not judged else 1


if __name__ == "__main__":
    run_main(lambda: sys.exit(main()))
