"""The home page and what every admin page has around its content, in a real
browser (Debian's Chromium) against a real gunicorn: the database and its
state in the navbar, the running-job banner, titles, the active tab, the
favicon, the 403 page, the Users form's errors. See tests/browser.py."""

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.helpers import DIALECTS, ROOT, Scripts, migrations_head
from tests.live import LiveServer, browser_server, user_command

# The fixtures (chromium) and helpers of tests/browser.py.
pytest_plugins = ["tests.browser"]
# Every test here drives Chromium against a gunicorn it starts.
pytestmark = pytest.mark.live

HEAD = migrations_head()
# Pending, and slow enough to be seen running from other pages.
SLOW = "0004_slow"


@pytest.fixture(scope="module", params=DIALECTS)
def server(request, tmp_path_factory) -> Iterator[LiveServer]:
    """gunicorn on a legacy database at the project's head, with one more
    revision pending (SLOW, which sleeps), accounts for each role and an
    operator's API token (server.token)."""
    from tests.browser import ACCOUNTS

    tmp = tmp_path_factory.mktemp(f"home-{request.param}")
    scripts = Scripts.copy_of(ROOT / "migrations", tmp / "migrations")
    scripts.write(SLOW, HEAD, "import time\ntime.sleep(6)")
    with browser_server(request.param, tmp, scripts.directory) as server:
        out = server.flask_batch(
            ("demo", "create-legacy", "--scale", "0.005"),
            ("headway", "init"),  # first: the steps below are audited
            # Not plain `adopt`: it would build every revision's schema,
            # SLOW's six-second sleep included.
            ("db", "adopt", "--to", "0001_baseline"),
            ("db", "upgrade", HEAD),
            *(user_command(u, role, pw) for u, (role, pw) in ACCOUNTS.items()),
            user_command("robot", "operator"),
            ("users", "token", "create", "robot"),
        )
        server.token = out[-1].strip().splitlines()[-1]
        server.dialect = request.param
        server.start()
        yield server


@pytest.fixture
def session(chromium, server) -> Iterator:
    from tests.browser import BrowserSession

    start = server.log_size()
    sessions = []

    def open_session():
        sessions.append(BrowserSession(chromium, server))
        return sessions[-1]

    yield open_session
    for s in sessions:
        s.assert_no_csp_violations()
        s.assert_no_page_errors()
        s.close()
    server.assert_no_server_errors(since=start)


def path(page) -> str:
    return urlsplit(page.url).path


def test_home_page_navbar_titles_and_tabs(session, server):
    page = session().login("viewer")
    expect(page).to_have_title("Home · Headway")
    name = server.engine.url.database
    if server.dialect == "sqlite":
        name = name.rsplit("/", 1)[-1]
    expect(page.locator("#home-database-name")).to_have_text(name)
    dialect = "SQLite" if server.dialect == "sqlite" else "MariaDB"
    expect(page.locator("#home-server")).to_have_text(re.compile(rf"{dialect} \d+"))
    expect(page.locator("#home-state")).to_have_text("behind")
    expect(page.locator("#home-current")).to_have_text(HEAD)
    expect(page.locator("#home-heads")).to_have_text(SLOW)
    # The CLI's adoption and upgrade are in the audit trail.
    expect(page.locator("#home-last-change")).to_contain_text(f"→ {HEAD}")
    expect(page.locator("#home-drift")).to_have_attribute("data-drift", "unchecked")
    employees = page.locator("#home-tables tr", has_text="employees").locator("td")
    count = employees.nth(1).inner_text()
    # A small table (below 100,000 rows): counted exactly, on both dialects.
    assert count == f"{server.scalar('SELECT count(*) FROM employees'):,}"
    expect(page.locator("#home-tables")).not_to_contain_text("headway_")

    # The navbar, on every page: the database and its state.
    navbar = page.locator("nav.navbar")
    expect(navbar.locator("#navbar-database")).to_contain_text(name)
    expect(navbar.locator("#navbar-state")).to_have_text("behind")
    expect(navbar.locator("#navbar-state")).to_have_class(re.compile("badge-warning"))

    # Each area is a link away; each page has its own title and active tab.
    tabs = page.locator("#console-tabs .nav-link.active")
    with page.expect_navigation():
        page.locator("#home-links").get_by_role("link", name="History").click()
    expect(page).to_have_title("History · Migrations · Headway")
    expect(tabs).to_have_text("History")
    expect(navbar.locator("#navbar-state")).to_have_text("behind")
    page.goto(f"/admin/migrations/revision/{HEAD}")
    expect(page).to_have_title(f"Revision {HEAD} · Migrations · Headway")
    expect(tabs).to_have_text("History")
    page.goto("/admin/")
    with page.expect_navigation():
        page.locator("#home-links").get_by_role("link", name="Employees data").click()
    expect(page).to_have_title("Employees · Data · Headway")
    expect(navbar.locator("#navbar-state")).to_have_text("behind")
    expect(page.locator("nav .navbar-nav li.active > a")).to_have_text(
        re.compile(r"^\s*Employees")
    )
    # The navbar's badge leads to the dashboard.
    with page.expect_navigation():
        navbar.locator("#navbar-database").click()
    assert path(page) == "/admin/migrations/"
    expect(page).to_have_title("Dashboard · Migrations · Headway")
    expect(tabs).to_have_text("Dashboard")


def test_stale_drift_check_is_not_no_drift(session, server):
    # A clean check at this revision, made before the CLI's upgrade to it.
    with server.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO headway_drift_checks (checked_at, checked_by, revisions, "
            f"model_differences) VALUES ('2020-01-01 00:00:00', 'op', '{HEAD}', '')"
        )
    page = session().login("viewer")
    drift = page.locator("#home-drift")
    expect(drift).to_have_attribute("data-drift", "stale")
    expect(drift).to_contain_text("Stale")
    expect(drift).not_to_contain_text("No drift")
    with server.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM headway_drift_checks")


def test_favicon(session, server):
    s = session()
    page = s.page
    # Anonymous, as browsers ask for it.
    response = page.request.get("/favicon.ico")
    assert response.status == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    page.goto("/login")
    icon = page.locator("link[rel=icon]")
    expect(icon).to_have_attribute("href", "/static/favicon.svg")
    status = page.evaluate(
        "fetch(document.querySelector('link[rel=icon]').href).then(r => r.status)"
    )
    assert status == 200
    s.login("viewer")
    for url in ("/admin/", "/admin/employee/", "/admin/migrations/"):
        page.goto(url)
        expect(icon).to_have_attribute("href", "/static/favicon.svg")
    # The brand shows it too, loaded (its natural size is the file's).
    expect(page.locator(".navbar-brand img")).to_have_js_property("naturalWidth", 32)


def test_one_navbar_for_login_and_admin(session, server):
    page = session().page
    page.goto("/login")
    login_nav = page.locator("nav.navbar")
    brand = login_nav.locator(".navbar-brand")
    expect(brand).to_have_text("Headway")
    before = brand.bounding_box(), login_nav.bounding_box()
    classes = login_nav.get_attribute("class")
    page.fill("input[name='username']", "viewer")
    page.fill("input[name='password']", "viewer-password-123")
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    admin_nav = page.locator("nav.navbar")
    after = admin_nav.locator(".navbar-brand").bounding_box(), admin_nav.bounding_box()
    assert before == after  # the same place and size
    assert admin_nav.get_attribute("class").split()[:4] == classes.split()[:4]
    # Log out sits in the same navbar on an error page (base.html).
    response = page.goto("/admin/users/")
    assert response.status == 403
    error_nav = page.locator("nav.navbar")
    assert error_nav.bounding_box() == after[1]
    expect(error_nav.get_by_role("button", name="Log out")).to_be_visible()


def test_403_names_the_role(session, server):
    page = session().login("viewer")
    response = page.goto("/admin/users/")
    assert response.status == 403
    expect(page).to_have_title("403 Forbidden · Headway")
    expect(page.locator("main")).to_contain_text(
        "This needs the admin role; you are a viewer."
    )
    page = session().login("operator")
    page.goto("/admin/users/new/")
    expect(page.locator("main")).to_contain_text(
        "This needs the admin role; you are an operator."
    )


def test_users_form_errors_under_their_fields(session, server):
    page = session().login("admin")
    page.goto("/admin/users/new/")
    page.fill("input[name='username']", "dora")
    page.select_option("select[name='role']", "viewer")
    page.fill("input[name='new_password']", "short")
    with page.expect_navigation():
        page.locator("form.admin-form input[type='submit'][value='Save']").click()
    password = page.locator("input[name='new_password']")
    expect(password).to_have_class(re.compile("is-invalid"))
    feedback = page.locator("input[name='new_password'] ~ .invalid-feedback")
    expect(feedback).to_be_visible()
    expect(feedback).to_have_text("The password must have at least 12 characters.")
    expect(page.locator(".alert", has_text="12 characters")).to_have_count(0)

    # The last admin may not demote itself: said under the role.
    admin_id = server.scalar("SELECT id FROM headway_users WHERE username = 'admin'")
    page.goto(f"/admin/users/edit/?id={admin_id}")
    page.select_option("select[name='role']", "operator")
    with page.expect_navigation():
        page.locator("form.admin-form input[type='submit'][value='Save']").click()
    feedback = page.locator("select[name='role'] ~ .invalid-feedback")
    expect(feedback).to_be_visible()
    expect(feedback).to_contain_text("at least one active admin")
    expect(page.locator(".alert", has_text="active admin")).to_have_count(0)
    assert (
        server.scalar("SELECT role FROM headway_users WHERE username = 'admin'")
        == "admin"
    )


def test_running_job_banner_on_other_pages(session, server):
    """Last: the job changes the database's state."""
    code, job = server.request(
        "POST",
        "/api/migrations/jobs",
        {"action": "upgrade", "target": "heads"},
        token=server.token,
    )
    assert code == 202, job
    job_id = job["id"]
    page = session().login("viewer", next="/admin/employee/")
    banner = page.locator("#running-job")
    expect(banner).to_contain_text(f"Job #{job_id} is running: upgrade heads")
    page.goto("/admin/account/")
    expect(banner).to_contain_text(f"#{job_id}")
    with page.expect_navigation():
        banner.get_by_role("link", name=f"#{job_id}").click()
    assert path(page) == f"/admin/migrations/jobs/{job_id}"
    expect(page).to_have_title(f"Job #{job_id} · Migrations · Headway")
    expect(page.locator("#console-tabs .nav-link.active")).to_have_text("Jobs")
    expect(page.locator("#running-job")).to_have_count(0)  # the page says it

    assert server.wait_for_job(job_id, server.token)["status"] == "succeeded"
    page.goto("/admin/")
    expect(page.locator("#running-job")).to_have_count(0)
    expect(page.locator("#navbar-state")).to_have_text("up to date")
    expect(page.locator("#navbar-state")).to_have_class(re.compile("badge-success"))
    expect(page.locator("#home-current")).to_have_text(SLOW)
    last_job = page.locator("#home-last-job")
    expect(last_job).to_contain_text("succeeded")
    with page.expect_navigation():
        last_job.get_by_role("link", name=f"#{job_id}").click()
    assert path(page) == f"/admin/migrations/jobs/{job_id}"
