"""A real gunicorn serving Headway on a prepared database, for the tests whose
behaviour depends on it (several workers, timeouts, job processes, a real
browser), with the `flask` CLI and SQL on the same database beside it."""

import contextlib
import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from tests.flask_batch import OUTPUT_END
from tests.helpers import PASSWORD, ROOT, new_database, run_flask, subprocess_env

START_SECONDS = 30


@dataclass(frozen=True)
class FlaskCommand:
    """A `flask` command with what it reads on stdin."""

    args: tuple[str, ...]
    stdin: str | None = None


def user_command(name: str, role: str, password: str = PASSWORD) -> FlaskCommand:
    """`flask users create NAME --role ROLE`, the password on stdin."""
    return FlaskCommand(
        ("users", "create", name, "--role", role, "--password-stdin"), password + "\n"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """`gunicorn wsgi:app` (gunicorn.conf.py, then these options) on `database_url`.

    migrations: the scripts directory (None: the project's migrations/).
    workers, timeout: gunicorn's options (None: gunicorn.conf.py's).
    log_path: gunicorn's output (None: gunicorn.log beside `migrations`).
    env: more environment for gunicorn and `flask` both, e.g. SECRET_KEY=...
    (the testing configuration, which both run in, has a fixed one of its own).
    """

    def __init__(
        self,
        database_url: str,
        migrations: Path | None = None,
        *,
        workers: int | None = 3,
        timeout: int | None = 5,
        log_path: Path | None = None,
        **env: str,
    ):
        # Every test gunicorn runs from this one checkout: instance/gunicorn.ctl
        # would be shared, so they open no control socket.
        self.env = {"DATABASE_URL": database_url, "HEADWAY_CONTROL_SOCKET": "off"}
        self.env.update(env)
        if migrations is not None:
            self.env["HEADWAY_MIGRATIONS_DIR"] = str(migrations)
        if log_path is None:
            assert migrations is not None, "LiveServer needs a log_path"
            log_path = Path(migrations).parent / "gunicorn.log"
        self.log_path = log_path
        # Job output beside the log, never in the repository's instance/.
        self.env.setdefault("HEADWAY_JOB_OUTPUT_DIR", str(log_path.parent / "jobs"))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.workers, self.timeout = workers, timeout
        self.process = None
        # NullPool: no connection stays open to keep the database from a DROP.
        self.engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)

    def flask(self, *args, stdin=None, check=True):
        result = run_flask(*args, input=stdin, **self.env)
        if check:
            assert result.returncode == 0, (
                f"flask {' '.join(args)} exited {result.returncode}:\n"
                + result.stdout
                + result.stderr
            )
        return result

    def flask_batch(self, *commands: "tuple[str, ...] | FlaskCommand") -> list[str]:
        """Run `flask` commands in order in one process (tests/flask_batch.py:
        a process each costs a second and a half of imports); each one's
        output. The first that fails fails the test, with its output."""
        batch = [
            [list(c.args), c.stdin] if isinstance(c, FlaskCommand) else [list(c), None]
            for c in commands
        ]
        result = subprocess.run(
            [sys.executable, "-m", "tests.flask_batch"],
            cwd=ROOT,
            env=subprocess_env(**self.env),
            input=json.dumps(batch),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, (
            f"flask batch exited {result.returncode}:\n{result.stdout}{result.stderr}"
        )
        return result.stdout.split(OUTPUT_END + "\n")[: len(batch)]

    def create_user(
        self, name: str, role: str, password: str = PASSWORD, token: bool = True
    ) -> str | None:
        """The user, and (unless token=False) an API token of theirs."""
        commands = [user_command(name, role, password)]
        if token:
            commands.append(("users", "token", "create", name))
        out = self.flask_batch(*commands)
        return out[-1].strip().splitlines()[-1] if token else None

    def scalar(self, sql: str, **params):
        """The first column of the first row of `sql`, on the server's database."""
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    def start(self) -> None:
        command = [sys.executable, "-m", "gunicorn"]
        if self.workers is not None:
            command += ["--workers", str(self.workers)]
        if self.timeout is not None:
            command += ["--timeout", str(self.timeout)]
        command += ["--bind", f"127.0.0.1:{self.port}", "wsgi:app"]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=subprocess_env(**self.env, PYTHONUNBUFFERED="1"),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_SECONDS
        last_error = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"gunicorn exited {self.process.returncode} while starting:\n"
                    + self.log_since(0)
                )
            try:
                if self.request("GET", "/healthz", timeout=2)[0] == 200:
                    return
            except OSError as error:
                last_error = error
            time.sleep(0.1)
        raise AssertionError(
            f"gunicorn did not answer /healthz within {START_SECONDS} s "
            f"({last_error}):\n" + self.log_since(0)
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.kill_running_jobs()
        self.engine.dispose()

    def kill_running_jobs(self) -> None:
        """Job processes outlive gunicorn (that is their point): end the ones a
        test left running, so its database can be dropped."""
        try:
            with self.engine.connect() as conn:
                pids = conn.execute(
                    sa.text("SELECT pid FROM headway_jobs WHERE status = 'running'")
                ).scalars()
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError, TypeError):
                        os.kill(pid, signal.SIGKILL)
        except sa.exc.SQLAlchemyError:
            pass  # no job table: no job

    def log_size(self) -> int:
        """Where the server's log ends now: an offset for log_since."""
        return self.log_path.stat().st_size

    def log_since(self, offset: int) -> str:
        with self.log_path.open("rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def assert_no_server_errors(self, since: int = 0) -> None:
        """No traceback and no 500 in the server's log since offset `since`."""
        log = self.log_since(since)
        errors = [
            line for line in log.splitlines() if "Traceback" in line or '" 500 ' in line
        ]
        assert not errors, "the server logged errors:\n" + log

    def request(
        self, method, path, body=None, token=None, opener=None, form=None, timeout=30
    ):
        headers = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.base + path, data, headers, method=method)
        try:
            open_url = opener.open if opener else urllib.request.urlopen
            with open_url(req, timeout=timeout) as response:
                return response.status, _decode(response)
        except urllib.error.HTTPError as error:
            return error.code, _decode(error)

    def browser(self, username: str, jar: http.cookiejar.CookieJar | None = None):
        """An opener with a logged-in session cookie (in `jar`, when given)."""
        jar = http.cookiejar.CookieJar() if jar is None else jar
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        status, page = self.request("GET", "/login", opener=opener)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        self.request(
            "POST",
            "/login",
            opener=opener,
            form={"username": username, "password": PASSWORD, "csrf_token": token},
        )
        return opener

    def wait_for_job(
        self, job_id, token, until=("succeeded", "failed", "interrupted"), seconds=60
    ):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            status, job = self.request(
                "GET", f"/api/migrations/jobs/{job_id}", token=token
            )
            assert status == 200, job
            if job["status"] in until:
                return job
            time.sleep(0.25)
        raise AssertionError(f"job {job_id} still {job['status']}: {job}")


@contextlib.contextmanager
def browser_server(
    dialect: str, tmp: Path, migrations: Path | None = None
) -> Iterator[LiveServer]:
    """A LiveServer as the browser tests run it (two workers, no timeout, its
    log in `tmp`) on a new database of `dialect`, dropped after. The caller
    prepares the database and starts the server; leaving removes
    `server.flag` (see wait_while_flag) and stops it."""
    with new_database(dialect, tmp) as database_url:
        server = LiveServer(
            database_url,
            migrations,
            workers=2,
            timeout=None,
            log_path=tmp / "gunicorn.log",
        )
        server.flag = tmp / "wait.flag"
        try:
            yield server
        finally:
            server.flag.unlink(missing_ok=True)
            server.stop()


def wait_while_flag(server: LiveServer) -> str:
    """A revision function's body that waits while `server.flag` exists (a
    minute at most); offline (a plan's SQL) it does not wait."""
    return f"""
    import os, time
    deadline = time.monotonic() + 60
    while (not op.get_context().as_sql and os.path.exists({str(server.flag)!r})
           and time.monotonic() < deadline):
        time.sleep(0.1)
    """


def _decode(response):
    text = response.read().decode()
    if response.headers.get("Content-Type", "").startswith("application/json"):
        return json.loads(text)
    return text
