"""A real gunicorn serving Headway on a prepared database, for the tests whose
behaviour depends on it (several workers, timeouts, job processes)."""

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
from pathlib import Path

import sqlalchemy as sa

from tests.conftest import PASSWORD, ROOT, run_flask


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, database_url: str, migrations: Path, workers=3, timeout=5):
        self.env = {
            "HEADWAY_CONFIG": "testing",
            "DATABASE_URL": database_url,
            "HEADWAY_MIGRATIONS_DIR": str(migrations),
        }
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.workers, self.timeout = workers, timeout
        self.process = None
        self.log_path = migrations.parent / "gunicorn.log"

    def flask(self, *args, stdin=None, check=True):
        result = run_flask(*args, input=stdin, **self.env)
        if check:
            assert result.returncode == 0, result.stdout + result.stderr
        return result

    def create_user(self, name: str, role: str) -> str:
        """The user, and an API token of theirs."""
        self.flask(
            "users", "create", name, "--role", role, "--password-stdin", stdin=PASSWORD
        )
        out = self.flask("users", "token", "create", name).stdout
        return out.strip().splitlines()[-1]

    def start(self) -> None:
        env = {**os.environ, **self.env}
        self.log = open(self.log_path, "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(self.workers),
                "--timeout",
                str(self.timeout),
                "--bind",
                f"127.0.0.1:{self.port}",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("gunicorn did not start:\n" + self.log_path.read_text())

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.log.close()
        self.kill_running_jobs()

    def kill_running_jobs(self) -> None:
        """Job processes outlive gunicorn (that is their point): end the ones a
        test left running, so its database can be dropped."""
        engine = sa.create_engine(self.env["DATABASE_URL"], poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                pids = conn.execute(
                    sa.text("SELECT pid FROM headway_jobs WHERE status = 'running'")
                ).scalars()
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError, TypeError):
                        os.kill(pid, signal.SIGKILL)
        except sa.exc.SQLAlchemyError:
            pass  # no job table: no job
        finally:
            engine.dispose()

    def request(self, method, path, body=None, token=None, opener=None, form=None):
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
            with open_url(req, timeout=30) as response:
                return response.status, _decode(response)
        except urllib.error.HTTPError as error:
            return error.code, _decode(error)

    def browser(self, username: str):
        """An opener with a logged-in session cookie."""
        jar = http.cookiejar.CookieJar()
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


def _decode(response):
    text = response.read().decode()
    if response.headers.get("Content-Type", "").startswith("application/json"):
        return json.loads(text)
    return text
