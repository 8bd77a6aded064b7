"""Whether the migration console stays as fast with a long history, under gunicorn.

    .venv/bin/python bench/console.py [--revisions 1000] [--small 10]
                                      [--requests 100] [--clients 20]
                                      [--load-rounds 10] [--workers W]

1. Writes two copies of migrations/, each with more revisions after its head:
   --small (10) and --revisions (1,000); a chain with, every 50 revisions, a
   two-revision side branch merged back (one head in the end). Bodies are
   `pass` except a few that add a column, so that `flask db upgrade` stays
   quick.
2. Prepares a temporary SQLite database for each, the way a user would, with
   HEADWAY_CONFIG=production: `flask demo create-legacy --scale 0.1`,
   `flask headway init`, `flask db adopt --to 0001_baseline`,
   `flask db upgrade --no-preflight` to 10 revisions before the head (the
   dashboard then lists 10 pending ones, and the audit trail has a row for
   each step), a viewer; then as many jobs as revisions, and audit rows up to
   as many (the history, the jobs and the audit trail grow alike).
3. Serves both at once, each with a real gunicorn as `make run` serves it
   (gunicorn.conf.py: its worker class and worker count; --workers W to
   change the count) and, logged in, times the dashboard, the history (its
   default page, the newest 25), the plan and the status JSON on both, R
   times each, interleaved round-robin across the two servers so that machine
   noise hits both alike, after a warm-up. Target: each page at 1,000
   revisions within 1.3x of the same page at 10 (medians).
4. Counts the SQL statements of each console page (and the home page, which
   is the navbar and little else) at both sizes, in process with SQLAlchemy's
   events, as tests/test_statement_counts.py does; a count that grows fails.
5. Under load: --clients (20) concurrent clients, each on its own connection,
   each requesting the dashboard, the history and the status --load-rounds
   times against the 1,000-revision server, client i starting at page i (mod
   3); prints each page's median, p95 and the throughput, and the clients'
   first requests (all sent at once) on their own.
6. Prints the machine and the tables. Exit 1 when a target is not met.

The app is the deployed one, wsgi:app, pointed at each copy by
HEADWAY_MIGRATIONS_DIR. Everything the bench makes lives in one temporary
directory, removed at the end, failure or not.
"""

import argparse
import hashlib
import http.client
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench.common import BenchError, create_user, environment  # noqa: E402

APP = "wsgi:app"


BRANCH_EVERY = 50  # a side branch, merged back, every this many revisions
ADD_COLUMN_EVERY = 200  # the few revisions that really change the schema
PENDING = 10  # revisions left for the dashboard to list
LEGACY_SCALE = "0.1"  # 1,000 employees: the data is not what is measured

USERNAME = "bench"
PASSWORD = "bench-password-123"  # at least 12 characters
# SESSION_PROTECTION = "strong" binds the session to the user agent: one for all.
USER_AGENT = "headway-bench/1"

LOGIN = "/login"
ADMIN_INDEX = "/admin/"
DASHBOARD = "/admin/migrations/"
HISTORY = "/admin/migrations/history"
PLAN = "/admin/migrations/plan"
AUDIT = "/admin/migrations/audit"
JOBS = "/admin/migrations/jobs"
STATUS = "/api/migrations/status"
# Timed at both sizes; each at the large one within FLAT_TARGET of the small.
FLAT_URLS = (DASHBOARD, HISTORY, PLAN, STATUS)
FLAT_TARGET = 1.3
# Timed under load, on the large history.
LOAD_URLS = (DASHBOARD, HISTORY, STATUS)
# Whose SQL statements are counted (the home page: the navbar and little else).
COUNTED_URLS = (ADMIN_INDEX, DASHBOARD, HISTORY, PLAN, AUDIT, JOBS, STATUS)
HISTORY_PAGE_SIZE = 25  # the history's default page: the newest 25
# Over the one keep-alive connection of each site's client, so one worker;
# every worker built the catalog and compiled the templates before it took a
# connection (app/warmup.py). These fill that worker's per-state memos.
WARMUP_ROUNDS = 10

SERVER_START_SECONDS = 60
FLASK_COMMAND_SECONDS = 900  # `flask db adopt` and `upgrade` walk every revision
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
PENDING_LIST_RE = re.compile(r'<ol id="pending">(.*?)</ol>', re.DOTALL)

TOPICS = (
    "index salaries by from_date",
    "widen titles.title",
    "backfill employee emails",
    "tidy dept_emp dates",
    "comment on departments",
    "normalise gender codes",
    "rename a constraint",
    "drop an unused view",
)


# -- the revisions --------------------------------------------------------------


@dataclass(frozen=True)
class Revision:
    id: str
    down: tuple[str, ...]
    message: str
    created: datetime
    # Every revision written before this one is an ancestor of it: upgrading
    # to it leaves exactly the later ones pending.
    linear: bool
    upgrade: str = "pass"
    downgrade: str = "pass"


def project_revisions() -> list[str]:
    """The revisions of the project's migrations/, newest first: the bench
    writes its own after the head, so that there is one head in the end."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(ROOT / "migrations"))
    heads = script.get_heads()
    if len(heads) != 1:
        raise BenchError(f"migrations/ has {len(heads)} heads, not one")
    return [s.revision for s in script.walk_revisions()]


def plan_revisions(count: int, base: str) -> list[Revision]:
    """`count` revisions after `base`, parents before children.

    Every BRANCH_EVERY revisions: a branch point P, a side branch S1 -> S2 off
    P, one revision M1 on the main line off P, then a merge of (M1, S2). A
    block too short for all five stays linear, so there is one head.
    """
    revisions: list[Revision] = []
    start = datetime(2024, 1, 8, 9, 30)

    def add(down: tuple[str, ...], topic: str, linear: bool) -> str:
        n = len(revisions)
        # Alembic's ids are 12 hex digits; these are stable from run to run.
        rev = hashlib.sha256(f"headway-bench-{n}".encode()).hexdigest()[:12]
        kwargs: dict[str, str] = {}
        if linear and n % ADD_COLUMN_EVERY == ADD_COLUMN_EVERY - 1:
            column = f"bench_note_{n}"
            topic = f"add employees.{column}"
            kwargs = {
                "upgrade": f'op.add_column("employees", sa.Column("{column}", '
                "sa.String(40), nullable=True))",
                "downgrade": f'op.drop_column("employees", "{column}")',
            }
        revisions.append(
            Revision(
                id=rev,
                down=down,
                message=f"{topic} (bench {n + 1})",
                created=start
                + timedelta(hours=7 * n, minutes=n % 60, microseconds=n * 7919),
                linear=linear,
                **kwargs,
            )
        )
        return rev

    tip = base
    while len(revisions) < count:
        n = len(revisions)
        if n % BRANCH_EVERY == 0 and count - n >= 5:
            point = add((tip,), "branch point", linear=True)
            side = add((point,), "side branch, first step", linear=False)
            side = add((side,), "side branch, second step", linear=False)
            main = add((point,), TOPICS[n % len(TOPICS)], linear=False)
            tip = add((main, side), "merge the side branch", linear=True)
        else:
            tip = add((tip,), TOPICS[n % len(TOPICS)], linear=True)
    return revisions


def revision_source(rev: Revision) -> str:
    """A revision file as `flask db revision` writes it (script.py.mako)."""
    down = rev.down[0] if len(rev.down) == 1 else rev.down
    return textwrap.dedent(
        f'''\
        """{rev.message}

        Revision ID: {rev.id}
        Revises: {", ".join(rev.down)}
        Create Date: {rev.created.strftime("%Y-%m-%d %H:%M:%S.%f")}

        """

        import sqlalchemy as sa
        from alembic import op

        # revision identifiers, used by Alembic.
        revision = {rev.id!r}
        down_revision = {down!r}
        branch_labels = None
        depends_on = None


        def upgrade():
            {rev.upgrade}


        def downgrade():
            {rev.downgrade}
        '''
    )


def write_migrations(directory: Path, revisions: list[Revision]) -> None:
    shutil.copytree(
        ROOT / "migrations", directory, ignore=shutil.ignore_patterns("__pycache__")
    )
    for rev in revisions:
        # Alembic's file_template: %(rev)s_%(slug)s.
        slug = re.sub(r"\W+", "_", rev.message.lower()).strip("_")[:40]
        path = directory / "versions" / f"{rev.id}_{slug}.py"
        path.write_text(revision_source(rev))


def upgrade_target(revisions: list[Revision], base: str) -> tuple[str, list[str]]:
    """The newest revision that leaves at least PENDING revisions pending, and
    those, in the order written (the apply order on a linear stretch)."""
    for i in range(len(revisions) - 1 - PENDING, -1, -1):
        if revisions[i].linear:
            return revisions[i].id, [r.id for r in revisions[i + 1 :]]
    return base, [r.id for r in revisions]


# -- processes ------------------------------------------------------------------


def app_env(database_url: str, migrations: Path) -> dict[str, str]:
    """The environment of a production deployment, with nothing inherited that
    could point the app elsewhere."""
    return environment(database_url, migrations, PYTHONUNBUFFERED="1")


def flask(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """Run `flask ARGS` from the project root, as a user would; its stdout."""
    return common.flask(env, *args, stdin=stdin, timeout=FLASK_COMMAND_SECONDS)


def timed(label: str, run: Callable[[], object]) -> float:
    print(f"  {label} ...", end=" ", flush=True)
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    print(f"{seconds:.1f} s", flush=True)
    return seconds


def prepare_database(env: dict[str, str], target: str, adopt_all: bool) -> None:
    # Headway's tables before the adoption, as in the README's "Deploying": the
    # audit trail then has a row for every step applied, as on a deployment
    # that has run its upgrades with Headway, and the dashboard reads it
    # (checksums). Plain `adopt` builds and compares the schema of every
    # revision to find the newest match: minutes at 1,000 revisions. The legacy
    # database is the baseline's, so check that one only. Preflight would
    # rehearse each of the steps on a scratch copy first: the bench's steps are
    # `pass` or an added nullable column.
    common.prepare_legacy(
        env,
        LEGACY_SCALE,
        adopt=() if adopt_all else ("--to", "0001_baseline"),
        upgrade=("--no-preflight", target),
        each=timed,
        timeout=FLASK_COMMAND_SECONDS,
    )
    timed(
        f"flask users create {USERNAME} --role viewer",
        lambda: create_user(env, USERNAME, "viewer", PASSWORD),
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(
    env: dict[str, str], port: int, workers: int | None, log: Path, app: str = APP
):
    # From the project root, so gunicorn.conf.py applies as deployed (its
    # worker class, access log); only the bind and the worker count are the
    # bench's (the count only when --workers is given).
    with log.open("wb") as out:
        return subprocess.Popen(
            [
                *(sys.executable, "-m", "gunicorn"),
                *("--bind", f"127.0.0.1:{port}"),
                *(("--workers", str(workers)) if workers else ()),
                # gunicorn.conf.py puts it in instance/, where a gunicorn of
                # `make run` may have its own.
                "--no-control-socket",
                app,
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_until_healthy(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"gunicorn exited {process.returncode} while starting")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    raise BenchError(f"gunicorn did not answer /healthz in {SERVER_START_SECONDS} s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# -- HTTP -----------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    seconds: float

    @property
    def text(self) -> str:
        return self.body.decode()


class Client:
    """One HTTP/1.1 connection that keeps a browser's session cookie.

    ProductionConfig marks the session cookie Secure, and a cookie jar would
    then never send it back over plain http. The production configuration is
    what is measured, so it stays as deployed: the client keeps the cookies
    itself and sends them in a Cookie header, as a browser behind TLS would.

    The connection asks for keep-alive: gevent workers keep it open for
    `HEADWAY_KEEPALIVE` seconds (sync workers closed it after each response;
    http.client then reconnects by itself). A loopback connect costs the same
    for every URL.
    """

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, body: str | None = None, **headers: str
    ) -> Response:
        headers = {"User-Agent": USER_AGENT, "Connection": "keep-alive", **headers}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            started = time.perf_counter()
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError) as exc:
                # The server closed an idle keep-alive connection (after
                # HEADWAY_KEEPALIVE seconds): a GET is sent again on a new one.
                self.conn.close()
                if method != "GET" or attempt == 2:
                    raise BenchError(f"{method} {path}: {exc}") from None
                continue
            break
        data = response.read()
        seconds = time.perf_counter() - started
        for cookie in response.headers.get_all("Set-Cookie") or ():
            name, _, rest = cookie.partition("=")
            value, _, attributes = rest.partition(";")
            if "expires=thu, 01 jan 1970" in attributes.lower():
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return Response(response.status, response.headers, data, seconds)

    def get(self, path: str) -> Response:
        response = self.request("GET", path)
        if response.status != 200:
            raise BenchError(f"GET {path} answered {response.status}, not 200")
        return response

    def login(self, username: str, password: str) -> None:
        match = CSRF_RE.search(self.get("/login").text)
        if not match:
            raise BenchError("no CSRF token in the login form")
        form = {"csrf_token": match.group(1), "username": username}
        form["password"] = password
        response = self.request(
            "POST",
            "/login",
            body=urlencode(form),
            **{"Content-Type": "application/x-www-form-urlencoded"},
        )
        location = response.headers.get("Location", "")
        if response.status != 302 or not location.endswith(ADMIN_INDEX):
            raise BenchError(
                f"login answered {response.status} (Location {location!r}), "
                f"not a redirect to {ADMIN_INDEX}"
            )

    def close(self) -> None:
        self.conn.close()


@dataclass
class Expected:
    """What the console must show, checked on every response."""

    pending: list[str]
    revisions: int  # in the whole history
    checks: dict[str, Callable[[Response], None]] = field(init=False)

    def __post_init__(self) -> None:
        self.checks = {
            DASHBOARD: self.dashboard,
            HISTORY: self.history,
            PLAN: lambda r: None,
            STATUS: self.status,
        }

    def dashboard(self, response: Response) -> None:
        page = response.text
        listed = PENDING_LIST_RE.search(page)
        if 'data-state="behind"' not in page or not listed:
            raise BenchError("the dashboard does not show the database as behind")
        missing = [rev for rev in self.pending if rev not in listed.group(1)]
        if missing or listed.group(1).count("<li>") != len(self.pending):
            raise BenchError(f"the dashboard's pending list is wrong: {missing=}")

    def history(self, response: Response) -> None:
        page = response.text
        # One row per revision of the page, each with its node in the graph.
        wanted = min(self.revisions, HISTORY_PAGE_SIZE)
        rows = page.count('<tr data-revision="')
        drawn = page.count('class="node')
        if rows != wanted or drawn != wanted:
            raise BenchError(
                f"history lists {rows} and draws {drawn} revisions, not {wanted}"
            )

    def status(self, response: Response) -> None:
        body = json.loads(response.body)
        # Sorted: across a branch, Alembic's apply order need not be the order
        # the files were written in.
        if body["state"] != "behind" or sorted(body["pending"]) != sorted(self.pending):
            raise BenchError(
                f"status is {body['state']} with {len(body['pending'])} pending, "
                f"not behind with {len(self.pending)}"
            )


@dataclass
class Site:
    """One prepared history: its database, its server and a logged-in client."""

    revisions: int  # written after the project's head
    env: dict[str, str]
    expected: Expected
    log: Path
    port: int = 0
    server: subprocess.Popen | None = None
    client: Client | None = None


def grow_jobs_and_audit(database: Path, rows: int) -> tuple[int, int]:
    """As many jobs as revisions, and audit rows up to as many: the console
    reads the newest few of each, whatever their number. Written with plain
    SQL (no app): the rows of a deployment that has run that many jobs."""
    with sqlite3.connect(database) as conn:
        now = datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")
        conn.executemany(
            "INSERT INTO headway_jobs (action, target, purge, allow_data_loss,"
            " no_verify, no_preflight, online, requested_by, from_revisions,"
            " status, started_at, finished_at, log, planned)"
            " VALUES ('upgrade', 'heads', 0, 0, 0, 0, 0, 'bench', '',"
            " 'succeeded', ?, ?, '', '')",
            [(now, now)] * rows,
        )
        (audit,) = conn.execute("SELECT COUNT(*) FROM headway_audit").fetchone()
        conn.executemany(
            "INSERT INTO headway_audit (action, revision, from_revisions,"
            " to_revisions, started_at, duration_ms, success, actor)"
            " VALUES ('upgrade', NULL, '', '', ?, 1, 1, 'bench')",
            [(now,)] * max(0, rows - audit),
        )
        jobs = conn.execute("SELECT COUNT(*) FROM headway_jobs").fetchone()[0]
        audit = conn.execute("SELECT COUNT(*) FROM headway_audit").fetchone()[0]
    return jobs, audit


def prepare_site(tmp: Path, project: list[str], count: int) -> Site:
    revisions = plan_revisions(count, project[0])
    target, pending = upgrade_target(revisions, project[0])
    home = tmp / f"r{count}"
    home.mkdir()
    migrations = home / "migrations"
    write_migrations(migrations, revisions)
    merges = sum(len(r.down) > 1 for r in revisions)
    print(
        f"{count:,} revisions: {project[0]} + {len(revisions):,} "
        f"(merges: {merges}), upgraded to {target}, {len(pending)} pending"
    )
    database = home / "headway.db"
    env = app_env(f"sqlite:///{database}", migrations)
    prepare_database(env, target, adopt_all=False)
    jobs, audit = grow_jobs_and_audit(database, count)
    print(f"  jobs: {jobs:,}, audit rows: {audit:,}")
    return Site(
        count,
        env,
        Expected(pending, revisions=len(revisions) + len(project)),
        home / "gunicorn.log",
    )


def start_site(site: Site, workers: int | None) -> None:
    site.port = free_port()
    site.server = start_gunicorn(site.env, site.port, workers, site.log)
    wait_until_healthy(site.port, site.server)
    site.client = Client(site.port)
    site.client.login(USERNAME, PASSWORD)


def fetch(site: Site, url: str, client: Client | None = None) -> float:
    response = (client or site.client).get(url)
    site.expected.checks[url](response)
    return response.seconds


def measure_flat(sites: list[Site], requests: int) -> dict[tuple[int, str], list]:
    """Seconds per request of each page on each site, interleaved across the
    sites and the pages after a warm-up."""
    for _ in range(WARMUP_ROUNDS):
        for url in FLAT_URLS:
            for site in sites:
                fetch(site, url)
    samples: dict[tuple[int, str], list[float]] = {
        (site.revisions, url): [] for site in sites for url in FLAT_URLS
    }
    for _ in range(requests):
        for url in FLAT_URLS:
            for site in sites:
                samples[site.revisions, url].append(fetch(site, url))
    return samples


def measure_load(
    site: Site, clients: int, rounds: int
) -> tuple[dict, list[float], float]:
    """`clients` threads, each on its own keep-alive connection (the logged-in
    session's cookie), each requesting every LOAD_URLS page `rounds` times,
    client i starting at page i (mod the pages): the first requests, all sent
    at once on new connections, queue behind each other, and they fall on
    every page alike rather than all on the first. Returns the seconds per
    request of each page, those of each client's first request, and the wall
    time."""
    import threading

    samples: dict[str, list[float]] = {url: [] for url in LOAD_URLS}
    firsts: list[float] = []
    errors: list[BaseException] = []
    start = threading.Barrier(clients)

    def one_client(index: int) -> None:
        client = Client(site.port)
        client.cookies = dict(site.client.cookies)
        turn = index % len(LOAD_URLS)
        order = LOAD_URLS[turn:] + LOAD_URLS[:turn]
        mine: dict[str, list[float]] = {url: [] for url in LOAD_URLS}
        try:
            start.wait()
            for _ in range(rounds):
                for url in order:
                    mine[url].append(fetch(site, url, client))
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)
        finally:
            client.close()
        for url in LOAD_URLS:
            samples[url].extend(mine[url])  # list.extend holds the GIL
        if mine[order[0]]:
            firsts.append(mine[order[0]][0])

    threads = [threading.Thread(target=one_client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if errors:
        raise BenchError(f"under load: {errors[0]}")
    return samples, firsts, wall


# -- statements ------------------------------------------------------------------


def count_statements_here() -> dict[str, int]:
    """In this process (the bench's child, with a site's environment): each
    counted page's SQL statements, on its second request (the first builds the
    catalog and the statements' caches), as a logged-in viewer."""
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import event

    from app import create_app
    from app.extensions import db

    app = create_app()
    # The production session cookie is Secure: the client speaks https.
    client = app.test_client()
    # Flask-WTF checks an https POST's Referer against the host.
    headers = {"User-Agent": USER_AGENT, "Referer": f"https://localhost{LOGIN}"}
    base = {"base_url": "https://localhost", "headers": headers}
    token = CSRF_RE.search(client.get(LOGIN, **base).get_data(as_text=True))
    if token is None:
        raise BenchError("no CSRF token in the login form")
    form = {"csrf_token": token.group(1), "username": USERNAME, "password": PASSWORD}
    response = client.post(LOGIN, data=form, **base)
    if response.status_code != 302:
        raise BenchError(f"the in-process login answered {response.status_code}")
    with app.app_context():
        engine = db.engine
    found = {}
    for url in COUNTED_URLS:
        client.get(url, **base)
        statements: list[str] = []

        def count(conn, cursor, statement, *args, seen=statements):
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            status = client.get(url, **base).status_code
        finally:
            event.remove(engine, "before_cursor_execute", count)
        if status != 200:
            raise BenchError(f"GET {url} answered {status} in process")
        found[url] = len(statements)
    return found


def count_statements(site: Site) -> dict[str, int]:
    result = subprocess.run(
        [sys.executable, __file__, "--count-statements"],
        cwd=ROOT,
        env=site.env,
        capture_output=True,
        text=True,
        timeout=FLASK_COMMAND_SECONDS,
    )
    if result.returncode != 0:
        raise BenchError(f"counting statements failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# -- report ---------------------------------------------------------------------


def machine() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    # Without .pyc files every process compiles each revision file it loads.
    bytecode = "off" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "on"
    return (
        f"{model}, {os.cpu_count()} cores; Python {platform.python_version()} "
        f"(.pyc writing {bytecode}); SQLite {sqlite3.sqlite_version}; "
        f"{platform.platform()}"
    )


def percentile(values: list[float], q: float) -> float:
    """Nearest rank: a value that was measured, never an interpolation."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def report(
    small: int,
    large: int,
    flat: dict,
    counts: dict[int, dict[str, int]],
    load: dict[str, list[float]],
    firsts: list[float],
    wall: float,
    clients: int,
) -> bool:
    """Print the results; True when every target is met."""
    passed = True
    width = max(len(url) for url in COUNTED_URLS) + 4
    print()
    print(f"flat in the size of the history (medians; target at most {FLAT_TARGET}x):")
    print(
        f"{'page':<{width}}  {f'{small:,} rev ms':>11}  {f'{large:,} rev ms':>12}  "
        f"{'ratio':>6}  verdict"
    )
    for url in FLAT_URLS:
        a = statistics.median(flat[small, url])
        b = statistics.median(flat[large, url])
        ok = b / a <= FLAT_TARGET
        passed &= ok
        print(
            f"{'GET ' + url:<{width}}  {a * 1e3:>11.1f}  {b * 1e3:>12.1f}  "
            f"{b / a:>6.2f}  {'PASS' if ok else 'FAIL'}"
        )
    print()
    print("SQL statements per page (in process; a count that grows fails):")
    print(f"{'page':<{width}}  {f'{small:,} rev':>9}  {f'{large:,} rev':>9}  verdict")
    for url in COUNTED_URLS:
        a, b = counts[small][url], counts[large][url]
        ok = b <= a
        passed &= ok
        print(f"{'GET ' + url:<{width}}  {a:>9}  {b:>9}  {'PASS' if ok else 'FAIL'}")
    print()
    total = sum(len(v) for v in load.values())
    print(
        f"under load: {clients} concurrent clients, {large:,} revisions, "
        f"{total:,} requests in {wall:.1f} s ({total / wall:.0f} requests/s):"
    )
    print(
        f"{'page':<{width}}  {'median ms':>9}  {'p95 ms':>8}  {'max ms':>8}  {'n':>5}"
    )
    for url in LOAD_URLS:
        samples = load[url]
        print(
            f"{'GET ' + url:<{width}}  {statistics.median(samples) * 1e3:>9.1f}  "
            f"{percentile(samples, 0.95) * 1e3:>8.1f}  {max(samples) * 1e3:>8.1f}  "
            f"{len(samples):>5}"
        )
    print(
        f"of which each client's first request ({len(firsts)}, sent at once on "
        f"new connections): median {statistics.median(firsts) * 1e3:.1f} ms, "
        f"max {max(firsts) * 1e3:.1f} ms"
    )
    print()
    print(f"verdict: {'PASS' if passed else 'FAIL'}")
    return passed


# -- main -----------------------------------------------------------------------


def run(args: argparse.Namespace, tmp: Path) -> bool:
    project = project_revisions()
    print("setup:")
    sites = [prepare_site(tmp, project, n) for n in (args.small, args.revisions)]
    counts = {}
    for site in sites:
        counts[site.revisions] = count_statements(site)
    failed = True
    try:
        for site in sites:
            start_site(site, args.workers)
        workers = args.workers or "gunicorn.conf.py's"
        print(
            f"gunicorn {APP} ({workers} workers each): measuring {len(FLAT_URLS)} "
            f"pages x {len(sites)} sites x {args.requests} requests "
            f"(+{WARMUP_ROUNDS} warm-up rounds) ...",
            flush=True,
        )
        flat = measure_flat(sites, args.requests)
        print(
            f"under load: {args.clients} clients x {len(LOAD_URLS)} pages x "
            f"{args.load_rounds} rounds ...",
            flush=True,
        )
        load, firsts, wall = measure_load(sites[-1], args.clients, args.load_rounds)
        failed = False
    finally:
        for site in sites:
            if site.client is not None:
                site.client.close()
            if site.server is not None:
                stop(site.server)
            if failed and site.log.exists():
                # The server's side of the story, before the directory goes.
                print(site.log.read_text(errors="replace")[-4000:], file=sys.stderr)
    return report(
        args.small, args.revisions, flat, counts, load, firsts, wall, args.clients
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, default=1000)
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--load-rounds", type=int, default=10)
    parser.add_argument(
        "--workers", type=int, default=None, help="default: gunicorn.conf.py's"
    )
    parser.add_argument("--count-statements", action="store_true", help="internal")
    args = parser.parse_args()
    if args.count_statements:
        # The child of count_statements(), in a site's environment.
        print(json.dumps(count_statements_here()))
        return
    if min(args.revisions, args.small, args.requests, args.clients) < 1:
        parser.error("--revisions, --small, --requests and --clients must be >= 1")

    # A plain kill runs the clean-up too (finally blocks), like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="headway-bench-") as tmp:
        try:
            passed = run(args, Path(tmp))
        except BenchError as exc:
            sys.exit(f"bench failed: {exc}")
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
