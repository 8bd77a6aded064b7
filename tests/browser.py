"""Real-browser test helpers and fixtures.

- `live_server`: tests/live.py's `LiveServer` (gunicorn `wsgi:app`, 2 workers,
  gunicorn.conf.py), once per dialect under test (SQLite, and MySQL/MariaDB
  when TEST_DATABASE_URL is set), on a database prepared the way a user would:
  `flask demo create-legacy`, `flask db adopt`, `flask db upgrade`, `flask
  headway init`, and one account per role through `flask users create`.
- `chromium`: Debian's Chromium (/usr/lib/chromium/chromium, see `make
  chromium`) driven by Playwright, without `playwright install`. Missing, the
  tests are skipped; with CI=true they fail instead.
- `BrowserSession`: a browser context (its own cookies) that records every
  console message, page error and dialog of each of its pages.

test_browser.py loads this module as a plugin (pytest_plugins).
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.helpers import DIALECTS
from tests.live import LiveServer, browser_server, user_command

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


def prepare_database(server: LiveServer) -> None:
    """The legacy database, adopted and at the head of the server's scripts,
    with Headway's tables and one account per role (ACCOUNTS)."""
    server.flask_batch(
        ("demo", "create-legacy", "--scale", "0.005"),
        ("db", "adopt"),
        ("db", "upgrade"),
        ("headway", "init"),
        *(user_command(name, role, pw) for name, (role, pw) in ACCOUNTS.items()),
    )


@pytest.fixture(scope="module", params=DIALECTS)
def live_server(request, tmp_path_factory) -> Iterator[LiveServer]:
    """A real gunicorn serving the app on a prepared database of each dialect."""
    tmp = tmp_path_factory.mktemp(f"live-{request.param}")
    with browser_server(request.param, tmp) as server:
        prepare_database(server)
        server.start()
        yield server


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
        self.context = browser.new_context(base_url=live_server.base)
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
    live_server.assert_no_server_errors(since=start)


def upgrade_skipping_preflight(page, target: str) -> None:
    """On the plan page for `target`: preflight skipped (it would refuse a
    step that fails, or run one that waits, on a scratch copy first), the
    confirmation ticked, the upgrade started; the page is then the job's."""
    page.locator("#no-preflight-upgrade").check()
    page.locator("#confirm-upgrade").check()
    with page.expect_navigation():
        page.get_by_role("button", name=f"Upgrade to {target}").click()


# axe-core, installed by `make test` (npm ci, package.json): injected into the
# page by Playwright's evaluate, which the page's CSP does not govern.
AXE = Path(__file__).resolve().parent.parent / "node_modules/axe-core/axe.min.js"
# What axe-core counts as a failure of the page (its impacts: minor,
# moderate, serious, critical).
AXE_FAILING_IMPACTS = ("serious", "critical")


def axe_source() -> str:
    if not AXE.exists():
        message = f"{AXE} is missing (make test installs it: npm ci)"
        if ci_requires_browser():
            pytest.fail(f"CI=true and {message}: the accessibility tests must run")
        pytest.skip(message)
    return AXE.read_text()


def axe_violations(page, source: str) -> list[dict]:
    """axe-core's violations on `page` as it is, with its default rules (no
    rule disabled, nothing excluded)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(source)
    # resultTypes: only the violations' nodes are detailed (the rules that run
    # are the same; the passes are not described node by node): faster.
    return page.evaluate(
        "async () => (await window.axe.run(document, {resultTypes: ['violations']}))"
        ".violations.map(v => ({"
        "id: v.id, impact: v.impact, help: v.help,"
        "nodes: v.nodes.map(n => n.target.join(' ') + ' ' + "
        "(n.failureSummary || '').split('\\n').slice(0, 2).join(' '))}))"
    )


def axe_failures(page, source: str) -> list[str]:
    """The serious and critical violations, one line per node."""
    return [
        f"{page.url}: {v['impact']} {v['id']} ({v['help']}): {node}"
        for v in axe_violations(page, source)
        if v["impact"] in AXE_FAILING_IMPACTS
        for node in v["nodes"]
    ]
