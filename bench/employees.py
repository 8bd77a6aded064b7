"""How fast the employee data admin answers at the real size, beside Flask-Admin's
stock ModelView on the same tables, in the same run.

    .venv/bin/python bench/employees.py [--url mysql+pymysql://root@127.0.0.1/DB]
                                        [--scale 30] [--requests 30] [--reuse]

1. Creates the database (default: `headway_bench_employees` on the local
   MariaDB, or BENCH_MYSQL_URL) and prepares it as a user would:
   `flask demo create-legacy --scale 30` (300,000 employees, 2.8M salaries),
   `flask db adopt`, `flask db upgrade` (0003 and 0004 add the name indexes),
   `flask headway init`, an operator account. --reuse keeps a database a
   previous run prepared (at the same scale), and skips this step.
2. Serves bench/employees_stock.py (the app as deployed, wsgi:app, plus the
   stock views) with gunicorn, 2 workers, gunicorn.conf.py.
3. Logs in and times, R times each, interleaved round-robin after a warm-up:
   the salaries and employees lists at the first page, about the middle and
   the last page, a last-name prefix search, an employee's details page; for
   Headway and for stock Flask-Admin (defaults: COUNT(*) and OFFSET, 20 rows a
   page; Headway shows 50).
4. Prints the query plan (EXPLAIN) and time of the employee list's name
   searches as the app builds them: a first name, a last name, a full name
   ("Georgi Facello"), each answered by an index (0003's last_name, 0004's
   first_name, last_name), never a scan of the table.
5. Prints the machine, one table (median and p95 in ms), and the verdict on
   the targets: Headway's last page within 1.3x its first (both lists), and
   at least 20x faster than stock's at the last page of salaries (2.8M rows).
   Exit 1 on FAIL.
"""

import argparse
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench.common import BenchError, create_user, environment  # noqa: E402
from bench.console import (  # noqa: E402
    FLASK_COMMAND_SECONDS,
    Client,
    free_port,
    machine,
    start_gunicorn,
    stop,
    timed,
    wait_until_healthy,
)

APP = "bench.employees_stock:app"
DEFAULT_URL = "mysql+pymysql://root@127.0.0.1/headway_bench_employees"
USERNAME = "bench"
PASSWORD = "bench-password-123"
STOCK_PAGE_SIZE = 20  # Flask-Admin's default
SEARCH = "Sluis"  # a last name of the demo data (and of the real one)
WARMUP_ROUNDS = 3
TARGET_DEPTH_RATIO = 1.3
TARGET_SPEEDUP = 20.0
# The 20x target is the big table's, where stock's COUNT(*) and OFFSET cost
# most; employees (300,000 narrow rows) is shown without a verdict.
SPEEDUP_TABLE = "salaries"


def prepare(url: sa.URL, env: dict[str, str], scale: str, reuse: bool) -> None:
    server = sa.create_engine(url.set(database=""), poolclass=sa.pool.NullPool)
    with server.connect() as conn:
        exists = conn.execute(
            sa.text("SHOW DATABASES LIKE :name"), {"name": url.database}
        ).first()
        if exists and reuse:
            print(f"  reusing the database {url.database}")
            return
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{url.database}`")
        conn.exec_driver_sql(
            f"CREATE DATABASE `{url.database}` "
            "CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
        )
    server.dispose()
    common.prepare_legacy(env, scale, each=timed, timeout=FLASK_COMMAND_SECONDS)
    timed(
        f"flask users create {USERNAME} --role operator",
        lambda: create_user(env, USERNAME, "operator", PASSWORD),
    )


def middle_token(engine: sa.Engine, secret_key: str, table: str, key: list[str]):
    """Headway's page token for the row in the middle of `table`, as the
    "next" link of the page before it carries."""
    from app.employees.pagination import TokenCodec

    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()
        boundary = conn.execute(
            sa.text(
                f"SELECT {', '.join(key)} FROM {table} ORDER BY {', '.join(key)} "
                f"LIMIT 1 OFFSET {rows // 2}"
            )
        ).one()
    endpoint = {"salaries": "salary", "employees": "employee"}[table]
    return rows, TokenCodec(secret_key, endpoint).encode(
        "after", "None:0", list(boundary)
    )


def urls(engine: sa.Engine, secret_key: str) -> list[tuple[str, str, str]]:
    """(what, Headway's URL, stock's URL)."""
    salaries, salary_middle = middle_token(
        engine, secret_key, "salaries", ["emp_no", "from_date"]
    )
    employees, employee_middle = middle_token(
        engine, secret_key, "employees", ["emp_no"]
    )
    with engine.connect() as conn:
        emp_no = conn.execute(
            sa.text(f"SELECT emp_no FROM employees LIMIT 1 OFFSET {employees // 2}")
        ).scalar()

    def stock_pages(rows: int) -> tuple[int, int]:
        last = (rows - 1) // STOCK_PAGE_SIZE
        return last // 2, last

    salary_mid, salary_last = stock_pages(salaries)
    employee_mid, employee_last = stock_pages(employees)
    return [
        ("salaries, first page", "/admin/salary/", "/admin/stock_salary/"),
        (
            "salaries, middle page",
            f"/admin/salary/?page={salary_middle}",
            f"/admin/stock_salary/?page={salary_mid}",
        ),
        (
            "salaries, last page",
            "/admin/salary/?page=last",
            f"/admin/stock_salary/?page={salary_last}",
        ),
        ("employees, first page", "/admin/employee/", "/admin/stock_employee/"),
        (
            "employees, middle page",
            f"/admin/employee/?page={employee_middle}",
            f"/admin/stock_employee/?page={employee_mid}",
        ),
        (
            "employees, last page",
            "/admin/employee/?page=last",
            f"/admin/stock_employee/?page={employee_last}",
        ),
        (
            f"employees, last name starts with {SEARCH!r}",
            f"/admin/employee/?search={SEARCH}",
            f"/admin/stock_employee/?search={SEARCH}",
        ),
        (
            "employees, full name 'Georgi Facello'",
            "/admin/employee/?search=Georgi+Facello",
            "/admin/stock_employee/?search=Georgi+Facello",
        ),
        (
            "an employee's details",
            f"/admin/employee/details/?id={emp_no}",
            f"/admin/stock_employee/details/?id={emp_no}",
        ),
    ]


# The search box's kinds of name (names of the demo data and the real one).
NAME_SEARCHES = (
    ("first name", "Georgi"),
    ("last name", "Facello"),
    ("full name", "Georgi Facello"),
    ("last name, first name", "Facello, Georgi"),
)
PLAN_RUNS = 7


def search_plans(engine: sa.Engine) -> bool:
    """EXPLAIN and the median time of the employee list's first page and of
    its count (capped, counting.py) for each kind of name search, with the
    SQL the app builds (its own search condition). False when a plan reads
    the whole table (type ALL) or uses no index."""
    from app.employees import counting
    from app.employees import filters as f
    from app.models import Employee

    print()
    print("Name searches (the employee list's first page, and its count):")
    print("| search | query | type | key | rows | Extra | median ms |")
    print("|---|---|---|---|---|---|---|")
    ok = True
    dialect = engine.dialect
    with engine.connect() as conn:
        for kind, term in NAME_SEARCHES:
            # As views.py's EmployeeView builds them (search_query and
            # narrowed_count).
            condition = f.name_matches(Employee.first_name, Employee.last_name, term)
            page = (
                sa.select(Employee).where(condition).order_by(Employee.emp_no).limit(51)
            )
            if f.is_full_name(term):
                page = page.with_hint(Employee, f.FULL_NAME_HINT, "mysql")
                count = sa.select(sa.func.count()).select_from(
                    sa.select(Employee.emp_no)
                    .where(condition)
                    .limit(counting.CAP + 1)
                    .subquery()
                )
            else:
                count = f.one_name_count(Employee.first_name, Employee.last_name, term)
            for what, statement in (("page", page), ("count", count)):
                sql = str(
                    statement.compile(
                        dialect=dialect, compile_kwargs={"literal_binds": True}
                    )
                )
                plan = conn.exec_driver_sql("EXPLAIN " + sql).mappings().all()
                seconds = []
                for _ in range(PLAN_RUNS):
                    started = time.perf_counter()
                    conn.exec_driver_sql(sql).all()
                    seconds.append(time.perf_counter() - started)
                rows = [r for r in plan if r["table"] == "employees"]
                ok = ok and all(r["type"] != "ALL" and r["key"] for r in rows)

                def each(name, rows=rows):
                    return " + ".join(str(r[name]) for r in rows)

                print(
                    f"| {kind} {term!r} | {what} | {each('type')} | {each('key')} | "
                    f"{each('rows')} | {each('Extra')} | "
                    f"{statistics.median(seconds) * 1000:.1f} |"
                )
    print(f"name searches on indexes: {'ok' if ok else 'FAIL'}")
    return ok


def measure(client: Client, pairs, requests: int) -> dict[str, list[float]]:
    every = [u for _what, mine, stock in pairs for u in (mine, stock)]
    for _ in range(WARMUP_ROUNDS):
        for url in every:
            client.get(url)
    times: dict[str, list[float]] = {u: [] for u in every}
    for _ in range(requests):
        for url in every:
            response = client.get(url)
            if b"<table" not in response.body:
                raise BenchError(f"GET {url} answered a page without a table")
            times[url].append(response.seconds * 1000)
    return times


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def report(pairs, times) -> bool:
    print()
    print(
        "| page | Headway median ms | p95 | stock median ms | p95 | stock / Headway |"
    )
    print("|---|---|---|---|---|---|")
    medians = {}
    for what, mine, stock in pairs:
        m, s = statistics.median(times[mine]), statistics.median(times[stock])
        medians[what] = (m, s)
        print(
            f"| {what} | {m:.1f} | {p95(times[mine]):.1f} | {s:.1f} | "
            f"{p95(times[stock]):.1f} | {s / m:.1f}x |"
        )
    print()
    ok = True
    for table in ("salaries", "employees"):
        first, _ = medians[f"{table}, first page"]
        last, stock_last = medians[f"{table}, last page"]
        depth, speedup = last / first, stock_last / last
        depth_ok = depth <= TARGET_DEPTH_RATIO
        verdict = f"last page / first page = {depth:.2f} (target <= "
        verdict += f"{TARGET_DEPTH_RATIO}: {'ok' if depth_ok else 'FAIL'}); "
        verdict += f"stock last page / Headway last page = {speedup:.1f}x"
        ok = ok and depth_ok
        if table == SPEEDUP_TABLE:
            speed_ok = speedup >= TARGET_SPEEDUP
            ok = ok and speed_ok
            verdict += f" (target >= {TARGET_SPEEDUP:.0f}x: "
            verdict += f"{'ok' if speed_ok else 'FAIL'})"
        print(f"{table}: {verdict}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("BENCH_MYSQL_URL", DEFAULT_URL))
    parser.add_argument("--scale", default="30")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()

    url = sa.make_url(args.url)
    if url.get_backend_name() != "mysql":
        print("bench/employees.py measures MySQL/MariaDB: give a mysql+pymysql URL")
        return 2
    secret_key = secrets.token_hex(32)
    env = environment(
        url.render_as_string(hide_password=False),
        secret_key=secret_key,
        PYTHONUNBUFFERED="1",
    )
    env["GUNICORN_CMD_ARGS"] = ""
    print(f"Machine: {machine()}")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    process = None
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-employees-{os.getpid()}.log"
    try:
        prepare(url, env, args.scale, args.reuse)
        with engine.connect() as conn:
            version = conn.execute(sa.text("SELECT VERSION()")).scalar()
        print(f"Database: {version}, scale {args.scale}")
        plans_ok = search_plans(engine)
        pairs = urls(engine, secret_key)
        port = free_port()
        process = start_gunicorn(env, port, args.workers, log, app=APP)
        wait_until_healthy(port, process)
        client = Client(port)
        client.login(USERNAME, PASSWORD)
        started = time.perf_counter()
        times = measure(client, pairs, args.requests)
        print(
            f"{args.requests} requests per page, interleaved, "
            f"in {time.perf_counter() - started:.0f} s (gunicorn, "
            f"{args.workers} workers)"
        )
        ok = report(pairs, times) and plans_ok
    except BenchError as exc:
        print(f"bench failed: {exc}")
        if log.exists():
            print(log.read_text()[-3000:])
        return 1
    finally:
        if process is not None:
            stop(process)
        engine.dispose()
        log.unlink(missing_ok=True)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
