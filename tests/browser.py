"""Real-browser test helpers and fixtures.

- `live_server`: a real gunicorn (`wsgi:app`, 2 workers, gunicorn.conf.py) on a
  SQLite database prepared the way a user would: `flask demo create-legacy`,
  `flask db adopt`, `flask db upgrade`, `flask headway init`, and one account
  per role through `flask users create`.
- `chromium`: Debian's Chromium (/usr/lib/chromium/chromium, see `make
  chromium`) driven by Playwright, without `playwright install`. Missing, the
  tests are skipped; with CI=true they fail instead.
- `BrowserSession`: a browser context (its own cookies) that records every
  console message, page error and dialog of each of its pages.

test_browser.py loads this module as a plugin (pytest_plugins).
"""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/lib/chromium/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SERVER_START_SECONDS = 30
FLASK_COMMAND_SECONDS = 60
ACTION_TIMEOUT_MS = 10_000
NAVIGATION_TIMEOUT_MS = 15_000

# One account per role: username -> (role, password).
ACCOUNTS = {
    "admin": ("admin", "admin-password-123"),
    "operator": ("operator", "operator-password-123"),
    "viewer": ("viewer", "viewer-password-123"),
}

# Reports every CSP violation to the console in words the checks look for,
# whatever Chromium itself logs. Init scripts are not subject to the page's CSP.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", function (e) {
  console.error("Content Security Policy violation: " + e.violatedDirective
    + " blocked " + (e.blockedURI || "inline") + " at " + e.sourceFile
    + ":" + e.lineNumber);
});
"""
CSP_MARKERS = ("Content Security Policy", "Refused to")


def ci_requires_browser() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(database_url: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HEADWAY_", "GUNICORN_"))
        and k not in ("DATABASE_URL", "SECRET_KEY", "FLASK_APP")
    }
    env.update(
        HEADWAY_CONFIG="testing",
        DATABASE_URL=database_url,
        SECRET_KEY="browser-tests-secret-key",
        PYTHONUNBUFFERED="1",
    )
    return env


def flask(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """Run `flask ARGS` from the project root; fail the test on an error."""
    result = subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=FLASK_COMMAND_SECONDS,
    )
    if result.returncode != 0:
        pytest.fail(
            f"flask {' '.join(args)} exited {result.returncode}:\n"
            f"{result.stdout}\n{result.stderr}"
        )
    return result.stdout


def prepare_database(env: dict[str, str]) -> None:
    flask(env, "demo", "create-legacy", "--scale", "0.005")
    flask(env, "db", "adopt")
    flask(env, "db", "upgrade")
    flask(env, "headway", "init")
    for username, (role, password) in ACCOUNTS.items():
        flask(
            env,
            "users",
            "create",
            username,
            "--role",
            role,
            "--password-stdin",
            stdin=password + "\n",
        )


@dataclass
class LiveServer:
    url: str
    database_url: str
    log_path: Path
    process: subprocess.Popen
    engine: sa.Engine
    log_offset: int = 0

    def log_since(self, offset: int) -> str:
        with self.log_path.open("rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    def scalar(self, sql: str, **params):
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()


def wait_until_healthy(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"gunicorn exited {process.returncode} while starting:\n"
                + log_path.read_text(errors="replace")
            )
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last_error = exc
        time.sleep(0.1)
    pytest.fail(
        f"gunicorn did not answer /healthz within {SERVER_START_SECONDS} s "
        f"({last_error}):\n" + log_path.read_text(errors="replace")
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory) -> Iterator[LiveServer]:
    """A real gunicorn serving the app on a prepared SQLite database."""
    tmp = tmp_path_factory.mktemp("live")
    database_url = f"sqlite:///{tmp / 'headway.db'}"
    env = server_env(database_url)
    prepare_database(env)

    port = free_port()
    log_path = tmp / "gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        wait_until_healthy(url, process, log_path)
        yield LiveServer(url, database_url, log_path, process, engine)
    finally:
        stop(process)
        engine.dispose()


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium, headless, through Playwright."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (make chromium installs it)"
        if ci_requires_browser():
            pytest.fail(f"CI=true and {message}: the browser tests must run")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            timeout=30_000,
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageRecord:
    """What one page printed, threw and asked."""

    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[tuple[str, str]] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        return [
            text
            for text in self.console + self.errors
            if any(marker in text for marker in CSP_MARKERS)
        ]


class BrowserSession:
    """A browser context of its own (cookies included) whose pages are watched.

    Dialogs are recorded and then dismissed, or accepted when
    `dialog_action == "accept"`, so that a stray alert never blocks a test.
    """

    def __init__(self, browser, live_server: LiveServer):
        self.server = live_server
        self.context = browser.new_context(base_url=live_server.url)
        self.context.set_default_timeout(ACTION_TIMEOUT_MS)
        self.context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
        self.context.add_init_script(CSP_LISTENER)
        self.records: dict[object, PageRecord] = {}
        self.dialog_action = "dismiss"
        self.context.on("page", self._watch)
        self.page = self.context.new_page()
        self._watch(self.page)

    def _watch(self, page) -> None:
        if page in self.records:
            return
        record = self.records[page] = PageRecord()
        page.on("console", lambda msg: record.console.append(f"{msg.type}: {msg.text}"))
        page.on("pageerror", lambda exc: record.errors.append(str(exc)))

        def on_dialog(dialog) -> None:
            record.dialogs.append((dialog.type, dialog.message))
            if self.dialog_action == "accept":
                dialog.accept()
            else:
                dialog.dismiss()

        page.on("dialog", on_dialog)

    @property
    def record(self) -> PageRecord:
        return self.records[self.page]

    def all_dialogs(self) -> list[tuple[str, str]]:
        return [d for record in self.records.values() for d in record.dialogs]

    def assert_no_csp_violations(self) -> None:
        violations = [v for r in self.records.values() for v in r.csp_violations()]
        assert not violations, "CSP violations:\n" + "\n".join(violations)

    def assert_no_page_errors(self) -> None:
        errors = [e for r in self.records.values() for e in r.errors]
        assert not errors, "page errors:\n" + "\n".join(errors)

    def login(self, username: str, password: str | None = None, next: str = ""):
        """Log in through the real form; returns the page, on the landing page."""
        if password is None:
            password = ACCOUNTS[username][1]
        page = self.page
        if next:
            page.goto(next)
            assert urlsplit(page.url).path == "/login"
        else:
            page.goto("/login")
        page.fill("input[name='username']", username)
        page.fill("input[name='password']", password)
        with page.expect_navigation():
            page.get_by_role("button", name="Log in").click()
        assert urlsplit(page.url).path == (next or "/admin/"), page.url
        return page

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def browser_session(chromium, live_server) -> Iterator:
    """Open watched browser sessions; the server must log no error meanwhile."""
    sessions: list[BrowserSession] = []
    start = live_server.log_size()

    def open_session() -> BrowserSession:
        session = BrowserSession(chromium, live_server)
        sessions.append(session)
        return session

    yield open_session
    for session in sessions:
        session.close()
    log = live_server.log_since(start)
    server_errors = [
        line for line in log.splitlines() if "Traceback" in line or '" 500 ' in line
    ]
    assert not server_errors, "the server logged errors:\n" + log
