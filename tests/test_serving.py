"""Serving under gunicorn as `make run` configures it (gunicorn.conf.py: gevent
workers): slow clients, an export longer than the worker timeout, an export
cut off; and scratch databases left by a killed run. Real gunicorn, real
sockets."""

import csv
import http.client
import http.cookiejar
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa

from tests.helpers import ROOT, migrations_head, subprocess_env
from tests.live import LiveServer, user_command

pytestmark = pytest.mark.live

# The demo's legacy database at this scale: 2,000 employees, ~19,000 salaries.
SCALE = "0.2"


@pytest.fixture
def served(database_url, tmp_path):
    """start(**options): gunicorn on the demo legacy database, with a viewer."""
    servers = []

    def start(legacy_data: bool = True, **options) -> LiveServer:
        server = LiveServer(database_url, log_path=tmp_path / "gunicorn.log", **options)
        servers.append(server)
        if legacy_data:
            server.flask_batch(
                ("demo", "create-legacy", "--scale", SCALE),
                ("db", "adopt"),
                ("db", "upgrade"),
                ("headway", "init"),
                user_command("viewer", "viewer"),
            )
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()


def session_headers(server: LiveServer) -> dict[str, str]:
    """The headers of the viewer's logged-in browser (the session is bound to
    its User-Agent)."""
    jar = http.cookiejar.CookieJar()
    opener = server.browser("viewer", jar)
    return {
        "Cookie": "; ".join(f"{c.name}={c.value}" for c in jar),
        **dict(opener.addheaders),
    }


def timed_healthz(server: LiveServer) -> float:
    began = time.perf_counter()
    status, _ = server.request("GET", "/healthz", timeout=10)
    assert status == 200
    return time.perf_counter() - began


def test_slow_clients_leave_the_app_answering(database_url, served):
    if not database_url.startswith("sqlite"):
        # A request's headers are gunicorn's alone (no database is asked):
        # one run, on `make run`'s embedded database, says it all.
        pytest.skip("the database plays no part: run once, on SQLite")
    # gunicorn.conf.py's own workers, worker class and timeout, as `make run`.
    server = served(legacy_data=False, workers=None, timeout=None)
    closed_after = []

    def slow_client():
        # One header line every 2 s, never the end of the headers: what
        # held a sync worker each until its timeout.
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            began = time.monotonic()
            for i in range(4):
                time.sleep(2)
                try:
                    sock.sendall(b"X-Slow-%d: y\r\n" % i)
                except OSError:
                    closed_after.append(time.monotonic() - began)
                    return

    clients = [threading.Thread(target=slow_client) for _ in range(2)]
    for client in clients:
        client.start()
    times = []
    until = time.monotonic() + 8
    while time.monotonic() < until:
        times.append(timed_healthz(server))
        time.sleep(0.2)
    for client in clients:
        client.join()
    assert len(times) > 20 and max(times) < 3, times
    # gevent reads a request's headers within `keepalive` seconds (5), then
    # closes the connection: a slow client holds a greenlet that long (the
    # client notices at its next line but one, when the reset has come back).
    assert len(closed_after) == 2, closed_after
    assert "WORKER TIMEOUT" not in server.log_since(0)
    server.assert_no_server_errors()


def open_export(server: LiveServer, headers: dict):
    """(socket, connection, response) of a GET of the salaries export through
    a small receive window."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.sock = sock
    conn.request("GET", "/admin/salary/export/csv/", headers=headers)
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("Transfer-Encoding") == "chunked"
    return sock, conn, response


def add_salary_histories(server: LiveServer) -> None:
    """Seven more salary histories, a century earlier each: ~150,000 rows, an
    export of 5 MB, more than the kernel buffers between gunicorn and a
    client that reads slowly (4 MB): the export lasts as long as the client
    reads."""
    with server.engine.begin() as conn:
        for years in range(100, 800, 100):
            if conn.dialect.name == "sqlite":
                earlier = f"date(from_date, '-{years} years')"
            else:
                earlier = f"from_date - INTERVAL {years} YEAR"
            conn.exec_driver_sql(
                f"INSERT INTO salaries SELECT emp_no, salary, {earlier}, to_date "
                "FROM salaries WHERE from_date > '1950-01-01'"
            )


def test_a_long_export_outlasts_the_worker_timeout_and_a_cut_one_fails(served):
    server = served(workers=1, timeout=2)
    add_salary_histories(server)
    headers = session_headers(server)

    # Read at 20 kB/s for 4 s (twice the worker timeout), then the rest.
    before = server.log_size()
    sock, conn, response = open_export(server, headers)
    chunks = []
    began = time.monotonic()
    while chunk := response.read(1024 if time.monotonic() - began < 4 else 65536):
        chunks.append(chunk)
        if time.monotonic() - began < 4:
            time.sleep(0.05)
    conn.close()
    sock.close()
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode())))
    assert len(rows) - 1 == server.scalar("SELECT count(*) FROM salaries")
    last = server.scalar(
        "SELECT emp_no FROM salaries ORDER BY emp_no DESC, from_date DESC LIMIT 1"
    )
    assert rows[-1][0] == str(last)
    log = server.log_since(before)
    assert "WORKER TIMEOUT" not in log
    # The server spent longer than the worker timeout on it.
    export_line = next(line for line in log.splitlines() if "export/csv" in line)
    assert int(export_line.rsplit(" ", 1)[1].removesuffix("ms")) > 2000, export_line
    server.assert_no_server_errors(before)

    # The table is dropped while an export waits for its client: the download
    # fails (no last chunk), it does not end like a shorter, whole file.
    sock, conn, response = open_export(server, headers)
    try:
        assert response.read(4096).startswith(b"Emp No,Salary")
        time.sleep(0.5)  # the export fills the buffers and waits
        with server.engine.begin() as db:
            db.exec_driver_sql("DROP TABLE salaries")
        with pytest.raises(http.client.IncompleteRead):
            while response.read(65536):
                pass
    finally:
        conn.close()
        sock.close()


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"), reason="needs TEST_DATABASE_URL"
)
def test_a_scratch_database_left_by_a_killed_run_is_dropped_by_the_next_job(
    database_url, scripts, tmp_path
):
    if not database_url.startswith("mysql"):
        pytest.skip("MySQL/MariaDB only")
    # A prefix of this test's own: other runs share the server.
    prefix = f"headway_scratch_t{os.getpid()}{time.time_ns() % 10**6}_"
    env = {"HEADWAY_SCRATCH_PREFIX": prefix, "HEADWAY_SCRATCH_GRACE_SECONDS": "0"}
    holder_code = (
        "import time\n"
        "from app import create_app\n"
        "from app.dbadmin.core.scratch import scratch_engine\n"
        "from app.extensions import db\n"
        "with create_app().app_context(), scratch_engine(db.engine) as scratch:\n"
        "    print(scratch.url.database, flush=True)\n"
        "    time.sleep(300)\n"
    )

    def holder() -> tuple[subprocess.Popen, str]:
        """A run in the middle of building a schema in its scratch database."""
        process = subprocess.Popen(
            [sys.executable, "-c", holder_code],
            cwd=ROOT,
            env=subprocess_env(DATABASE_URL=database_url, **env),
            stdout=subprocess.PIPE,
            text=True,
        )
        return process, process.stdout.readline().strip()

    server = LiveServer(database_url, scripts.directory, **env)
    out = server.flask_batch(
        ("db", "upgrade"),
        ("headway", "init"),
        user_command("op", "operator"),
        ("users", "token", "create", "op"),
    )
    token = out[-1].strip().splitlines()[-1]
    scripts.write("0099_next", migrations_head())  # for the next job to apply
    killed, orphan = holder()
    alive, in_use = holder()
    try:
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        killed.stdout.close()
        assert orphan.startswith(f"{prefix}p{killed.pid}_")

        def scratch_databases() -> set[str]:
            with server.engine.connect() as conn:
                names = conn.execute(
                    sa.text("SHOW DATABASES LIKE :p"),
                    {"p": prefix.replace("_", "\\_") + "%"},
                )
                return set(names.scalars())

        assert scratch_databases() == {orphan, in_use}
        server.start()
        status, job = server.request(
            "POST",
            "/api/migrations/jobs",
            {"action": "upgrade", "target": "heads"},
            token=token,
        )
        assert status == 202, job
        job = server.wait_for_job(job["id"], token)
        assert job["status"] == "succeeded", job
        # The killed run's database is gone; the live run's stays.
        assert scratch_databases() == {in_use}
        assert (
            f"dropped the scratch database {orphan}: its owner, process "
            f"{killed.pid}, is gone" in job["log"]
        )
    finally:
        alive.kill()
        alive.wait()
        alive.stdout.close()
        server.stop()
        with server.engine.begin() as conn:
            for name in (orphan, in_use):
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
