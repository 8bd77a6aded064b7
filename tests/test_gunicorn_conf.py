"""gunicorn.conf.py on a real host: two checkouts serve side by side, each
with its own control socket; the settings come from the environment."""

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import (
    ROOT,
    assert_refused_in_one_line,
    check_gunicorn_config,
    subprocess_env,
)
from tests.live import free_port

# Every test here starts gunicorn (make test-fast skips them).
pytestmark = pytest.mark.live

START_SECONDS = 30
# What a checkout holds besides its tracked files.
NOT_CHECKED_IN = shutil.ignore_patterns(
    ".git",
    ".venv",
    "instance",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".env",
    "node_modules",
)


def copy_of_checkout(directory: Path) -> Path:
    shutil.copytree(ROOT, directory, ignore=NOT_CHECKED_IN)
    return directory


class Gunicorn:
    """`gunicorn wsgi:app` started from a checkout, as `make run` does, with
    the development configuration and an embedded database of its own."""

    def __init__(self, checkout: Path, home: Path, **env: str):
        self.checkout = checkout
        self.port = free_port()
        self.log_path = checkout / "gunicorn.log"
        # One home for every instance, and no XDG_RUNTIME_DIR: gunicorn's
        # default control socket would be the same file for all of them.
        self.env = subprocess_env(
            HEADWAY_CONFIG="development",
            HEADWAY_BIND=f"127.0.0.1:{self.port}",
            HOME=str(home),
            **env,
        )
        self.env.pop("XDG_RUNTIME_DIR", None)
        # The copy's own instance/, as `make run` has it.
        self.env.pop("HEADWAY_INSTANCE_DIR", None)
        self.env.pop("HEADWAY_JOB_OUTPUT_DIR", None)
        self.process = None

    def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "wsgi:app"],
                cwd=self.checkout,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_until_serving(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "gunicorn exited:\n" + self.log()
            try:
                if self.get("/healthz") == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("gunicorn did not serve:\n" + self.log())

    def get(self, path: str) -> int:
        url = f"http://127.0.0.1:{self.port}{path}"
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def control(self, socket_path: Path, command: str) -> dict:
        """A command through `gunicornc` on `socket_path`, its JSON answer."""
        result = subprocess.run(
            [str(Path(sys.executable).with_name("gunicornc")), "-s", str(socket_path)]
            + ["-c", command, "-j"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return json.loads(result.stdout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture
def start(tmp_path):
    """start(name, **env): a gunicorn serving a fresh copy of the checkout."""
    home = tmp_path / "home"
    home.mkdir()
    servers: list[Gunicorn] = []

    def start_one(name: str, **env: str) -> Gunicorn:
        server = Gunicorn(copy_of_checkout(tmp_path / name), home, **env)
        servers.append(server)
        server.start()
        return server

    start_one.home = home
    yield start_one
    for server in servers:
        server.stop()


def test_two_checkouts_on_one_host_both_serve(start):
    first = start("first")
    second = start("second")
    for server in (first, second):
        server.wait_until_serving()
        assert server.get("/login") == 200

    # Each answers on the control socket beside its own instance folder.
    for server in (first, second):
        socket_path = server.checkout / "instance" / "gunicorn.ctl"
        stats = server.control(socket_path, "show stats")
        assert stats["pid"] == server.process.pid
        # Workers default to the CPUs this process may use.
        assert stats["workers_target"] == len(os.sched_getaffinity(0))
        log = server.log()
        assert f"Control socket listening at {socket_path}" in log
        assert "Control server error" not in log
        assert "Failed to start control socket" not in log
    assert not (start.home / ".gunicorn").exists()

    # Stopping one leaves the other serving, its socket untouched.
    first.stop()
    assert not (first.checkout / "instance" / "gunicorn.ctl").exists()
    assert second.get("/healthz") == 200
    stats = second.control(second.checkout / "instance" / "gunicorn.ctl", "show stats")
    assert stats["pid"] == second.process.pid


def test_access_log_has_the_response_time(start):
    server = start("only", HEADWAY_WORKERS="1")
    server.wait_until_serving()
    server.get("/healthz")
    server.stop()
    # gevent workers, each loading the app after gevent patched it.
    assert "Using worker: gevent" in server.log()
    lines = [line for line in server.log().splitlines() if "GET /healthz" in line]
    assert lines and all(line.rstrip().endswith("ms") for line in lines), lines


def test_control_socket_off_or_elsewhere(start, tmp_path):
    off = start("off", HEADWAY_CONTROL_SOCKET="off", HEADWAY_WORKERS="1")
    elsewhere = start(
        "elsewhere",
        HEADWAY_CONTROL_SOCKET=str(tmp_path / "ctl" / "h.ctl"),
        HEADWAY_WORKERS="1",
    )
    for server in (off, elsewhere):
        server.wait_until_serving()
    assert not (off.checkout / "instance" / "gunicorn.ctl").exists()
    assert "Control socket listening" not in off.log()
    assert not (start.home / ".gunicorn").exists()
    stats = elsewhere.control(tmp_path / "ctl" / "h.ctl", "show stats")
    assert stats["pid"] == elsewhere.process.pid
    assert stats["workers_target"] == 1


@pytest.mark.parametrize(
    "name,value",
    [("HEADWAY_WORKERS", "two"), ("HEADWAY_TIMEOUT", "0"), ("HEADWAY_WORKERS", "-1")],
)
def test_a_bad_setting_is_one_line(tmp_path, name, value):
    assert_refused_in_one_line(
        check_gunicorn_config(**{name: value}),
        f"{name} must be a whole number above 0, not {value!r}",
    )


def test_a_bad_worker_class_is_one_line():
    assert_refused_in_one_line(
        check_gunicorn_config(HEADWAY_WORKER_CLASS="eventlet"),
        "HEADWAY_WORKER_CLASS must be one of gevent, gthread, sync, not 'eventlet'",
    )
