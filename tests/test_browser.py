"""The admin site in a real browser (Debian's Chromium), served by a real
gunicorn, under the app's Content-Security-Policy. See tests/browser.py."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

XSS = "<script>alert(1)</script>"
XSS_EMAIL = XSS + "@example.com"
# The employee list's delete question names what ON DELETE CASCADE removes too.
DELETE_QUESTION = re.compile(r"Delete 1 employee, \d+ salar.*\? This can't be undone\.")

# The fixtures: live_server, chromium, browser_session.
pytest_plugins = ["tests.browser"]
# Every test here drives Chromium against a gunicorn it starts.
pytestmark = pytest.mark.live


def path(url: str) -> str:
    return urlsplit(url).path


def next_param(url: str) -> str | None:
    values = parse_qs(urlsplit(url).query).get("next")
    return values[0] if values else None


def test_login_lands_on_admin_without_csp_violations(browser_session):
    session = browser_session()
    page = session.login("admin")
    expect(page.locator(".navbar .navbar-text")).to_have_text("admin (admin)")

    for url in ("/admin/", "/admin/employee/", "/admin/users/"):
        response = page.goto(url)
        assert response.status == 200, url
        expect(page.locator(".navbar .navbar-text")).to_have_text("admin (admin)")
    expect(page.locator("table.model-list td", has_text="operator")).not_to_have_count(
        0
    )
    # A navbar dropdown (a javascript:void(0) toggle) opens without a violation.
    page.locator(".navbar a.dropdown-toggle", has_text="Employees").click()
    with page.expect_navigation():
        page.locator(".navbar .dropdown-menu a").get_by_text(
            "Departments", exact=True
        ).click()
    assert path(page.url) == "/admin/department/"
    session.assert_no_csp_violations()
    session.assert_no_page_errors()

    # The check is not blind: an inline script the page did not sign is
    # refused by the CSP, and reported.
    page.evaluate(
        """() => {
            const s = document.createElement("script");
            s.textContent = "window.inlineRan = true;";
            document.body.appendChild(s);
        }"""
    )
    for _ in range(50):  # the report comes asynchronously; 5 s at most
        if session.record.csp_violations():
            break
        page.wait_for_timeout(100)
    assert session.record.csp_violations()
    assert page.evaluate("window.inlineRan") is None


def test_login_goes_to_the_next_page(browser_session):
    session = browser_session()
    page = session.login("viewer", next="/admin/employee/")
    expect(page.locator(".navbar .navbar-text")).to_have_text("viewer (viewer)")
    expect(page.locator("table.model-list tbody tr")).not_to_have_count(0)
    session.assert_no_csp_violations()


def test_delete_asks_for_confirmation_under_the_csp(browser_session, live_server):
    session = browser_session()
    page = session.login("operator", next="/admin/employee/")
    button = page.locator("button[title='Delete Record']").first
    emp_no = int(
        button.locator("xpath=ancestor::form[1]//input[@name='id']").input_value()
    )
    row_exists = "SELECT count(*) FROM employees WHERE emp_no = :emp_no"
    salaries = "SELECT count(*) FROM salaries WHERE emp_no = :emp_no"
    assert live_server.scalar(row_exists, emp_no=emp_no) == 1
    assert live_server.scalar(salaries, emp_no=emp_no) > 0

    # Cancelled: the browser asked, nothing was sent.
    session.dialog_action = "dismiss"
    button.click()
    page.wait_for_load_state()
    assert [kind for kind, _ in session.record.dialogs] == ["confirm"]
    assert DELETE_QUESTION.fullmatch(session.record.dialogs[0][1])
    assert path(page.url) == "/admin/employee/"
    assert live_server.scalar(row_exists, emp_no=emp_no) == 1
    page.reload()
    expect(page.locator(f"input[name='id'][value='{emp_no}']")).to_have_count(1)

    # Confirmed: the row is gone.
    session.dialog_action = "accept"
    with page.expect_navigation():
        page.locator("button[title='Delete Record']").first.click()
    assert [kind for kind, _ in session.record.dialogs] == ["confirm"] * 2
    assert session.record.dialogs[1] == session.record.dialogs[0]
    expect(page.locator(".alert-success")).to_contain_text(f"Employee {emp_no} ")
    expect(page.locator(".alert-success")).to_contain_text(" deleted, with ")
    assert path(page.url) == "/admin/employee/"
    assert live_server.scalar(row_exists, emp_no=emp_no) == 0
    # The database's ON DELETE CASCADE took the salaries along (SQLite too).
    assert live_server.scalar(salaries, emp_no=emp_no) == 0
    expect(page.locator(f"input[name='id'][value='{emp_no}']")).to_have_count(0)
    session.assert_no_csp_violations()
    session.assert_no_page_errors()


def test_bulk_delete_asks_for_confirmation_under_the_csp(browser_session, live_server):
    """ "With selected > Delete": Flask-Admin ran it from an inline onclick."""
    session = browser_session()
    page = session.login("operator", next="/admin/employee/")
    checkbox = page.locator("input.action-checkbox").last
    emp_no = int(checkbox.get_attribute("value"))
    row_exists = "SELECT count(*) FROM employees WHERE emp_no = :emp_no"
    checkbox.check()

    def delete_selected() -> None:
        page.get_by_text("With selected").click()
        page.locator(".dropdown-menu a", has_text="Delete").click()

    session.dialog_action = "dismiss"
    delete_selected()
    page.wait_for_load_state()
    assert session.record.dialogs == [
        (
            "confirm",
            "Delete the selected employees? Their salaries, titles, department "
            "and manager assignments are deleted too. This can't be undone.",
        )
    ]
    assert live_server.scalar(row_exists, emp_no=emp_no) == 1

    session.dialog_action = "accept"
    with page.expect_navigation():
        delete_selected()
    assert len(session.record.dialogs) == 2
    expect(page.locator(".alert-success")).to_contain_text(f"Employee {emp_no} ")
    expect(page.locator(".alert-success")).to_contain_text(" deleted")
    assert live_server.scalar(row_exists, emp_no=emp_no) == 0
    session.assert_no_csp_violations()
    session.assert_no_page_errors()


def test_viewer_reads_but_cannot_change(browser_session, live_server):
    session = browser_session()
    page = session.login("viewer", next="/admin/employee/")
    expect(page.locator("table.model-list tbody tr")).not_to_have_count(0)
    expect(page.locator("button[title='Delete Record']")).to_have_count(0)
    expect(page.locator("a[title='Edit Record']")).to_have_count(0)
    expect(page.get_by_role("link", name="Create")).to_have_count(0)

    response = page.goto("/admin/employee/new/")
    assert response.status == 403

    # Nor by posting the form the page does not show.
    emp_no = live_server.scalar("SELECT min(emp_no) FROM employees")
    page.goto("/admin/employee/")
    token = page.locator("input[name='csrf_token']").first.input_value()
    response = page.request.post(
        "/admin/employee/delete/",
        form={"id": str(emp_no), "csrf_token": token},
        max_redirects=0,
    )
    assert response.status == 403
    assert live_server.scalar(
        "SELECT count(*) FROM employees WHERE emp_no = :e", e=emp_no
    )
    session.assert_no_csp_violations()


def test_markup_in_data_is_shown_as_text(browser_session, live_server):
    # An account named like a script, made through the Users form.
    admin = browser_session()
    page = admin.login("admin")
    page.goto("/admin/users/new/")
    page.fill("input[name='username']", XSS)
    page.select_option("select[name='role']", "viewer")
    page.check("input[name='active']")
    page.fill("input[name='new_password']", "script-password-123")
    with page.expect_navigation():
        page.locator("form.admin-form input[type='submit'][value='Save']").click()
    expect(page.locator(".alert-success")).to_be_visible()
    assert live_server.scalar(
        "SELECT count(*) FROM headway_users WHERE username = :u", u=XSS
    )
    page.goto("/admin/users/")
    expect(page.get_by_text(XSS, exact=True)).to_be_visible()

    # An employee whose email holds a script, set through the edit form (an
    # address by the form's check: one @, no spaces, a dot in the domain).
    operator = browser_session()
    page = operator.login("operator")
    emp_no = live_server.scalar(
        "SELECT emp_no FROM employees ORDER BY emp_no LIMIT 1 OFFSET 1"
    )
    page.goto(f"/admin/employee/edit/?id={emp_no}")
    page.fill("input[name='email']", XSS_EMAIL)
    with page.expect_navigation():
        page.locator("form.admin-form input[type='submit'][value='Save']").click()
    expect(page.locator(".alert-success")).to_be_visible()
    assert (
        live_server.scalar("SELECT email FROM employees WHERE emp_no = :e", e=emp_no)
        == XSS_EMAIL
    )

    page.goto("/admin/employee/")
    expect(page.get_by_text(XSS_EMAIL, exact=True)).to_be_visible()
    page.goto(f"/admin/employee/details/?id={emp_no}")
    # The record's field, and its change history's new value, both as text.
    expect(page.get_by_role("cell", name=XSS_EMAIL, exact=True)).to_be_visible()
    expect(page.locator("code", has_text=XSS_EMAIL)).to_be_visible()
    page.goto(f"/admin/employee/edit/?id={emp_no}")
    expect(page.locator("input[name='email']")).to_have_value(XSS_EMAIL)

    # The account can log in; its name in the navbar is text too.
    named = browser_session()
    page = named.login(XSS, "script-password-123")
    expect(page.locator(".navbar .navbar-text")).to_have_text(f"{XSS} (viewer)")

    for session in (admin, operator, named):
        for p in session.records:
            expect(p.locator("script", has_text="alert(1)")).to_have_count(0)
        assert session.all_dialogs() == []
        session.assert_no_csp_violations()
        session.assert_no_page_errors()


def test_log_out(browser_session):
    session = browser_session()
    page = session.login("viewer")
    with page.expect_navigation():
        page.get_by_role("button", name="Log out").click()
    assert path(page.url) == "/login"
    expect(page.get_by_role("button", name="Log in")).to_be_visible()

    page.goto("/admin/")
    assert path(page.url) == "/login"
    assert next_param(page.url) == "/admin/"
    expect(page.locator(".navbar-text")).to_have_count(0)
    session.assert_no_csp_violations()


def test_two_stamped_rows_are_a_state_not_an_error(browser_session, live_server):
    """An ancestor stamped beside its descendant (a stamp by hand): every page
    renders, the navbar names the state, the console the way out."""
    head = live_server.scalar("SELECT version_num FROM alembic_version")
    with live_server.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO alembic_version VALUES ('0001_baseline')")
    try:
        page = browser_session().login("admin")
        for url in (
            "/admin/",
            "/admin/migrations/",
            "/admin/migrations/history",
            f"/admin/migrations/revision/{head}",
            "/admin/migrations/plan",
            "/admin/migrations/drift",
            "/admin/migrations/audit",
            "/admin/employee/",
            "/admin/account/",
        ):
            response = page.goto(url)
            assert response.status == 200, url
            expect(page.locator(".navbar")).to_contain_text("redundant stamp")
        page.goto("/admin/migrations/")
        expect(page.locator("#state")).to_contain_text(f"flask db stamp --purge {head}")
    finally:
        with live_server.engine.begin() as conn:
            conn.exec_driver_sql(
                "DELETE FROM alembic_version WHERE version_num = '0001_baseline'"
            )
