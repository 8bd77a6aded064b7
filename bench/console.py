"""How fast the migration console answers with a long history, under gunicorn.

    .venv/bin/python bench/console.py [--revisions 1000] [--requests 200]
                                      [--workers 2] [--adopt-all]

1. Copies migrations/ to a temporary directory and writes N more revisions
   after its head: a chain with, every 50 revisions, a two-revision
   side branch merged back (one head in the end). Bodies are `pass` except a
   few that add a column, so that `flask db upgrade` stays quick.
2. Prepares a temporary SQLite database the way a user would, with
   HEADWAY_CONFIG=production: `flask demo create-legacy --scale 0.1`,
   `flask headway init`, `flask db adopt --to 0001_baseline` (--adopt-all:
   plain `flask db adopt`, which takes minutes at 1,000 revisions),
   `flask db upgrade` to 10 revisions before the head (the dashboard then
   lists 10 pending ones, and the audit trail has a row for each step), a
   viewer.
3. Serves it with a real gunicorn (gunicorn.conf.py, --workers W) and times
   the anonymous GET /login (the baseline: a trivial page that stays the same
   whatever the console does), then, logged in through /login, the admin's
   home page, the dashboard, the history page (its default page: the newest
   100) and the status JSON, R times each, interleaved round-robin so that
   machine noise hits every URL alike, after a warm-up (the cold first
   requests are shown apart).
4. Times `flask db current`, `flask db heads`, `flask db history` (5 runs).
5. Prints the machine, one table with each page's target and verdict beside
   its figures, and the overall verdict: at 1,000 revisions the history page
   within 2.5x of the login page, the dashboard and the status within 1.5x.
   Exit 1 on FAIL.

The app is the deployed one, wsgi:app, pointed at the copy by
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
import secrets
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
APP = "wsgi:app"


BRANCH_EVERY = 50  # a side branch, merged back, every this many revisions
ADD_COLUMN_EVERY = 200  # the few revisions that really change the schema
PENDING = 10  # revisions left for the dashboard to list
LEGACY_SCALE = "0.1"  # 1,000 employees: the data is not what is measured

USERNAME = "bench"
PASSWORD = "bench-password-123"  # at least 12 characters
# SESSION_PROTECTION = "strong" binds the session to the user agent: one for all.
USER_AGENT = "headway-bench/1"

LOGIN = "/login"  # the baseline, requested anonymously
ADMIN_INDEX = "/admin/"
DASHBOARD = "/admin/migrations/"
HISTORY = "/admin/migrations/history"
STATUS = "/api/migrations/status"
URLS = (LOGIN, ADMIN_INDEX, DASHBOARD, HISTORY, STATUS)
# The most each page may take, as a multiple of the login page's median.
TARGETS = {HISTORY: 2.5, DASHBOARD: 1.5, STATUS: 1.5}
HISTORY_PAGE_SIZE = 100  # the history's default page: the newest 100
WARMUP_ROUNDS = 20  # enough for every worker to load its own catalog
CLI_RUNS = 5

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


class BenchError(Exception):
    """The benchmark cannot go on; the message says why."""


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
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HEADWAY_", "GUNICORN_"))
        and k not in ("DATABASE_URL", "SECRET_KEY", "FLASK_APP")
    }
    env.update(
        HEADWAY_CONFIG="production",
        SECRET_KEY=secrets.token_hex(32),
        DATABASE_URL=database_url,
        HEADWAY_MIGRATIONS_DIR=str(migrations),
        PYTHONUNBUFFERED="1",
    )
    return env


def flask(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """Run `flask ARGS` from the project root, as a user would; its stdout."""
    try:
        result = subprocess.run(
            [sys.executable, "-m", "flask", "--app", APP, *args],
            cwd=ROOT,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=FLASK_COMMAND_SECONDS,
        )
    except subprocess.TimeoutExpired:
        raise BenchError(
            f"flask {' '.join(args)} ran over {FLASK_COMMAND_SECONDS} s"
        ) from None
    if result.returncode != 0:
        raise BenchError(
            f"flask {' '.join(args)} exited {result.returncode}:\n"
            f"{result.stdout}{result.stderr}"
        )
    return result.stdout


def timed(label: str, run: Callable[[], object]) -> float:
    print(f"  {label} ...", end=" ", flush=True)
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    print(f"{seconds:.1f} s", flush=True)
    return seconds


def prepare_database(env: dict[str, str], target: str, adopt_all: bool) -> None:
    timed(
        f"flask demo create-legacy --scale {LEGACY_SCALE}",
        lambda: flask(env, "demo", "create-legacy", "--scale", LEGACY_SCALE),
    )
    # Headway's tables first, as in the README's "Deploying": the audit trail
    # then has a row for every step applied, as on a deployment that has run
    # its upgrades with Headway, and the dashboard reads it (checksums).
    timed("flask headway init", lambda: flask(env, "headway", "init"))
    if adopt_all:
        timed("flask db adopt", lambda: flask(env, "db", "adopt"))
    else:
        # Plain `adopt` builds and compares the schema of every revision to
        # find the newest match: minutes at 1,000 revisions. The legacy
        # database is the baseline's, so check that one only.
        adopt = ("db", "adopt", "--to", "0001_baseline")
        timed(f"flask {' '.join(adopt)}", lambda: flask(env, *adopt))
    timed(f"flask db upgrade {target}", lambda: flask(env, "db", "upgrade", target))
    timed(
        f"flask users create {USERNAME} --role viewer",
        lambda: flask(
            env,
            *("users", "create", USERNAME, "--role", "viewer", "--password-stdin"),
            stdin=PASSWORD + "\n",
        ),
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(env: dict[str, str], port: int, workers: int, log: Path):
    # From the project root, so gunicorn.conf.py applies as deployed (its
    # worker class, access log); only the bind and the worker count are the
    # bench's.
    with log.open("wb") as out:
        return subprocess.Popen(
            [
                *(sys.executable, "-m", "gunicorn"),
                *("--bind", f"127.0.0.1:{port}", "--workers", str(workers)),
                # gunicorn.conf.py puts it in instance/, where a gunicorn of
                # `make run` may have its own.
                "--no-control-socket",
                APP,
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
        started = time.perf_counter()
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
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
            LOGIN: self.login_page,
            ADMIN_INDEX: lambda r: None,
            DASHBOARD: self.dashboard,
            HISTORY: self.history,
            STATUS: self.status,
        }

    def login_page(self, response: Response) -> None:
        if not CSRF_RE.search(response.text):
            raise BenchError("the login page has no login form")

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
class PageTimes:
    """Per URL, in seconds: the first request after gunicorn started, the
    slowest warm-up request, the measured requests; and the page's size."""

    first: dict[str, float] = field(default_factory=dict)
    slowest_warmup: dict[str, float] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)
    size: dict[str, int] = field(default_factory=dict)


def measure_pages(
    client: Client, anonymous: Client, expected: Expected, requests: int
) -> PageTimes:
    times = PageTimes()

    def fetch(url: str) -> float:
        response = (anonymous if url == LOGIN else client).get(url)
        expected.checks[url](response)
        times.size[url] = len(response.body)
        return response.seconds

    # The baselines first: their first requests pay for what every page
    # needs once (templates, a database connection), not for the catalog.
    for url in URLS:
        times.first[url] = fetch(url)
    for _ in range(WARMUP_ROUNDS):
        for url in URLS:
            seconds = fetch(url)
            times.slowest_warmup[url] = max(times.slowest_warmup.get(url, 0), seconds)
    for url in URLS:
        times.samples[url] = []
    for _ in range(requests):
        for url in URLS:
            times.samples[url].append(fetch(url))
    return times


def measure_cli(env: dict[str, str], target: str, head: str) -> dict[str, list[float]]:
    """Seconds per run of each command, whose output must name `wanted`."""
    wanted = {"db current": target, "db heads": head, "db history": head}
    samples: dict[str, list[float]] = {name: [] for name in wanted}
    # Round-robin too, for the same reason as the pages.
    for _ in range(CLI_RUNS):
        for name in wanted:
            started = time.perf_counter()
            out = flask(env, *name.split())
            samples[name].append(time.perf_counter() - started)
            if wanted[name] not in out:
                raise BenchError(f"flask {name} does not name {wanted[name]}")
    return samples


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


def report(revisions: int, pages: PageTimes, cli: dict[str, list[float]]) -> bool:
    """Print the results; True when every target is met."""
    base = statistics.median(pages.samples[LOGIN])
    rows = [(f"GET {url}", url, s, pages.size[url]) for url, s in pages.samples.items()]
    rows += [(f"flask {name}", None, s, None) for name, s in cli.items()]
    width = max(len(name) for name, _, _, _ in rows)
    print()
    print(
        f"{'URL or command':<{width}}  {'median ms':>9}  {'p95 ms':>8}  "
        f"{'x /login':>8}  {'target':>6}  {'verdict':<7}  {'n':>5}  {'bytes':>9}"
    )
    passed = True
    for name, url, samples, size in rows:
        mid, p95 = statistics.median(samples), percentile(samples, 0.95)
        target = TARGETS.get(url)
        verdict = ""
        if target is not None:
            ok = mid / base <= target
            passed &= ok
            verdict = "PASS" if ok else "FAIL"
        line = (
            f"{name:<{width}}  {mid * 1e3:>9.1f}  {p95 * 1e3:>8.1f}  "
            f"{mid / base:>8.2f}  "
            f"{'' if target is None else f'{target:g}x':>6}  {verdict:<7}  "
            f"{len(samples):>5}  {'' if size is None else f'{size:,}':>9}"
        )
        print(line.rstrip())
    print()
    # Each worker builds its own catalog on its first console request: the
    # first of them is in the left column, a second worker's in the right.
    print("first request after start / slowest warm-up request:")
    for url in URLS:
        first = pages.first[url] * 1e3
        slowest = pages.slowest_warmup[url] * 1e3
        print(f"  GET {url:<{width - 4}}  {first:7.1f} / {slowest:.1f} ms")
    print()
    ratios = ", ".join(
        f"{url} {statistics.median(pages.samples[url]) / base:.2f}x "
        f"(target {target:g}x)"
        for url, target in TARGETS.items()
    )
    print(
        f"verdict: {'PASS' if passed else 'FAIL'}: {ratios} the anonymous "
        f"{LOGIN} median (targets at 1,000 revisions; measured at {revisions:,})"
    )
    return passed


# -- main -----------------------------------------------------------------------


def run(args: argparse.Namespace, tmp: Path) -> bool:
    project = project_revisions()
    revisions = plan_revisions(args.revisions, project[0])
    target, pending = upgrade_target(revisions, project[0])
    migrations = tmp / "migrations"
    write_migrations(migrations, revisions)
    merges = sum(len(r.down) > 1 for r in revisions)
    print(
        f"revisions: {project[0]} + {len(revisions):,} (merges: {merges}), "
        f"upgraded to {target}, {len(pending)} pending"
    )

    env = app_env(f"sqlite:///{tmp / 'headway.db'}", migrations)
    print("setup:")
    prepare_database(env, target, args.adopt_all)

    port = free_port()
    log = tmp / "gunicorn.log"
    print(f"gunicorn {APP}, {args.workers} workers, 127.0.0.1:{port}", flush=True)
    server = start_gunicorn(env, port, args.workers, log)
    client = Client(port)
    anonymous = Client(port)
    failed = True
    try:
        wait_until_healthy(port, server)
        client.login(USERNAME, PASSWORD)
        expected = Expected(pending, revisions=len(revisions) + len(project))
        print(
            f"measuring {len(URLS)} URLs x {args.requests} requests "
            f"(+{WARMUP_ROUNDS} warm-up rounds) ...",
            flush=True,
        )
        pages = measure_pages(client, anonymous, expected, args.requests)
        failed = False
    finally:
        client.close()
        anonymous.close()
        stop(server)
        if failed:
            # The server's side of the story, before the directory goes.
            print(log.read_text(errors="replace")[-4000:], file=sys.stderr)

    print(f"timing the CLI ({CLI_RUNS} runs each) ...", flush=True)
    cli = measure_cli(env, target, revisions[-1].id)
    return report(args.revisions, pages, cli)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--adopt-all",
        action="store_true",
        help="run `flask db adopt` without --to: it checks every revision, "
        "which takes minutes at 1,000",
    )
    args = parser.parse_args()
    if args.revisions < 1 or args.requests < 1 or args.workers < 1:
        parser.error("--revisions, --requests and --workers must be at least 1")

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
