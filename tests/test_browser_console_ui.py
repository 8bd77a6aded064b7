"""What people see in the console, in a real browser (Debian's Chromium)
against a real gunicorn: a job's log live before the job ends, drift found by
a drift check outranking "up to date" on every surface, every page kind
through axe-core (no serious or critical violation, default rules), and the
console pages and a list at a phone's 390 px.

One server for the module, on SQLite only: what the browser shows (layout,
markup, contrast) is the same on MariaDB, whose own browser tests are in
test_browser_console.py. The tests run in order: each starts from where the
previous one left the database."""

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.helpers import ROOT, Scripts, migrations_head
from tests.live import LiveServer, browser_server, wait_while_flag

pytest_plugins = ["tests.browser"]
# Every test here drives Chromium against a gunicorn it starts.
pytestmark = pytest.mark.live

HEAD = migrations_head()
WAIT = "0004_wait"
JOB_TIMEOUT_MS = 60_000
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def live_server(tmp_path_factory) -> Iterator[LiveServer]:
    """gunicorn on the legacy database adopted and at HEAD, with one more
    revision, 0004_wait, whose upgrade waits while a flag file exists."""
    from tests.browser import prepare_database

    tmp = tmp_path_factory.mktemp("console-ui")
    scripts = Scripts.copy_of(ROOT / "migrations", tmp / "migrations")
    with browser_server("sqlite", tmp, scripts.directory) as server:
        prepare_database(server)
        scripts.write(WAIT, HEAD, wait_while_flag(server), message="a step that waits")
        server.start()
        yield server


def test_a_job_log_line_appears_before_the_job_ends(browser_session, live_server):
    from tests.browser import upgrade_skipping_preflight

    live_server.flag.write_text("wait")
    session = browser_session()
    page = session.login("operator", next="/admin/migrations/plan")
    page.goto(f"/admin/migrations/plan?target={WAIT}")
    upgrade_skipping_preflight(page, WAIT)
    assert urlsplit(page.url).path.startswith("/admin/migrations/jobs/")
    # A mark on the page: a reload would wipe it.
    page.evaluate("() => { window.headwayMark = 'kept'; }")
    # The Jobs tab, not the Dashboard, is this page's.
    expect(page.locator("#console-tabs .nav-link.active")).to_have_text("Jobs")
    log = page.locator("#job-log")
    # (After the job's checks before its first step: seconds.)
    expect(log).to_contain_text(
        f"Running upgrade {HEAD} -> {WAIT}", timeout=JOB_TIMEOUT_MS
    )
    status = page.locator("#job-status")
    assert status.get_attribute("data-status") == "running"
    expect(status).to_contain_text(f"step 1 of 1 running: {WAIT}")
    # The noise of Alembic's set-up is not shown.
    assert "setting up autogenerate plugin" not in log.inner_text()

    live_server.flag.unlink()
    expect(status).to_have_attribute("data-status", "succeeded", timeout=JOB_TIMEOUT_MS)
    expect(log).to_contain_text(f"succeeded; the database is at {WAIT}")
    assert page.evaluate("() => window.headwayMark") == "kept"
    # The Jobs tab lists it.
    page.locator("#console-tabs a", has_text="Jobs").click()
    expect(page.locator("#jobs tbody tr").first).to_contain_text(WAIT)
    session.assert_no_csp_violations()
    session.assert_no_page_errors()


def test_drift_from_a_drift_check_outranks_up_to_date(browser_session, live_server):
    """At head, the cheap check passes; a drift check made since the last
    change found a difference: every surface says drift, in words, in one
    colour, and /readyz refuses."""
    with live_server.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO headway_drift_checks (checked_at, checked_by, revisions, "
            "stamp_differences, model_differences) VALUES "
            f"('2999-01-01 00:00:00', 'op', '{WAIT}', "
            "'employees.hire_date: DATE here, DATETIME in the revision', '')"
        )
    try:
        session = browser_session()
        page = session.login("viewer")
        for url in ("/admin/", "/admin/migrations/", "/admin/migrations/history"):
            page.goto(url)
            badge = page.locator("#navbar-state")
            expect(badge).to_have_text("drift")
            expect(badge).to_have_class("badge badge-danger")
        expect(page.locator("#state")).to_have_attribute("data-state", "drift")
        expect(page.locator("#state")).to_contain_text("employees.hire_date")
        page.goto("/admin/")
        expect(page.locator("#home-state")).to_have_text("drift")
        status = page.request.get("/api/migrations/status").json()
        assert (status["state"], status["state_words"]) == ("drift", "drift")
        response = page.request.get("/readyz")
        assert response.status == 503
        assert response.json()["state_words"] == "drift"
        for text in (page.content(),):
            assert "up_to_date" not in text and "up to date" not in text
    finally:
        with live_server.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM headway_drift_checks")
    page.goto("/admin/")
    expect(page.locator("#navbar-state")).to_have_text("up to date")


# One page of each kind: (name, url, who). (A second list or form of the
# same template would be a second pass over the same markup.)
PAGE_KINDS = [
    ("login", "/login", None),
    ("home", "/admin/", "admin"),
    ("dashboard", "/admin/migrations/", "admin"),
    ("history", "/admin/migrations/history", "admin"),
    ("revision", f"/admin/migrations/revision/{HEAD}", "admin"),
    # The stamp check open, its picker and form shown.
    ("plan", f"/admin/migrations/plan?target={HEAD}&stamp={HEAD}", "admin"),
    ("drift", "/admin/migrations/drift", "admin"),
    ("audit", "/admin/migrations/audit", "admin"),
    ("jobs", "/admin/migrations/jobs", "admin"),
    ("job", "/admin/migrations/jobs/1", "admin"),
    # A list (the employees', the longest), with a filter and a search on:
    # the list's markup and their fields in one pass.
    # ({name}: the first employee's last name, so that rows are listed.)
    (
        "filtered list",
        "/admin/employee/?flt0_hire_date_on_or_after=1900-01-01"
        "&flt1_last_name_starts_with={name}&search={name}",
        "admin",
    ),
    ("details", "/admin/employee/details/?id=10001", "admin"),
    ("edit", "/admin/employee/edit/?id=10001", "admin"),
    ("user", "/admin/users/details/?id=1", "admin"),
    ("account", "/admin/account/", "admin"),
    ("not found", "/admin/migrations/jobs/999999", "admin"),
]


def test_axe_finds_no_serious_or_critical_violation(
    browser_session, chromium, live_server
):
    from tests.browser import axe_failures, axe_source

    source = axe_source()
    anonymous = browser_session().page
    session = browser_session()
    session.login("admin")
    failures = []
    last_name = live_server.scalar(
        "SELECT last_name FROM employees ORDER BY emp_no LIMIT 1"
    )
    for name, url, who in PAGE_KINDS:
        page = session.page if who else anonymous
        page.goto(url.replace("{name}", last_name))
        failures += [f"[{name}] {line}" for line in axe_failures(page, source)]
        # One h1 names the page; <main> and the skip link to it are there.
        if page.locator("h1").count() != 1:
            failures.append(f"[{name}] {page.locator('h1').count()} h1 elements")
        if page.locator("main#main").count() != 1:
            failures.append(f"[{name}] no <main id=main>")
        if page.locator("a[href='#main']").count() != 1:
            failures.append(f"[{name}] no skip link")
        if name == "filtered list" and not (
            page.locator(".filters input").count()
            and page.locator("input.action-checkbox").count()
        ):
            failures.append(f"[{name}] no filter or no row shown")
    assert not failures, f"{len(failures)} axe failures:\n" + "\n".join(failures)


PHONE_PAGES = [
    "/admin/",
    "/admin/migrations/",
    "/admin/migrations/history",
    f"/admin/migrations/revision/{HEAD}",
    f"/admin/migrations/plan?target={HEAD}",
    "/admin/migrations/drift",
    "/admin/migrations/audit",
    "/admin/migrations/jobs",
    "/admin/migrations/jobs/1",
    "/admin/account/",
    "/admin/employee/",
]


def test_every_console_page_fits_a_phone(browser_session, live_server):
    session = browser_session()
    session.page.set_viewport_size(PHONE)
    page = session.login("admin")
    too_wide = []
    for url in PHONE_PAGES:
        page.goto(url)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            too_wide.append(f"{url}: {width} px")
        # The navbar is collapsed; the database and its state stay in view.
        expect(page.locator(".navbar-toggler")).to_be_visible()
        expect(page.locator("#navbar-state")).to_be_visible()
    assert not too_wide, "wider than a phone:\n" + "\n".join(too_wide)
    # On a desktop, each table stays inside its box (the audit trail's, the
    # history's), scrolling there when it must.
    page.set_viewport_size({"width": 1280, "height": 900})
    for url in ("/admin/migrations/audit", "/admin/migrations/history"):
        page.goto(url)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 1280
        assert page.evaluate(
            """() => Array.from(document.querySelectorAll("main table")).every(t => {
                 const box = (t.closest(".table-scroll") || t.parentElement)
                   .getBoundingClientRect();
                 const main = document.querySelector("main").getBoundingClientRect();
                 return box.right <= main.right + 0.5; })"""
        ), url


def test_a_token_with_its_expiry_and_copy_button_then_log_out(
    browser_session, live_server
):
    session = browser_session()
    page = session.login("viewer", next="/admin/account/")
    page.fill("input[name='name']", "ci")
    page.select_option("select[name='days']", "7")
    page.fill("input[name='password']", "viewer-password-123")
    with page.expect_navigation():
        page.get_by_role("button", name="Create token").click()
    expect(page.locator("#new-token")).to_contain_text("valid until")
    token = page.locator("#new-token-text")
    assert token.input_value().startswith("hw_")
    page.locator("#copy-token").click()
    expect(page.locator("#copy-token")).to_have_text("Copied")
    expect(page.locator("table").filter(has_text="ci").first).to_be_visible()
    with page.expect_navigation():
        page.get_by_role("button", name="Log out", exact=True).click()
    assert urlsplit(page.url).path == "/login"
    expect(page.locator("main .alert")).to_have_text("You are logged out.")
    session.assert_no_csp_violations()
    session.assert_no_page_errors()


def test_a_slow_form_says_it_is_working(browser_session, live_server):
    """The plan's preview and the stamp check take seconds: once submitted,
    the button is disabled and a spinner says what is being done."""
    session = browser_session()
    page = session.login("viewer", next="/admin/migrations/plan")
    # The answer held back (the submission is cancelled after Headway's own
    # listener has seen it), so that the page can be looked at meanwhile.
    page.evaluate("() => window.addEventListener('submit', e => e.preventDefault())")
    page.select_option("select#target", "head")
    page.get_by_role("button", name="Preview").click()
    note = page.locator("#plan-picker .slow-note")
    expect(note).to_be_visible()
    expect(note).to_contain_text("Rendering the plan's SQL")
    expect(note).to_have_attribute("role", "status")
    expect(page.get_by_role("button", name="Preview")).to_be_disabled()
    session.assert_no_page_errors()
