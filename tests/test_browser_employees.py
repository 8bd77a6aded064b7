"""The employee data admin in a real browser (Chromium, gunicorn, the app's
Content-Security-Policy): pages forward and back, search, filters, an edit,
and a delete after its confirmation. See tests/browser.py."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

# The fixtures: live_server, chromium, browser_session.
pytest_plugins = ["tests.browser"]
# Every test here drives Chromium against a gunicorn it starts.
pytestmark = pytest.mark.live


def row_ids(page) -> list[str]:
    """The ids of the listed rows, from their details links."""
    hrefs = page.locator("td.list-buttons-column a[href*='/details/']").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    return [parse_qs(urlsplit(h).query)["id"][0] for h in hrefs]


def all_rows(live_server, sql: str) -> list:
    with live_server.engine.connect() as conn:
        return conn.exec_driver_sql(sql).all()


def test_pages_forward_and_back(browser_session, live_server):
    session = browser_session()
    page = session.login("viewer", next="/admin/salary/")
    keys = [
        f"{r[0]},{r[1]}"
        for r in all_rows(
            live_server, "SELECT emp_no, from_date FROM salaries ORDER BY 1, 2"
        )
    ]
    assert row_ids(page) == keys[:50]
    expect(page.locator("a[rel='prev']")).to_have_count(0)

    with page.expect_navigation():
        page.locator("a[rel='next']").click()
    assert row_ids(page) == keys[50:100]
    with page.expect_navigation():
        page.locator("a[rel='prev']").click()
    assert row_ids(page) == keys[:50]
    with page.expect_navigation():
        page.locator("a[rel='last']").click()
    assert row_ids(page) == keys[-50:]
    expect(page.locator("a[rel='next']")).to_have_count(0)
    expect(page.locator("a[rel='first']")).to_have_count(1)
    session.assert_no_csp_violations()
    session.assert_no_page_errors()


def test_search_and_filters(browser_session, live_server):
    session = browser_session()
    page = session.login("viewer", next="/admin/employee/")
    last_name = live_server.scalar("SELECT last_name FROM employees LIMIT 1")
    prefix = last_name[:3]
    expected = live_server.scalar(
        "SELECT count(*) FROM employees WHERE last_name LIKE :p", p=prefix + "%"
    )

    page.fill("input[name='search']", prefix)
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    names = page.locator("td.col-last_name").all_inner_texts()
    assert len(names) == min(expected, 50)
    assert all(n.strip().startswith(prefix) for n in names)

    # A filter from the "Add Filter" menu (its inline handler is gone: the CSP
    # refused it), on top of the search.
    emp_no = live_server.scalar(
        "SELECT min(emp_no) FROM employees WHERE last_name LIKE :p", p=prefix + "%"
    )
    page.get_by_text("Add Filter").click()
    page.locator(".field-filters a.filter", has_text="Employee number").click()
    page.locator("#filter_form input.filter-val").fill(str(emp_no))
    with page.expect_navigation():
        page.locator("#filter_form button[type='submit']").click()
    assert row_ids(page) == [str(emp_no)]
    assert parse_qs(urlsplit(page.url).query)["search"] == [prefix]
    expect(page.locator("#filter_form .remove-filter")).to_have_count(1)
    session.assert_no_csp_violations()
    session.assert_no_page_errors()


def test_edit_a_salary(browser_session, live_server):
    session = browser_session()
    emp_no, from_date, salary = all_rows(
        live_server,
        "SELECT emp_no, from_date, salary FROM salaries ORDER BY 1, 2 LIMIT 1",
    )[0]
    page = session.login("operator", next="/admin/salary/")
    page.goto(f"/admin/salary/edit/?id={emp_no},{from_date}")
    expect(page.locator("input[name='emp_no']")).to_have_attribute("readonly", "")
    page.fill("input[name='salary']", str(salary + 1))
    with page.expect_navigation():
        page.locator("input[type='submit'][value='Save']").click()
    expect(page.locator(".alert-success")).to_contain_text(
        f"Salary of employee {emp_no} from {from_date} saved."
    )
    assert (
        live_server.scalar(
            "SELECT salary FROM salaries WHERE emp_no = :e AND from_date = :f",
            e=emp_no,
            f=from_date,
        )
        == salary + 1
    )
    session.assert_no_csp_violations()


def test_delete_names_the_cascade_and_asks_first(browser_session, live_server):
    session = browser_session()
    emp_no = live_server.scalar("SELECT max(emp_no) FROM salaries")
    salaries = live_server.scalar(
        "SELECT count(*) FROM salaries WHERE emp_no = :e", e=emp_no
    )
    page = session.login("operator", next="/admin/employee/")
    page.goto(f"/admin/employee/?search={emp_no}")
    button = page.locator("button[title='Delete Record']")
    expect(button).to_have_count(1)

    session.dialog_action = "dismiss"
    button.click()
    page.wait_for_load_state()
    assert len(session.record.dialogs) == 1
    kind, question = session.record.dialogs[0]
    assert kind == "confirm"
    assert question.startswith("Delete 1 employee, ")
    assert f"{salaries} salar" in question
    assert (
        live_server.scalar("SELECT count(*) FROM employees WHERE emp_no = :e", e=emp_no)
        == 1
    )

    session.dialog_action = "accept"
    with page.expect_navigation():
        button.click()
    expect(page.locator(".alert-success")).to_contain_text(f"Employee {emp_no} ")
    for table in ("employees", "salaries", "titles", "dept_emp"):
        assert (
            live_server.scalar(
                f"SELECT count(*) FROM {table} WHERE emp_no = :e", e=emp_no
            )
            == 0
        ), table
    assert re.search(r"List \(0\)", page.content())
    session.assert_no_csp_violations()
    session.assert_no_page_errors()


def test_at_0001_the_employee_list_names_the_revision_it_needs(
    browser_session, live_server
):
    """Right after `flask db adopt` (here: downgraded to it), the list works
    without `employees.email` and says which revision brings it."""
    live_server.flask_batch(("db", "downgrade", "0001_baseline"))
    try:
        session = browser_session()
        page = session.login("viewer", next="/admin/employee/")
        notice = page.locator(".schema-gap")
        expect(notice).to_contain_text("0001_baseline")
        expect(notice).to_contain_text("employees.email")
        link = notice.get_by_role("link", name="0002_employee_email")
        assert link.get_attribute("href") == (
            "/admin/migrations/plan?target=0002_employee_email"
        )
        assert row_ids(page)
        expect(page.locator("th", has_text="Email")).to_have_count(0)
        expect(page.locator("nav.navbar")).to_have_count(1)
        with page.expect_navigation():
            link.click()
        assert urlsplit(page.url).path == "/admin/migrations/plan"
        session.assert_no_csp_violations()
        session.assert_no_page_errors()
    finally:
        live_server.flask_batch(
            (
                "db",
                "upgrade",
            )
        )


def test_an_edit_appears_in_the_records_history(browser_session, live_server):
    emp_no, first_name = all_rows(
        live_server,
        "SELECT emp_no, first_name FROM employees ORDER BY emp_no LIMIT 1",
    )[0]
    session = browser_session()
    page = session.login("operator", next="/admin/employee/")
    page.goto(f"/admin/employee/edit/?id={emp_no}")
    page.fill("input[name='first_name']", "Edited")
    with page.expect_navigation():
        page.locator("input[type='submit'][value='Save']").click()
    expect(page.locator(".alert-success")).to_contain_text(f"Employee {emp_no} Edited ")
    page.goto(f"/admin/employee/details/?id={emp_no}")
    change = page.locator("table.change-history tr.change-edit").first
    expect(change.locator(".change-who")).to_have_text("operator")
    field = change.locator(".change-field[data-field='first_name']")
    expect(field.locator(".before")).to_have_text(first_name)
    expect(field.locator(".after")).to_have_text("Edited")
    session.assert_no_csp_violations()
    session.assert_no_page_errors()
