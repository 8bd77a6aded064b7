"""`make soak`: Headway under load and faults, on a private MariaDB, with figures.

    .venv/bin/python bench/soak.py [--scale 30] [--clients 24] [--seconds 60]
                                   [--outage 20] [--workers 2]
                                   [--slow-clients 30] [--slow-seconds 60]
                                   [--exports 3]

Everything runs on loopback, in one temporary directory removed at the end
(failure or not), against a MariaDB server of its own (its own datadir and
port, started and stopped here; never the machine's shared server):

1. Starts the private MariaDB, loads the legacy database at `--scale` (30 is
   the real size: 300,000 employees, 2.8M salaries), `flask headway init`,
   `flask db adopt --to 0001_baseline`, `flask db upgrade`, an operator with
   an API token. Records CHECKSUM TABLE of the legacy tables.
2. Starts gunicorn (production configuration, `--workers`), logs in
   `--clients` browser sessions and keeps them busy for `--seconds` on the
   dashboard, the status API and the employee lists, while it:
   - SIGKILLs a gunicorn worker;
   - starts an upgrade job whose revision creates a table and then sleeps,
     and SIGKILLs the job's process half-way through that step;
   - stops the MariaDB server for `--outage` seconds and starts it again:
     pages must answer 503 meanwhile and recover by themselves.
3. Then: a migration that fails half-way (its first DDL applied, its second
   failing), a job started while the job-output directory cannot be
   written, and three trials of three deploy scripts running `flask db
   upgrade --adopt` at once on a new legacy database (each must end with one
   adoption and one stamp verified at head). Then, with /healthz probed every
   half second (it must answer within 3 s throughout): `--slow-clients`
   clients sending one header line every 3 s for `--slow-seconds`;
   `--exports` concurrent CSV exports of the view current_dept_emp, each
   compared with the view's rows byte for byte; one export of salaries, every
   row.
4. Checks that the migration lock is free, that gunicorn's master never
   restarted and its workers did not crash-loop, and that CHECKSUM TABLE of
   the legacy tables is what it was (the faults' own tables are dropped).
5. Prints the figures as Markdown (pasted into RELIABILITY.md). Exit 1 when a
   check fails.
"""

import argparse
import hashlib
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench.common import BenchError, create_user, environment  # noqa: E402

LEGACY_TABLES = (
    "employees",
    "departments",
    "dept_emp",
    "dept_manager",
    "titles",
    "salaries",
)
OPERATOR, PASSWORD = "soak-operator", "soak password " + secrets.token_hex(8)
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
# The pages under load; the employee lists that exist in this version.
LOAD_PATHS = ("/admin/migrations/", "/api/migrations/status")
LIST_CANDIDATES = ("/admin/employee/", "/admin/salary/", "/admin/department/")


# The app looks for new revision files at most every second (production's
# SCRIPT_CACHE_CHECK_SECONDS): a file written now is seen after this.
CATALOG_CHECK_SECONDS = 1.5
# Between two faults, so that each one's failures are told apart.
FAULT_GAP_SECONDS = 5
FLASK_SECONDS = 900


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check, seconds: float, what: str, every: float = 0.2):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise BenchError(f"{what}: not within {seconds:.0f} s")


# -- the private MariaDB --------------------------------------------------------


class PrivateMariaDB:
    """A MariaDB server of the soak's own: datadir and port in `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.datadir = directory / "data"
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def install(self) -> None:
        self.datadir.mkdir(parents=True)
        user = ["--user=mysql"] if os.geteuid() == 0 else []
        if user:
            # The server runs as mysql: it must reach its directory.
            self.directory.parent.chmod(0o755)
            shutil.chown(self.directory, "mysql", "mysql")
            shutil.chown(self.datadir, "mysql", "mysql")
        result = subprocess.run(
            [
                "mariadb-install-db",
                "--no-defaults",
                f"--datadir={self.datadir}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *user,
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise BenchError(f"mariadb-install-db failed:\n{result.stderr[-2000:]}")

    def start(self) -> None:
        user = ["--user=mysql"] if os.geteuid() == 0 else []
        self.process = subprocess.Popen(
            [
                "mariadbd",
                "--no-defaults",
                f"--datadir={self.datadir}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                f"--socket={self.directory / 'mariadb.sock'}",
                f"--pid-file={self.directory / 'mariadb.pid'}",
                f"--log-error={self.directory / 'error.log'}",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=512M",
                "--max-connections=300",
                *user,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.answers, 60, "the private MariaDB did not start")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self.process = None

    def url(self, database: str = "") -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/{database}"


# -- the app --------------------------------------------------------------------


def app_env(database_url: str, migrations: Path, job_output: Path) -> dict:
    return environment(
        database_url,
        migrations,
        HEADWAY_JOB_OUTPUT_DIR=str(job_output),
        PYTHONUNBUFFERED="1",
    )


def flask(env: dict, *args: str, stdin: str | None = None) -> str:
    return common.flask(env, *args, stdin=stdin, timeout=FLASK_SECONDS)


class Gunicorn:
    def __init__(self, env: dict, workers: int, log: Path) -> None:
        self.env, self.workers, self.log = env, workers, log
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "gunicorn"),
                    *("--bind", f"127.0.0.1:{self.port}"),
                    *("--workers", str(self.workers), "--timeout", "30"),
                    "--no-control-socket",
                    "wsgi:app",
                ],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_for(
            lambda: self.get_status("/healthz") == 200, 60, "gunicorn did not start"
        )

    def get_status(self, path: str) -> int | None:
        return self.get(path)[0]

    def get(self, path: str) -> tuple[int | None, str]:
        """(status, body) of an anonymous GET; (None, the error) when the
        server does not answer."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read().decode(errors="replace")
        except OSError as error:
            return None, str(error)
        finally:
            conn.close()

    def worker_pids(self) -> list[int]:
        master = self.process.pid
        children = Path(f"/proc/{master}/task/{master}/children")
        return [int(p) for p in children.read_text().split()]

    def boots(self) -> int:
        return self.log.read_text(errors="replace").count("Booting worker")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Client:
    """One browser session (cookies kept by hand: production cookies are
    Secure, and a cookie jar would not send them over plain http)."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.token = token

    def request(self, method: str, path: str, body=None, headers=None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        for cookie in response.headers.get_all("Set-Cookie") or ():
            name, _, rest = cookie.partition("=")
            self.cookies[name] = rest.partition(";")[0]
        return response.status, response.headers, data

    def login(self) -> None:
        status = self.try_login(OPERATOR, PASSWORD)
        if status != 302:
            raise BenchError(f"login answered {status}")

    def try_login(self, username: str, password: str) -> int:
        """The login form's answer: 302 logged in, 200 refused, 429 wait."""
        status, _, body = self.request("GET", "/login")
        match = CSRF_RE.search(body.decode())
        if status != 200 or not match:
            raise BenchError(f"GET /login answered {status} without a CSRF token")
        form = urlencode(
            {"csrf_token": match.group(1), "username": username, "password": password}
        )
        status, _, _ = self.request(
            "POST",
            "/login",
            form,
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        return status

    def json(self, method: str, path: str, payload=None) -> tuple[int, dict]:
        body = json.dumps(payload) if payload is not None else None
        status, _, data = self.request(
            method, path, body, {"Content-Type": "application/json"}
        )
        try:
            return status, json.loads(data or b"{}")
        except ValueError:
            return status, {"raw": data[:200].decode(errors="replace")}


# -- load -------------------------------------------------------------------------


@dataclass
class Sample:
    at: float  # seconds since the load started
    path: str
    status: int | None  # None: no HTTP answer (connection error)
    seconds: float
    error: str = ""


@dataclass
class Load:
    port: int
    paths: list[str]
    clients: list[Client]
    seconds: float
    started: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    stop_event: threading.Event = field(default_factory=threading.Event)

    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self.started = time.monotonic()
        self.threads = [
            threading.Thread(target=self._client, args=(c, i), daemon=True)
            for i, c in enumerate(self.clients)
        ]
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        """Stop after `seconds` of load, and not before the faults are over."""
        time.sleep(max(0.0, self.seconds - self.now()))
        self.stop_event.set()
        for thread in self.threads:
            thread.join()

    def now(self) -> float:
        return time.monotonic() - self.started

    def _client(self, client: Client, offset: int) -> None:
        i = offset
        while not self.stop_event.is_set():
            path = self.paths[i % len(self.paths)]
            i += 1
            at, began = self.now(), time.perf_counter()
            try:
                status, _, _ = client.request("GET", path)
                sample = Sample(at, path, status, time.perf_counter() - began)
            except (OSError, http.client.HTTPException) as exc:
                sample = Sample(
                    at, path, None, time.perf_counter() - began, type(exc).__name__
                )
                time.sleep(0.05)
            self.samples.append(sample)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# -- faults -----------------------------------------------------------------------

SLOW_REVISION = '''"""soak: a step killed half-way

Revision ID: 0090_soak_slow
Revises: {down}
"""

import time

import sqlalchemy as sa
from alembic import op

revision = "0090_soak_slow"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("soak_probe", sa.Column("id", sa.Integer, primary_key=True))
    # Slow on the live database only: the schema report rebuilds this step
    # in a scratch database.
    database = op.get_bind().exec_driver_sql("SELECT DATABASE()").scalar()
    if not database.startswith("headway_scratch_"):
        time.sleep(120)
    op.add_column("soak_probe", sa.Column("note", sa.String(20)))


def downgrade():
    op.drop_table("soak_probe")
'''

HALF_REVISION = '''"""soak: a migration that fails half-way

Revision ID: 0091_soak_half
Revises: {down}
"""

import sqlalchemy as sa
from alembic import op

revision = "0091_soak_half"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("soak_half", sa.Column("id", sa.Integer, primary_key=True))
    op.add_column("no_such_table", sa.Column("x", sa.Integer))


def downgrade():
    op.drop_table("soak_half")
'''


@dataclass
class Outcome:
    name: str
    ok: bool
    detail: str


def checksums(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(f"CHECKSUM TABLE {', '.join(LEGACY_TABLES)}")
        return {name.split(".")[-1]: value for name, value in rows}


def head_of(migrations: Path) -> str:
    heads = [
        p.stem
        for p in (migrations / "versions").glob("*.py")
        if not any(
            f'down_revision = "{p.stem}"' in q.read_text()
            for q in (migrations / "versions").glob("*.py")
        )
    ]
    if len(heads) != 1:
        raise BenchError(f"expected one head in {migrations}, found {heads}")
    return heads[0]


def wait_for_job(api: Client, job_id: int, statuses: set[str], seconds=120) -> dict:
    def done():
        status, body = api.json("GET", f"/api/migrations/jobs/{job_id}")
        return body if status == 200 and body.get("status") in statuses else None

    return wait_for(done, seconds, f"job #{job_id} did not reach {statuses}", 0.5)


def roll_back(api: Client) -> dict:
    """A rollback job of the partial step, run to its end."""
    status, body = api.json("POST", "/api/migrations/jobs", {"action": "rollback"})
    if status != 202:
        raise BenchError(f"rollback: {status} {body}")
    return wait_for_job(api, body["id"], {"succeeded", "failed"}, 120)


def kill_a_worker(server: Gunicorn, load: Load) -> tuple[Outcome, float]:
    victim = server.worker_pids()[0]
    at = load.now()
    os.kill(victim, signal.SIGKILL)
    wait_for(
        lambda: (
            len(server.worker_pids()) == server.workers
            and victim not in server.worker_pids()
        ),
        30,
        "gunicorn did not replace the killed worker",
    )
    return Outcome("gunicorn worker SIGKILLed under load", True, f"pid {victim}"), at


def kill_a_job_mid_step(
    env: dict, migrations: Path, api: Client, engine: sa.Engine
) -> Outcome:
    down = head_of(migrations)
    path = migrations / "versions" / "0090_soak_slow.py"
    path.write_text(SLOW_REVISION.format(down=down))
    time.sleep(CATALOG_CHECK_SECONDS)
    try:
        status, body = api.json(
            "POST", "/api/migrations/jobs", {"action": "upgrade", "target": "heads"}
        )
        if status != 202:
            return Outcome("job SIGKILLed mid-step", False, f"start: {status} {body}")
        job_id = body["id"]

        def probe_exists():
            with engine.connect() as conn:
                return sa.inspect(conn).has_table("soak_probe")

        wait_for(probe_exists, 60, "the slow step did not create its table")
        _, job = api.json("GET", f"/api/migrations/jobs/{job_id}")
        os.kill(job["pid"], signal.SIGKILL)
        job = wait_for_job(api, job_id, {"interrupted"}, 120)
        report = wait_for(
            lambda: api.json("GET", f"/api/migrations/jobs/{job_id}")[1].get(
                "schema_report"
            ),
            120,
            "no schema report after the interruption",
            1,
        )
        flagged = "soak_probe" in report
        # The step's first statement ran: the database is partially applied
        # until someone settles it (here the way the console offers first,
        # a rollback job), and not ready meanwhile.
        _, status = api.json("GET", "/api/migrations/status")
        partial = status.get("state") == "partial"
        try:
            rollback = roll_back(api)
        except BenchError as error:
            return Outcome("job SIGKILLed mid-step", False, str(error))
        with engine.connect() as conn:
            version = conn.exec_driver_sql(
                "SELECT version_num FROM alembic_version"
            ).scalar()
            probe_left = sa.inspect(conn).has_table("soak_probe")
        _, status = api.json("GET", "/api/migrations/status")
        # The slow revision is still there: pending, until its file goes.
        settled = status.get("state") == "behind"
        ok = (
            version == down
            and flagged
            and partial
            and rollback["status"] == "succeeded"
            and not probe_left
            and settled
        )
        detail = (
            f"job #{job_id} marked interrupted; version stayed at {version}; "
            f"report {'names' if flagged else 'does NOT name'} table soak_probe; "
            f"state {'partial' if partial else 'NOT partial'}; rollback job "
            f"#{rollback['id']} {rollback['status']}, soak_probe "
            f"{'LEFT' if probe_left else 'gone'}, state {status.get('state')}"
        )
        return Outcome("job process SIGKILLed mid-step", ok, detail)
    finally:
        path.unlink(missing_ok=True)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS soak_probe")


def database_outage(
    db: PrivateMariaDB, server: Gunicorn, load: Load, seconds: float
) -> tuple[Outcome, tuple[float, float]]:
    down_at = load.now()
    db.stop()
    time.sleep(seconds)
    db.start()
    up_at = load.now()
    try:
        recovered = wait_for(
            lambda: server.get_status("/readyz") == 200 and load.now(),
            60,
            "the app did not recover after the database came back",
        )
    except BenchError as error:
        status, body = server.get("/readyz")
        raise BenchError(f"{error}; /readyz answers {status}: {body[:300]}") from None
    detail = (
        f"down {up_at - down_at:.1f} s; ready again "
        f"{recovered - up_at:.1f} s after the server came back"
    )
    return Outcome("MariaDB stopped during load", True, detail), (down_at, up_at)


def half_failed_migration(migrations: Path, api: Client, engine: sa.Engine):
    """A step whose second operation fails: preflight refuses it before its
    first statement; run without preflight, it fails half-way on MySQL's
    non-transactional DDL, the database is partial, and a rollback job
    settles it."""
    down = head_of(migrations)
    path = migrations / "versions" / "0091_soak_half.py"
    path.write_text(HALF_REVISION.format(down=down))
    time.sleep(CATALOG_CHECK_SECONDS)

    def upgrade(**options) -> dict:
        status, body = api.json(
            "POST",
            "/api/migrations/jobs",
            {"action": "upgrade", "target": "heads", **options},
        )
        if status != 202:
            raise BenchError(f"upgrade{options}: {status} {body}")
        return wait_for_job(api, body["id"], {"failed", "succeeded"}, 120)

    def live_state() -> tuple[str, bool, str]:
        with engine.connect() as conn:
            version = conn.exec_driver_sql(
                "SELECT version_num FROM alembic_version"
            ).scalar()
            created = sa.inspect(conn).has_table("soak_half")
        return version, created, api.json("GET", "/api/migrations/status")[1]["state"]

    try:
        refused = upgrade()
        after_refusal = live_state()
        failed = upgrade(no_preflight=True)
        after_failure = live_state()
        rollback = roll_back(api)
        after_rollback = live_state()
        ok = (
            refused["status"] == "failed"
            and after_refusal == (down, False, "behind")
            and failed["status"] == "failed"
            and after_failure == (down, True, "partial")
            and rollback["status"] == "succeeded"
            and after_rollback == (down, False, "behind")
        )
        detail = (
            f"with preflight: job {refused['status']} ({refused.get('error')}), "
            f"soak_half {'CREATED' if after_refusal[1] else 'not created'}; "
            f"without: job {failed['status']} ({failed.get('error')}), state "
            f"{after_failure[2]}, soak_half "
            f"{'created' if after_failure[1] else 'NOT created'}; "
            f"rollback {rollback['status']}: soak_half "
            f"{'LEFT' if after_rollback[1] else 'gone'}, state {after_rollback[2]}; "
            f"version stayed at {after_rollback[0]}"
        )
        return Outcome("migration failing half-way (MySQL DDL)", ok, detail)
    except BenchError as error:
        return Outcome("migration failing half-way (MySQL DDL)", False, str(error))
    finally:
        path.unlink(missing_ok=True)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS soak_half")


def unwritable_job_output(env: dict, tmp: Path, workers: int) -> Outcome:
    """A job-output path that cannot be a directory (as root, permissions are
    no obstacle: a file where the directory should be is)."""
    blocker = tmp / "not-a-directory"
    blocker.write_text("")
    server = Gunicorn(
        {**env, "HEADWAY_JOB_OUTPUT_DIR": str(blocker / "jobs")},
        workers,
        tmp / "gunicorn-unwritable.log",
    )
    server.start()
    try:
        token = flask(env, "users", "token", "create", OPERATOR).strip().split()[-1]
        api = Client(server.port, token=token)
        status, body = api.json(
            "POST",
            "/api/migrations/jobs",
            {"action": "stamp", "target": "heads", "typed_target": "heads"},
        )
        answered = f"start answered {status}: {body.get('error', body)}"
        _, jobs_status = api.json("GET", "/api/migrations/status")
        running = jobs_status.get("job")
        ok = status < 500 and not (running and running.get("status") == "running")
        detail = answered + (
            "; no job left running" if not running else f"; job left: {running}"
        )
        return Outcome("job-output directory unwritable", ok, detail)
    finally:
        server.stop()


def concurrent_adoptions(
    db: "PrivateMariaDB", migrations: Path, tmp: Path, trials: int = 3, runs: int = 3
) -> Outcome:
    """`runs` deploy scripts running `flask db upgrade --adopt` at once on a
    new legacy database, `trials` times: each trial must end with every run
    succeeding, one adoption, and one stamp verified at head."""
    head = head_of(migrations)
    failures = []
    for trial in range(1, trials + 1):
        name = f"adopt_race_{trial}"
        admin = sa.create_engine(db.url(), poolclass=sa.pool.NullPool)
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        admin.dispose()
        env = app_env(db.url(name), migrations, tmp / f"jobs-{name}")
        common.prepare_legacy(
            env, "0.01", adopt=None, upgrade=None, timeout=FLASK_SECONDS
        )
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "flask", "db", "upgrade", "--adopt"]
                + ["-x", "lock_wait=300"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(runs)
        ]
        results = []
        for process in processes:
            out, err = process.communicate(timeout=600)
            results.append((process.returncode, out, err))
        failed = [err.strip().splitlines()[-1:] for code, _, err in results if code]
        adopted = sum("adopted at" in out for _, out, _ in results)
        engine = sa.create_engine(db.url(name), poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            stamps = (
                conn.exec_driver_sql("SELECT version_num FROM alembic_version")
                .scalars()
                .all()
            )
        engine.dispose()
        verified = flask(env, "db", "verify").strip()
        if failed or adopted != 1 or stamps != [head] or verified != f"matches {head}":
            failures.append(
                f"trial {trial}: {len(failed)} failed {failed}, {adopted} adopted, "
                f"stamps {stamps}, verify: {verified}"
            )
    return Outcome(
        f"{runs} `flask db upgrade --adopt` at once, {trials} trials",
        not failures,
        "; ".join(failures)
        or f"each trial: {runs} succeeded, 1 adoption, 1 stamp verified at {head}",
    )


# -- slow clients and long exports ------------------------------------------------

# /healthz must answer within this, throughout.
HEALTHZ_LIMIT_SECONDS = 3.0


class HealthProbe:
    """GET /healthz every half second in a thread, timing each answer."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.times: list[float] = []
        self.failures: list[str] = []
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "HealthProbe":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_event.set()
        self.thread.join()

    def _run(self) -> None:
        while not self.stop_event.is_set():
            began = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                conn.request("GET", "/healthz")
                status = conn.getresponse().status
                if status != 200:
                    self.failures.append(f"status {status}")
            except (OSError, http.client.HTTPException) as exc:
                self.failures.append(type(exc).__name__)
            finally:
                conn.close()
            self.times.append(time.perf_counter() - began)
            self.stop_event.wait(0.5)

    @property
    def ok(self) -> bool:
        return (
            bool(self.times)
            and not self.failures
            and max(self.times) < HEALTHZ_LIMIT_SECONDS
        )

    def summary(self) -> str:
        if not self.times:
            return "/healthz: no probe"
        return (
            f"/healthz: {len(self.times)} probes, p50 "
            f"{statistics.median(self.times) * 1000:.0f} ms, worst "
            f"{max(self.times) * 1000:.0f} ms"
            + (f", {len(self.failures)} failed" if self.failures else "")
        )


def slow_clients(server: "Gunicorn", count: int, seconds: float) -> Outcome:
    """`count` clients each sending one header line every 3 s and never the
    end of the headers (reconnecting when the server closes on them), for
    `seconds`, while /healthz is probed."""
    stop = threading.Event()
    closed = Counter()

    def client(index: int) -> None:
        while not stop.is_set():
            try:
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            except OSError:
                closed["refused"] += 1
                stop.wait(1)
                continue
            with sock:
                try:
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: soak\r\n")
                    line = 0
                    while not stop.wait(3):
                        sock.sendall(b"X-Slow-%d: %d\r\n" % (line, index))
                        line += 1
                except OSError:
                    closed["by the server"] += 1

    threads = [
        threading.Thread(target=client, args=(i,), daemon=True) for i in range(count)
    ]
    with HealthProbe(server.port) as probe:
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        stop.set()
    for thread in threads:
        thread.join()
    detail = (
        f"{count} clients, a header line every 3 s for {seconds:.0f} s "
        f"({closed['by the server']} connections closed by the server at its "
        f"header time limit, reopened); {probe.summary()}"
    )
    return Outcome(f"{count} slow clients", probe.ok, detail)


def view_rows_digest(engine: sa.Engine, view: str, columns: str) -> tuple[int, str]:
    """(rows, sha256) of the view's rows as the export writes them."""
    digest = hashlib.sha256()
    rows = 0
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True).exec_driver_sql(
            f"SELECT {columns} FROM {view} ORDER BY {columns.split(',')[0]}, "
            f"{columns.split(',')[1]}"
        )
        for row in result:
            digest.update((",".join(str(v) for v in row) + "\r\n").encode())
            rows += 1
    return rows, digest.hexdigest()


def export(client: Client, path: str) -> tuple[int | None, float, int, str, bytes]:
    """(status, seconds, rows, sha256 of the rows, first line) of one export."""
    began = time.perf_counter()
    try:
        status, _, body = client.request("GET", path)
    except (OSError, http.client.HTTPException) as exc:
        return None, time.perf_counter() - began, 0, type(exc).__name__, b""
    seconds = time.perf_counter() - began
    header, _, rows = body.partition(b"\r\n")
    return (
        status,
        seconds,
        rows.count(b"\r\n"),
        hashlib.sha256(rows).hexdigest(),
        header,
    )


def concurrent_exports(
    server: "Gunicorn", client: Client, engine: sa.Engine, count: int
) -> tuple[Outcome, list[tuple]]:
    """`count` exports of current_dept_emp at once, each compared with the
    view's own rows, while /healthz is probed."""
    columns = "emp_no,dept_no,from_date,to_date"
    expected_rows, expected_digest = view_rows_digest(
        engine, "current_dept_emp", columns
    )
    results: list[tuple] = []

    def one() -> None:
        results.append(export(client, "/admin/current_dept_emp/export/csv/"))

    threads = [threading.Thread(target=one) for _ in range(count)]
    with HealthProbe(server.port) as probe:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    whole = [
        r for r in results if r[0] == 200 and r[2:4] == (expected_rows, expected_digest)
    ]
    detail = (
        f"{len(whole)} of {count} whole ({expected_rows:,} rows each, the view's "
        f"rows byte for byte); "
        + ", ".join(f"{r[1]:.1f} s" for r in sorted(results, key=lambda r: r[1]))
        + f"; {probe.summary()}"
    )
    ok = len(whole) == count and probe.ok
    return Outcome(f"{count} concurrent exports of current_dept_emp", ok, detail), [
        (r[1], r[2]) for r in results
    ]


def salaries_export(server: "Gunicorn", client: Client, engine: sa.Engine) -> Outcome:
    """The biggest table whole, in one export, while /healthz is probed."""
    with engine.connect() as conn:
        expected = conn.exec_driver_sql("SELECT count(*) FROM salaries").scalar()
    with HealthProbe(server.port) as probe:
        status, seconds, rows, _digest, _header = export(
            client, "/admin/salary/export/csv/"
        )
    ok = status == 200 and rows == expected and probe.ok
    detail = (
        f"{rows:,} of {expected:,} rows in {seconds:.1f} s "
        f"({rows / max(seconds, 0.001):,.0f} rows/s); {probe.summary()}"
    )
    return Outcome("export of salaries, every row", ok, detail)


# -- the run ------------------------------------------------------------------------


def case_variant_brute_force(port: int) -> Outcome:
    """Guesses at the operator's name in other cases, widths and with blanks
    (MariaDB's utf8mb4_general_ci calls them equal to the name): they count
    against the one account, and after the pair lock the right password in
    any spelling does not get in. Last: it locks the operator out of this
    address for the login window."""
    fullwidth = "".join(
        chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in OPERATOR.upper()
    )
    spellings = [
        OPERATOR.upper(),
        OPERATOR + " ",
        OPERATOR.title(),
        fullwidth,
        " " + OPERATOR.upper() + "  ",
    ]
    answers = Counter()
    wrong = [Client(port).try_login(name, "wrong " + PASSWORD) for name in spellings]
    answers.update(wrong)
    # The pair (operator, this address) is locked: the right password, typed
    # every way and the plain way, must not log in.
    right = [Client(port).try_login(name, PASSWORD) for name in [*spellings, OPERATOR]]
    answers.update(right)
    ok = 302 not in answers and set(wrong) == {200}
    detail = (
        f"{len(wrong)} wrong guesses in {len(spellings)} spellings, then the right "
        f"password in each and as typed at creation: "
        + ", ".join(f"{n} x {status}" for status, n in sorted(answers.items()))
        + " (302 would be a login)"
    )
    return Outcome("case-variant brute force (MariaDB collation)", ok, detail)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores {cpu}, Python {platform.python_version()}, "
        "MariaDB 10.11 (private instance)"
    )


def run(args, tmp: Path) -> bool:
    db = PrivateMariaDB(tmp / "mariadb")
    print("private MariaDB: installing and starting", flush=True)
    db.install()
    db.start()
    server = None
    try:
        admin = sa.create_engine(db.url(), poolclass=sa.pool.NullPool)
        with admin.connect() as conn:
            conn.exec_driver_sql(
                "CREATE DATABASE employees CHARACTER SET utf8mb4 "
                "COLLATE utf8mb4_general_ci"
            )
        admin.dispose()
        url = db.url("employees")
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        migrations = tmp / "migrations"
        shutil.copytree(ROOT / "migrations", migrations)
        env = app_env(url, migrations, tmp / "jobs")
        loaded = common.prepare_legacy(
            env, args.scale, adopt=("--to", "0001_baseline"), timeout=FLASK_SECONDS
        )[0]
        create_user(env, OPERATOR, "operator", PASSWORD)
        token = flask(env, "users", "token", "create", OPERATOR).strip().split()[-1]
        print(f"legacy database at scale {args.scale}: {loaded:.0f} s", flush=True)
        before = checksums(engine)

        server = Gunicorn(env, args.workers, tmp / "gunicorn.log")
        server.start()
        master = server.process.pid
        clients = [Client(server.port) for _ in range(args.clients)]
        for client in clients:
            client.login()
        api = Client(server.port, token=token)
        lists = [p for p in LIST_CANDIDATES if clients[0].request("GET", p)[0] == 200]
        paths = [*LOAD_PATHS, *lists]
        print(f"load: {args.clients} clients for {args.seconds} s on {paths}")

        load = Load(server.port, paths, clients, args.seconds)
        load.start()
        outcomes: list[Outcome] = []
        time.sleep(args.seconds * 0.1)
        outcome, kill_at = kill_a_worker(server, load)
        outcomes.append(outcome)
        print(f"  {outcome.name}: {outcome.detail}", flush=True)
        time.sleep(FAULT_GAP_SECONDS)
        outcome = kill_a_job_mid_step(env, migrations, api, engine)
        outcomes.append(outcome)
        print(f"  {outcome.name}: {outcome.detail}", flush=True)
        time.sleep(FAULT_GAP_SECONDS)
        outcome, outage = database_outage(db, server, load, args.outage)
        outcomes.append(outcome)
        print(f"  {outcome.name}: {outcome.detail}", flush=True)
        # Load goes on a while after the outage: recovery is measured too.
        load.seconds = max(load.seconds, load.now() + 10)
        load.finish()

        for fault in (
            lambda: half_failed_migration(migrations, api, engine),
            lambda: unwritable_job_output(env, tmp, args.workers),
            lambda: concurrent_adoptions(db, migrations, tmp),
            lambda: case_variant_brute_force(server.port),
        ):
            outcome = fault()
            outcomes.append(outcome)
            print(f"  {outcome.name}: {outcome.detail}", flush=True)

        # Slow clients, then long exports, each with /healthz probed.
        viewer = clients[0]
        for scenario in (
            lambda: slow_clients(server, args.slow_clients, args.slow_seconds),
            lambda: concurrent_exports(server, viewer, engine, args.exports)[0],
            lambda: salaries_export(server, viewer, engine),
        ):
            outcome = scenario()
            outcomes.append(outcome)
            print(f"  {outcome.name}: {outcome.detail}", flush=True)

        with engine.connect() as conn:
            lock_free = conn.exec_driver_sql(
                "SELECT IS_FREE_LOCK('headway.migrate.employees')"
            ).scalar()
        outcomes.append(
            Outcome("migration lock free at the end", lock_free == 1, f"{lock_free}")
        )
        same_master = server.process.poll() is None and server.process.pid == master
        boots = server.boots()
        # The first workers, one replacing the killed one, and at most one
        # more per worker: anything beyond is a crash loop.
        crash_free = boots <= 2 * args.workers + 1
        outcomes.append(
            Outcome(
                "no crash loop",
                same_master and crash_free,
                f"master pid {master} {'kept' if same_master else 'LOST'}; "
                f"{boots} worker boots",
            )
        )
        after = checksums(engine)
        changed = [t for t in LEGACY_TABLES if before[t] != after[t]]
        outcomes.append(
            Outcome(
                "CHECKSUM TABLE of the legacy tables unchanged",
                not changed,
                "all equal" if not changed else f"changed: {', '.join(changed)}",
            )
        )
        return report(args, load, kill_at, outage, outcomes)
    finally:
        if server is not None:
            server.stop()
        db.stop()


def report(args, load: Load, kill_at: float, outage, outcomes) -> bool:
    down_at, up_at = outage
    samples = load.samples

    def in_outage(s: Sample) -> bool:
        # Requests in flight while the server was down, or in the seconds it
        # takes the app's connections to notice it is back.
        return s.at <= up_at + 5 and s.at + s.seconds >= down_at - 1

    def near_kill(s: Sample) -> bool:
        # In flight when the worker was killed: a gevent worker takes every
        # request it was serving with it, however long before they began.
        return s.at <= kill_at + 2 and s.at + s.seconds >= kill_at - 1

    served = [s for s in samples if s.status is not None]
    errors = [
        s
        for s in samples
        if (s.status is None or s.status >= 500)
        and not in_outage(s)
        and not near_kill(s)
    ]
    killed_in_flight = [
        s for s in samples if near_kill(s) and (s.status is None or s.status >= 500)
    ]
    outage_statuses = Counter(
        s.status if s.status is not None else "no answer"
        for s in samples
        if in_outage(s)
    )
    bad_outage = [
        s for s in samples if in_outage(s) and s.status not in (200, 503, None)
    ]
    print()
    print(f"machine: {machine()}")
    print(
        f"run: scale {args.scale}, {args.clients} clients, {args.seconds} s of "
        f"load, {args.outage} s outage, {args.workers} gunicorn workers"
    )
    print()
    print("| page | requests | p50 ms | p99 ms | 5xx outside faults |")
    print("|---|---|---|---|---|")
    for path in sorted({s.path for s in samples}):
        times = [
            s.seconds * 1000
            for s in samples
            if s.path == path and s.status == 200 and not in_outage(s)
        ]
        count = sum(1 for s in served if s.path == path)
        five = sum(1 for s in errors if s.path == path)
        print(
            f"| `GET {path}` | {count:,} | {statistics.median(times):.1f} | "
            f"{percentile(times, 0.99):.1f} | {five} |"
        )
    ok_times = [s.seconds * 1000 for s in samples if s.status == 200]
    print(
        f"| all | {len(served):,} | {statistics.median(ok_times):.1f} | "
        f"{percentile(ok_times, 0.99):.1f} | {len(errors)} |"
    )
    print()
    print(f"- errors outside the faults' windows: {len(errors)}")
    print(
        f"- in flight when the worker was killed: {len(killed_in_flight)} "
        "failed (connection reset or 5xx)"
    )
    print(
        "- during the database outage: "
        + ", ".join(f"{k}: {v}" for k, v in sorted(outage_statuses.items(), key=str))
        + (f"; unexpected: {len(bad_outage)}" if bad_outage else "")
    )
    print()
    print("| fault or check | result | detail |")
    print("|---|---|---|")
    for outcome in outcomes:
        print(
            f"| {outcome.name} | {'ok' if outcome.ok else 'FAILED'} | "
            f"{outcome.detail} |"
        )
    passed = not errors and not bad_outage and all(o.ok for o in outcomes)
    print()
    print(f"verdict: {'PASS' if passed else 'FAIL'}")
    return passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=30)
    parser.add_argument("--clients", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--outage", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--slow-clients", type=int, default=30)
    parser.add_argument("--slow-seconds", type=float, default=60)
    parser.add_argument("--exports", type=int, default=3)
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary directory (logs)"
    )
    args = parser.parse_args()
    if not shutil.which("mariadbd") or not shutil.which("mariadb-install-db"):
        sys.exit("soak: needs mariadbd and mariadb-install-db (Debian: mariadb-server)")
    tmp = Path(tempfile.mkdtemp(prefix="headway-soak-"))
    try:
        passed = run(args, tmp)
    except BenchError as exc:
        print(f"soak: {exc}", file=sys.stderr)
        passed = False
    finally:
        if args.keep:
            print(f"soak: kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
