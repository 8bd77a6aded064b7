"""The employee data admin (app/employees): roles, safe edits, database errors in
words, cascade-naming deletes, keyset pages, search, filters, export, bad input.
On SQLite, and on MySQL/MariaDB with TEST_DATABASE_URL."""

import csv
import html
import io
import re
from datetime import date
from urllib.parse import quote, unquote_plus

import pytest
import sqlalchemy as sa
from flask import url_for

from app.employees import base, counting
from app.extensions import db
from tests.conftest import read_only_fixture
from tests.helpers import ROLES, csrf_token, login

OPEN_END = date(9999, 1, 1)
# Every view of the employee data: endpoint -> (list URL, a sample id query).
VIEWS = {
    "employee": "employees",
    "department": "departments",
    "dept_emp": "dept_emp",
    "dept_manager": "dept_manager",
    "title": "titles",
    "salary": "salaries",
    "current_dept_emp": "current_dept_emp",
    "dept_emp_latest_date": "dept_emp_latest_date",
}
READ_ONLY = {"current_dept_emp", "dept_emp_latest_date"}
KEYS = {
    "employees": ["emp_no"],
    "departments": ["dept_no"],
    "dept_emp": ["emp_no", "dept_no"],
    "dept_manager": ["emp_no", "dept_no"],
    "titles": ["emp_no", "title", "from_date"],
    "salaries": ["emp_no", "from_date"],
    "current_dept_emp": ["emp_no", "dept_no"],
    "dept_emp_latest_date": ["emp_no"],
}
PAGER_RE = re.compile(r'<a class="page-link" rel="(\w+)" href="([^"]+)"')
DETAILS_ID_RE = re.compile(r'/details/\?id=([^&"]+)')


# The demo legacy database (200 employees, ~1,900 salaries), adopted and at
# head, Headway's tables, one account per role.
DATA = (
    ("flask", "demo", "create-legacy", "--scale", "0.02"),
    ("flask", "db", "adopt"),
    ("flask", "db", "upgrade"),
    ("flask", "headway", "init"),
    *(("user", role, role) for role in ROLES),
)
# The tests that only read (lists, pages, filters, exports, refused changes)
# share one app and database.
read_only = read_only_fixture(DATA)


@pytest.fixture
def data(app, prepare):
    """DATA, for a test of its own (one that writes)."""
    prepare(app, DATA)
    return app


@pytest.fixture
def as_role(data):
    def make(role: str):
        client = data.test_client()
        assert login(client, role).status_code == 302
        return client

    return make


def sql(app, statement: str, **params):
    with app.app_context():
        return db.session.execute(sa.text(statement), params).all()


def scalar(app, statement: str, **params):
    return sql(app, statement, **params)[0][0]


def key_text(values) -> str:
    return ",".join(str(v) for v in values)


def all_keys(app, table: str, order: str | None = None) -> list[str]:
    key = KEYS[table]
    rows = sql(
        app, f"SELECT {', '.join(key)} FROM {table} ORDER BY {order or ', '.join(key)}"
    )
    return [key_text(r) for r in rows]


def page_ids(body: str) -> list[str]:
    """The ids of the rows of a list page, in order (from the details links)."""
    ids = [unquote_plus(html.unescape(m)) for m in DETAILS_ID_RE.findall(body)]
    return list(dict.fromkeys(ids))


def pager(body: str) -> dict[str, str]:
    return {rel: html.unescape(href) for rel, href in PAGER_RE.findall(body)}


def get_ok(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def form_of(body: str) -> dict[str, str]:
    """The input values of the first form on a page with a CSRF token."""
    values = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', body))
    values.update(
        {
            m[0]: m[1]
            for m in re.findall(
                r'<select[^>]*name="([^"]+)"[^>]*>.*?<option selected value="([^"]*)"',
                body,
                re.S,
            )
        }
    )
    return {k: html.unescape(v) for k, v in values.items()}


# -- roles --------------------------------------------------------------------


def test_every_view_lists_and_shows_its_rows_to_every_role(read_only):
    for role in ROLES:
        client = read_only.logged_in(role)
        for endpoint in VIEWS:
            body = get_ok(client, f"/admin/{endpoint}/")
            ids = page_ids(body)
            assert ids, (endpoint, role)
            details = get_ok(client, f"/admin/{endpoint}/details/?id={quote(ids[0])}")
            for value in ids[0].split(","):
                assert value in details, (endpoint, ids[0])
            writable = role != "viewer" and endpoint not in READ_ONLY
            assert ("Delete Record" in body) is writable, (endpoint, role)
            assert (f'href="/admin/{endpoint}/edit/' in body) is writable
            assert (f'href="/admin/{endpoint}/new/' in body) is writable
            assert ('title="Delete Record"' in details) is writable


def test_row_links_are_what_url_for_builds(read_only):
    """The list builds its rows' view and edit links from one url_for per
    page (EmployeeDataView.listed_rows): each is the URL url_for gives for
    the row, with the list's own URL to come back to (keys with a comma, a
    space or a date; a search, a filter and a page token in that URL)."""
    client = read_only.logged_in("operator")
    for page in (
        "/admin/title/?flt0_title_is=Senior+Engineer",
        "/admin/salary/?flt0_period_is=current",
        "/admin/employee/?search=Ge&sort=1",
        "/admin/dept_emp/?page=last",
    ):
        body = get_ok(client, page)
        back = html.unescape(re.search(r'name="url" value="([^"]*)"', body).group(1))
        ids = page_ids(body)
        assert ids, page
        endpoint = page.split("/")[2]
        with read_only.app.test_request_context(page):
            for pk in ids:
                for kind in ("details_view", "edit_view"):
                    href = url_for(f"{endpoint}.{kind}", id=pk, url=back)
                    assert f'href="{html.escape(href)}"' in body, (page, href)


def test_a_list_page_runs_the_same_statements_for_1_row_or_50(read_only):
    """The rows, their links and their delete questions (cascade counts) come
    from the page's own query: no statement per row."""
    client = read_only.logged_in("operator")
    emp_no = scalar(read_only.app, "SELECT min(emp_no) FROM employees")
    with read_only.app.app_context():
        engine = db.engine
    # (Both pages of a pair filtered: the same count query for each.)
    for one_row, full in (
        (
            f"/admin/employee/?flt0_employee_number_equals={emp_no}",
            "/admin/employee/?flt0_hire_date_on_or_after=1900-01-01",
        ),
        (
            f"/admin/salary/?flt0_employee_number_equals={emp_no}"
            "&flt1_period_is=current",
            "/admin/salary/?flt0_period_is=ended",
        ),
    ):
        counts = {}
        for page in (one_row, full):
            get_ok(client, page)  # warm: the statements' caches
            statements: list[str] = []

            def count(conn, cursor, statement, *args, seen=statements):
                seen.append(statement)

            sa.event.listen(engine, "before_cursor_execute", count)
            try:
                body = get_ok(client, page)
            finally:
                sa.event.remove(engine, "before_cursor_execute", count)
            counts[page] = (len(page_ids(body)), len(statements))
        (rows_one, one), (rows_full, many) = counts.values()
        assert rows_one < rows_full, counts
        assert many == one, counts


def test_viewers_are_refused_every_change(read_only):
    viewer = read_only.logged_in("viewer")
    token = csrf_token(viewer, "/admin/")
    for endpoint in VIEWS:
        ids = page_ids(get_ok(viewer, f"/admin/{endpoint}/"))
        for url in (
            f"/admin/{endpoint}/edit/?id={quote(ids[0])}",
            f"/admin/{endpoint}/new/",
        ):
            assert viewer.get(url).status_code == 403, url
            assert viewer.post(url, data={"csrf_token": token}).status_code == 403
        response = viewer.post(
            f"/admin/{endpoint}/delete/", data={"id": ids[0], "csrf_token": token}
        )
        assert response.status_code == 403, endpoint
    assert scalar(read_only.app, "SELECT count(*) FROM employees") == 200
    anonymous = read_only.app.test_client()
    response = anonymous.get("/admin/salary/")
    assert response.status_code == 302 and "/login" in response.location


def test_sql_views_are_read_only_for_operators(read_only):
    operator = read_only.logged_in("operator")
    before = scalar(read_only.app, "SELECT count(*) FROM dept_emp")
    for endpoint in READ_ONLY:
        ids = page_ids(get_ok(operator, f"/admin/{endpoint}/"))
        token = csrf_token(operator, "/admin/")
        operator.post(
            f"/admin/{endpoint}/delete/", data={"id": ids[0], "csrf_token": token}
        )
        response = operator.get(f"/admin/{endpoint}/edit/?id={quote(ids[0])}")
        assert response.status_code == 302  # Flask-Admin: can't edit, back to list
    assert scalar(read_only.app, "SELECT count(*) FROM dept_emp") == before


# -- edits ----------------------------------------------------------------------


def salaries_snapshot(app) -> list[tuple]:
    return [
        tuple(map(str, r))
        for r in sql(app, "SELECT * FROM salaries ORDER BY emp_no, from_date")
    ]


def test_editing_a_salary_changes_exactly_that_row(as_role, data):
    operator = as_role("operator")
    emp_no, from_date, salary, to_date = sql(
        data,
        "SELECT emp_no, from_date, salary, to_date FROM salaries "
        "ORDER BY emp_no, from_date LIMIT 1 OFFSET 5",
    )[0]
    before = salaries_snapshot(data)
    row_id = f"{emp_no},{from_date}"
    form = form_of(get_ok(operator, f"/admin/salary/edit/?id={row_id}"))
    assert form["emp_no"] == str(emp_no) and form["from_date"] == str(from_date)
    form["salary"] = str(salary + 1234)
    response = operator.post(f"/admin/salary/edit/?id={row_id}", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)
    after = salaries_snapshot(data)
    changed = [(b, a) for b, a in zip(before, after, strict=True) if b != a]
    expected_row = (str(emp_no), str(salary + 1234), str(from_date), str(to_date))
    assert len(after) == len(before)
    assert changed == [
        ((str(emp_no), str(salary), str(from_date), str(to_date)), expected_row)
    ]


def test_a_primary_key_cannot_be_changed_on_edit(as_role, data):
    operator = as_role("operator")
    emp_no, from_date = sql(
        data,
        "SELECT emp_no, from_date FROM salaries ORDER BY emp_no, from_date LIMIT 1",
    )[0]
    row_id = f"{emp_no},{from_date}"
    page = get_ok(operator, f"/admin/salary/edit/?id={row_id}")
    assert re.search(r'<input[^>]*name="emp_no"[^>]*readonly', page) or re.search(
        r'<input[^>]*readonly[^>]*name="emp_no"', page
    )
    before = salaries_snapshot(data)
    form = form_of(page)
    form["from_date"] = "1970-01-01"  # a tampered POST
    response = operator.post(f"/admin/salary/edit/?id={row_id}", data=form)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert field_errors(body, "from_date") == [
        "The key of a row can&#39;t be changed. Create a new row instead."
    ]
    assert salaries_snapshot(data) == before

    employees_before = sql(data, "SELECT * FROM employees ORDER BY emp_no")
    page = get_ok(operator, f"/admin/employee/edit/?id={emp_no}")
    form = form_of(page)
    form["emp_no"] = "999999"
    response = operator.post(f"/admin/employee/edit/?id={emp_no}", data=form)
    assert "The key of a row can&#39;t be changed" in response.get_data(as_text=True)
    assert sql(data, "SELECT * FROM employees ORDER BY emp_no") == employees_before


def field_errors(body: str, field: str) -> list[str]:
    """The messages shown under a form field."""
    match = re.search(
        rf'name="{field}"[^>]*>\s*<div class="invalid-feedback">(.*?)</div>', body, re.S
    )
    return re.findall(r"<li>(.*?)</li>", match.group(1)) if match else []


def assert_no_sql(body: str) -> None:
    for marker in (
        "INSERT",
        "UPDATE ",
        "SELECT",
        "IntegrityError",
        "[SQL",
        "Traceback",
    ):
        assert marker not in body, marker


def test_database_errors_are_messages_by_their_fields(as_role, data):
    operator = as_role("operator")
    emp_no, from_date = sql(
        data, "SELECT emp_no, from_date FROM salaries ORDER BY emp_no LIMIT 1"
    )[0]
    token = csrf_token(operator, "/admin/salary/new/")
    new_salary = {
        "csrf_token": token,
        "emp_no": str(emp_no),
        "salary": "50000",
        "from_date": str(from_date),
        "to_date": "9999-01-01",
    }
    count = scalar(data, "SELECT count(*) FROM salaries")

    # A duplicate key.
    response = operator.post("/admin/salary/new/", data=new_salary)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert field_errors(body, "emp_no") == ["A row with this key already exists."]
    assert_no_sql(body)

    # A number the column's type cannot hold (found by the fuzzer: a 500).
    response = operator.post(
        "/admin/salary/new/", data={**new_salary, "emp_no": "9" * 30}
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert field_errors(body, "emp_no") == [
        "must be between -2,147,483,648 and 2,147,483,647"
    ]
    assert_no_sql(body)

    # A foreign key: no such employee.
    response = operator.post(
        "/admin/salary/new/", data={**new_salary, "emp_no": "987654"}
    )
    body = response.get_data(as_text=True)
    assert field_errors(body, "emp_no") == ["There is no employee 987654."]
    assert_no_sql(body)

    # A department name another department has (a unique key): by the field.
    dept_name = scalar(data, "SELECT dept_name FROM departments WHERE dept_no = 'd002'")
    response = operator.post(
        "/admin/department/edit/?id=d001",
        data={"csrf_token": token, "dept_no": "d001", "dept_name": dept_name},
    )
    body = response.get_data(as_text=True)
    # Flask-Admin checks a unique column itself, before the database does.
    assert field_errors(body, "dept_name") == ["Already exists."]
    assert_no_sql(body)

    # A value too long, a bad date: messages by their fields too.
    response = operator.post(
        "/admin/salary/new/",
        data={**new_salary, "emp_no": "x" * 30, "from_date": "2020-02-31"},
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert field_errors(body, "emp_no") == ["Not a valid integer value."]
    assert field_errors(body, "from_date") == ["Not a valid date value."]
    assert_no_sql(body)
    assert scalar(data, "SELECT count(*) FROM salaries") == count


# -- delete -----------------------------------------------------------------------


def cascade_counts(app, emp_no: int) -> dict[str, int]:
    return {
        table: scalar(app, f"SELECT count(*) FROM {table} WHERE emp_no = :e", e=emp_no)
        for table in ("employees", "salaries", "titles", "dept_emp", "dept_manager")
    }


def table_counts(app) -> dict[str, int]:
    return {
        table: scalar(app, f"SELECT count(*) FROM {table}")
        for table in ("employees", "salaries", "titles", "dept_emp", "dept_manager")
    }


def test_delete_confirmation_lists_the_cascade_and_deletes_exactly_that(as_role, data):
    operator = as_role("operator")
    # A manager: every kind of row goes with them.
    emp_no = scalar(data, "SELECT min(emp_no) FROM dept_manager")
    body = get_ok(operator, f"/admin/employee/?search={emp_no}")
    counts = cascade_counts(data, emp_no)
    question = re.search(r'data-confirm="([^"]+)"', body).group(1)

    def part(n, singular, plural_):
        return f"{n} {singular if n == 1 else plural_}"

    expected = ", ".join(
        [
            "1 employee",
            part(counts["salaries"], "salary", "salaries"),
            part(counts["titles"], "title", "titles"),
            part(counts["dept_emp"], "department assignment", "department assignments"),
            part(counts["dept_manager"], "manager assignment", "manager assignments"),
        ]
    )
    assert html.unescape(question) == f"Delete {expected}? This can't be undone."
    details = get_ok(operator, f"/admin/employee/details/?id={emp_no}")
    assert f'data-confirm="{question}"' in details

    before = table_counts(data)
    token = csrf_token(operator, "/admin/")
    response = operator.post(
        "/admin/employee/delete/", data={"id": str(emp_no), "csrf_token": token}
    )
    assert response.status_code == 302
    after = table_counts(data)
    assert {t: before[t] - after[t] for t in before} == counts
    assert set(cascade_counts(data, emp_no).values()) == {0}


def test_department_delete_names_its_assignments(as_role, data):
    operator = as_role("operator")
    body = get_ok(operator, "/admin/department/")
    assignments = scalar(data, "SELECT count(*) FROM dept_emp WHERE dept_no = 'd001'")
    managers = scalar(data, "SELECT count(*) FROM dept_manager WHERE dept_no = 'd001'")
    assert (
        f"Delete 1 department, {assignments} department assignments, "
        f"{managers} manager assignment" in html.unescape(body)
    )


# -- pages ------------------------------------------------------------------------


def walk(client, start: str, rel: str) -> tuple[list[str], int]:
    ids, url, pages = [], start, 0
    while url:
        body = get_ok(client, url)
        page = page_ids(body)
        ids = ids + page if rel == "next" else page + ids
        url = pager(body).get(rel)
        pages += 1
    return ids, pages


def test_walking_every_salary_page_both_ways_gives_each_row_once(read_only):
    client = read_only.logged_in("viewer")
    expected = all_keys(read_only.app, "salaries")
    forward, pages = walk(client, "/admin/salary/", "next")
    assert forward == expected
    assert pages == -(-len(expected) // 50)
    backward, _ = walk(client, "/admin/salary/?page=last", "prev")
    assert backward == expected


def test_walking_employees_by_last_name_both_ways(read_only):
    client = read_only.logged_in("viewer")
    expected = all_keys(read_only.app, "employees", "last_name DESC, emp_no DESC")
    start = "/admin/employee/?sort=2&desc=1"  # column 2 is last_name
    forward, _ = walk(client, start, "next")
    assert forward == expected
    backward, _ = walk(client, start + "&page=last", "prev")
    assert backward == expected


def test_rel_links_on_first_middle_and_last_page(read_only):
    client = read_only.logged_in("viewer")
    expected = all_keys(read_only.app, "salaries")
    first = get_ok(client, "/admin/salary/")
    assert set(pager(first)) == {"next", "last"}
    assert page_ids(first) == expected[:50]

    middle = get_ok(client, pager(first)["next"])
    links = pager(middle)
    assert set(links) == {"first", "prev", "next", "last"}
    assert page_ids(middle) == expected[50:100]
    assert page_ids(get_ok(client, links["prev"])) == expected[:50]
    assert page_ids(get_ok(client, links["first"])) == expected[:50]

    last = get_ok(client, links["last"])
    assert set(pager(last)) == {"first", "prev"}
    assert page_ids(last) == expected[-50:]
    assert page_ids(get_ok(client, pager(last)["prev"])) == expected[-100:-50]


def test_row_counts(read_only, monkeypatch):
    client = read_only.logged_in("viewer")
    employees = scalar(read_only.app, "SELECT count(*) FROM employees")
    assert f"List ({employees:,})" in get_ok(client, "/admin/employee/")
    # A big table shows the database's estimate, marked "~".
    monkeypatch.setattr(counting, "SMALL_TABLE", 10)
    with read_only.app.app_context():
        if db.engine.dialect.name == "mysql":
            db.session.execute(sa.text("ANALYZE TABLE employees"))
        estimate = counting.estimated_rows(db.session, "employees")
    assert estimate > 0
    assert f"List (~{estimate:,})" in get_ok(client, "/admin/employee/")
    # A search counts exactly, up to a bound.
    monkeypatch.setattr(counting, "CAP", 30)
    assert "List (more than 30)" in get_ok(
        client, "/admin/salary/?flt0_period_is=ended"
    )


# -- search and filters ------------------------------------------------------------


def listed(client, url: str) -> tuple[list[str], str]:
    body = get_ok(client, url)
    match = re.search(r"List \(([^)]*)\)", body)
    return page_ids(body), match.group(1) if match else ""


def test_search_by_name_prefix_and_emp_no(read_only):
    client = read_only.logged_in("viewer")
    first_name, last_name = sql(
        read_only.app,
        "SELECT first_name, last_name FROM employees ORDER BY emp_no LIMIT 1",
    )[0]

    def matching(condition: str, **params) -> list[str]:
        return [
            str(r[0])
            for r in sql(
                read_only.app,
                f"SELECT emp_no FROM employees WHERE {condition} ORDER BY emp_no",
                **params,
            )
        ]

    # One word: the start of a first or a last name.
    for word in (last_name[:3], first_name[:3]):
        expected = matching("first_name LIKE :p OR last_name LIKE :p", p=word + "%")
        ids, count = listed(client, f"/admin/employee/?search={word}")
        assert ids == expected[:50] and count == f"{len(expected):,}", word
    # Both: "Georgi Facello", either way round, or "Facello, Georgi".
    expected = matching(
        "first_name LIKE :f AND last_name LIKE :l",
        f=first_name + "%",
        l=last_name + "%",
    )
    for term in (
        f"{first_name} {last_name}",
        f"{first_name} {last_name[:2]}",
        f"{last_name}, {first_name}",
    ):
        assert (
            listed(client, f"/admin/employee/?search={quote(term)}")[0]
            == (expected[:50])
        ), term
    emp_no = expected[0]
    assert listed(client, f"/admin/employee/?search={emp_no}")[0] == [emp_no]
    # A prefix, not a substring; LIKE's wildcards are plain characters.
    inner = last_name[1:]
    assert (
        listed(client, f"/admin/employee/?search={inner}")[0]
        == matching("first_name LIKE :p OR last_name LIKE :p", p=inner + "%")[:50]
    )
    assert listed(client, "/admin/employee/?search=%25")[0] == []
    assert listed(client, "/admin/employee/?search=_")[0] == []
    # Salaries: by emp_no.
    ids, _ = listed(client, f"/admin/salary/?search={emp_no}")
    assert ids and all(i.startswith(f"{emp_no},") for i in ids)
    # A number no emp_no can be (SQLite's driver overflowed on it: a 500), or
    # digits of another script (int() reads them): nothing, no error.
    for term in ("9" * 30, "2147483648", "\u00b2", "\u0661\u0662"):
        for url in ("/admin/salary/", "/admin/employee/"):
            assert listed(client, f"{url}?search={term}")[0] == [], (url, term)


FILTER_CASES = [
    # (endpoint, filter query, SQL condition on the table, params)
    ("employee", "flt0_employee_number_equals={e}", "emp_no = {e}", {}),
    ("employee", "flt0_last_name_starts_with=Sl", "last_name LIKE 'Sl%'", {}),
    (
        "employee",
        "flt0_department_is=d005",
        "emp_no IN (SELECT emp_no FROM dept_emp WHERE dept_no = 'd005')",
        {},
    ),
    (
        "employee",
        "flt0_title_is=Engineer",
        "emp_no IN (SELECT emp_no FROM titles WHERE title = 'Engineer')",
        {},
    ),
    (
        "employee",
        "flt0_hire_date_on_or_after=1990-01-01&flt1_hire_date_on_or_before=1991-12-31",
        "hire_date BETWEEN '1990-01-01' AND '1991-12-31'",
        {},
    ),
    (
        "salary",
        "flt0_salary_at_least=60000&flt1_salary_at_most=61000",
        "salary BETWEEN 60000 AND 61000",
        {},
    ),
    ("salary", "flt0_period_is=current", "to_date = '9999-01-01'", {}),
    (
        "salary",
        "flt0_employee_number_equals={e}&flt1_period_is=ended",
        "emp_no = {e} AND to_date <> '9999-01-01'",
        {},
    ),
    (
        "title",
        "flt0_title_is=Staff&flt1_period_is=current",
        "title = 'Staff' AND (to_date = '9999-01-01' OR to_date IS NULL)",
        {},
    ),
    (
        "dept_emp",
        "flt0_department_is=d001&flt1_period_is=current",
        "dept_no = 'd001' AND to_date = '9999-01-01'",
        {},
    ),
    ("dept_manager", "flt0_department_is=d004", "dept_no = 'd004'", {}),
    ("current_dept_emp", "flt0_department_is=d009", "dept_no = 'd009'", {}),
]


@pytest.mark.parametrize("endpoint,query,condition,_params", FILTER_CASES)
def test_filters(read_only, endpoint, query, condition, _params):
    client = read_only.logged_in("viewer")
    emp_no = scalar(read_only.app, "SELECT min(emp_no) FROM salaries")
    query, condition = query.format(e=emp_no), condition.format(e=emp_no)
    table = VIEWS[endpoint]
    expected = all_keys(read_only.app, table) and [
        key_text(r)
        for r in sql(
            read_only.app,
            f"SELECT {', '.join(KEYS[table])} FROM {table} WHERE {condition} "
            f"ORDER BY {', '.join(KEYS[table])}",
        )
    ]
    assert expected, "the case must select some rows"
    ids, count = listed(client, f"/admin/{endpoint}/?{query}")
    assert ids == expected[:50]
    assert count == f"{len(expected):,}"
    # The filter is shown as active (the page's filter form gets it back).
    assert "active-filters-data" in get_ok(client, f"/admin/{endpoint}/?{query}")


def test_filter_options_come_from_the_database(read_only):
    body = get_ok(read_only.logged_in("viewer"), "/admin/employee/")
    groups = html.unescape(
        re.search(r'id="filter-groups-data"[^>]*>(.*?)</div>', body, re.S).group(1)
    )
    assert '"d001 Marketing"' in groups or '"d001 ' in groups
    assert '"Senior Engineer"' in groups


def test_a_bad_filter_value_is_a_message(read_only):
    body = get_ok(
        read_only.logged_in("viewer"),
        "/admin/employee/?flt0_employee_number_equals=abc",
    )
    assert "Invalid Filter Value: abc" in body


# -- details ------------------------------------------------------------------------


def test_employee_details_show_the_present_and_the_history(read_only):
    client = read_only.logged_in("viewer")
    emp_no = scalar(read_only.app, "SELECT min(emp_no) FROM dept_manager")
    body = unquote_plus(get_ok(client, f"/admin/employee/details/?id={emp_no}"))
    salary = sql(
        read_only.app,
        "SELECT salary, from_date FROM salaries WHERE emp_no = :e AND to_date = :t",
        e=emp_no,
        t=OPEN_END,
    )
    if salary:
        assert f"{salary[0][0]:,}" in body
    for (from_date,) in sql(
        read_only.app, "SELECT from_date FROM salaries WHERE emp_no = :e", e=emp_no
    ):
        assert f"/admin/salary/details/?id={emp_no},{from_date}" in body
    for title, from_date in sql(
        read_only.app, "SELECT title, from_date FROM titles WHERE emp_no = :e", e=emp_no
    ):
        assert f"/admin/title/details/?id={emp_no},{title},{from_date}" in body
    for (dept_no,) in sql(
        read_only.app, "SELECT dept_no FROM dept_emp WHERE emp_no = :e", e=emp_no
    ):
        assert f"/admin/dept_emp/details/?id={emp_no},{dept_no}" in body
    assert "Managed departments" in body


def test_department_details_show_managers_and_head_count(read_only):
    client = read_only.logged_in("viewer")
    body = get_ok(client, "/admin/department/details/?id=d001")
    head_count = scalar(
        read_only.app,
        "SELECT count(*) FROM dept_emp WHERE dept_no = 'd001' AND to_date = :t",
        t=OPEN_END,
    )
    assert f"Current head count: <b>{head_count:,}</b>" in body
    for (emp_no,) in sql(
        read_only.app, "SELECT emp_no FROM dept_manager WHERE dept_no = 'd001'"
    ):
        assert f'href="/admin/employee/details/?id={emp_no}"' in body
    employees_url = html.unescape(
        re.search(r'class="department-employees" href="([^"]+)"', body).group(1)
    )
    ids, count = listed(client, employees_url)
    expected = scalar(
        read_only.app,
        "SELECT count(DISTINCT emp_no) FROM dept_emp WHERE dept_no = 'd001'",
    )
    assert count == f"{expected:,}"


# -- export -------------------------------------------------------------------------


def export_rows(client, url: str) -> list[list[str]]:
    with client.get(url) as response:
        assert response.status_code == 200, (url, response.status_code)
        assert response.is_streamed
        assert response.mimetype == "text/csv"
        text = response.get_data(as_text=True)
    return list(csv.reader(io.StringIO(text)))


def test_export_holds_every_row_and_keeps_the_filters(read_only):
    client = read_only.logged_in("viewer")
    assert "CSV export:" not in get_ok(client, "/admin/salary/")  # no cap
    rows = export_rows(client, "/admin/salary/export/csv/")
    assert rows[0] == ["Emp No", "Salary of the period", "From Date", "To Date"]
    keys = [",".join([r[0], r[2]]) for r in rows[1:]]
    # More rows than one batch of the export: every one, in the list's order.
    assert len(keys) > base.EXPORT_BATCH
    assert keys == all_keys(read_only.app, "salaries")

    emp_no = scalar(read_only.app, "SELECT min(emp_no) FROM salaries")
    url = f"/admin/salary/export/csv/?flt0_employee_number_equals={emp_no}"
    rows = export_rows(client, url)[1:]
    expected = scalar(
        read_only.app, "SELECT count(*) FROM salaries WHERE emp_no = :e", e=emp_no
    )
    assert len(rows) == expected and {r[0] for r in rows} == {str(emp_no)}
    # The list's sort, descending.
    rows = export_rows(client, "/admin/employee/export/csv/?sort=2&desc=1")[1:]
    expected = sql(
        read_only.app,
        "SELECT emp_no FROM employees ORDER BY last_name DESC, emp_no DESC",
    )
    assert [r[0] for r in rows] == [str(e) for (e,) in expected]
    assert client.get("/admin/salary/export/xlsx/").status_code == 404


def test_an_export_beyond_the_operators_cap_is_refused_with_its_count(as_role, data):
    client = as_role("viewer")
    data.config["EXPORT_MAX_ROWS"] = 120
    assert "CSV export: 120 rows at most" in get_ok(client, "/admin/salary/")
    total = scalar(data, "SELECT count(*) FROM salaries")
    response = client.get("/admin/salary/export/csv/?flt0_salary_at_least=1")
    # Refused before any row: the list again, with the count and the way out.
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/salary/?")
    assert "flt0_salary_at_least=1" in response.headers["Location"]
    body = get_ok(client, response.headers["Location"])
    assert (
        f"The export was refused: it would hold {total:,} rows, more than the 120 "
        "allowed here. Narrow the list with the search or a filter"
    ) in html.unescape(body)
    # Within the cap: whole.
    emp_no = scalar(data, "SELECT min(emp_no) FROM salaries")
    rows = export_rows(client, f"/admin/salary/export/csv/?search={emp_no}")[1:]
    expected = scalar(data, "SELECT count(*) FROM salaries WHERE emp_no = :e", e=emp_no)
    assert 0 < len(rows) == expected <= 120


def test_views_are_read_from_their_tables_with_the_views_rows(as_role, data):
    """The admin reads the two SQL views through equivalent queries on
    dept_emp (sqlviews.py): the same rows as the views themselves, also for
    an employee whose latest from_date and latest to_date are in different
    rows (no current row at all) and one with two rows on the same dates."""
    emp_nos = [r[0] for r in sql(data, "SELECT emp_no FROM employees LIMIT 2")]
    with data.app_context():
        db.session.execute(
            sa.text("DELETE FROM dept_emp WHERE emp_no IN (:a, :b)"),
            {"a": emp_nos[0], "b": emp_nos[1]},
        )
        for emp_no, dept_no, start, end in [
            (emp_nos[0], "d001", "1990-01-01", "2000-01-01"),
            (emp_nos[0], "d002", "1995-01-01", "1999-01-01"),
            (emp_nos[1], "d003", "1991-01-01", "9999-01-01"),
            (emp_nos[1], "d004", "1991-01-01", "9999-01-01"),
        ]:
            db.session.execute(
                sa.text("INSERT INTO dept_emp VALUES (:e, :d, :f, :t)"),
                {"e": emp_no, "d": dept_no, "f": start, "t": end},
            )
        db.session.commit()
    client = as_role("viewer")
    for view, columns in [
        ("current_dept_emp", "emp_no, dept_no, from_date, to_date"),
        ("dept_emp_latest_date", "emp_no, from_date, to_date"),
    ]:
        expected = [
            [str(v) for v in row]
            for row in sql(data, f"SELECT {columns} FROM {view} ORDER BY {columns}")
        ]
        assert export_rows(client, f"/admin/{view}/export/csv/")[1:] == expected
    current = export_rows(client, "/admin/current_dept_emp/export/csv/")
    assert not [r for r in current if r[0] == str(emp_nos[0])]
    assert [r[1] for r in current if r[0] == str(emp_nos[1])] == ["d003", "d004"]


def test_an_export_holds_no_lock_between_batches_and_fails_loudly(as_role, data):
    """Each batch is read in a transaction of its own: between two, a
    migration may take the table (MySQL's metadata lock is free). An export
    whose table goes away raises (gunicorn then ends the response without
    its last chunk), never ends quietly short."""
    client = as_role("viewer")
    response = client.get("/admin/salary/export/csv/", buffered=False)
    try:
        chunks = iter(response.response)
        assert next(chunks).startswith(b"Emp No,Salary")  # the first batch
        with data.app_context():
            if db.engine.dialect.name == "mysql":
                # Refused after 5 s, instead of waiting, if the export held it.
                db.session.execute(sa.text("SET SESSION lock_wait_timeout = 5"))
            db.session.execute(sa.text("DROP TABLE salaries"))
            db.session.commit()
        with pytest.raises(sa.exc.DBAPIError):
            for _chunk in chunks:
                pass
    finally:
        response.close()


FORMULAS = {
    "equals": "=1+2",
    "plus": "+1+2",
    "minus": "-1+2",
    "at": "@SUM(1)",
    "leading space": " =1+2",
    "leading spaces and tab": "  \t=1+2",
    "no-break space": "\u00a0=1+2",
    "ideographic space": "\u3000=1+2",
    "zero-width space": "\u200b=1+2",
    "control character": "\x1b=1+2",
    "tab": "\tcmd",
    "carriage return": "\rcmd",
    "line feed": "\ncmd",
    "full-width equals": "\uff1d1+2",
    "full-width plus": "\uff0b1+2",
    "full-width minus": "\uff0d1+2",
    "full-width at": "\uff20SUM(1)",
}


@pytest.mark.parametrize("name", list(FORMULAS))
def test_a_formula_is_neutralised(name):
    formula = FORMULAS[name]
    assert base._csv_safe(formula) == "'" + formula  # shown as text, whole


def test_export_neutralises_every_formula(as_role, data):
    emp_nos = [e for (e,) in sql(data, "SELECT emp_no FROM employees ORDER BY emp_no")][
        : len(FORMULAS)
    ]
    with data.app_context():
        for emp_no, formula in zip(emp_nos, FORMULAS.values(), strict=True):
            db.session.execute(
                sa.text("UPDATE employees SET last_name = :v WHERE emp_no = :e"),
                {"v": formula, "e": emp_no},
            )
        db.session.commit()
    client = as_role("viewer")
    rows = export_rows(client, "/admin/employee/export/csv/")
    exported = {r[0]: r[2] for r in rows[1:]}
    for emp_no, (name, formula) in zip(emp_nos, FORMULAS.items(), strict=True):
        assert exported[str(emp_no)] == "'" + formula, name


def test_export_leaves_numbers_and_plain_text_alone(read_only):
    assert [base._csv_safe(v) for v in ("-5", "+1.5", "1e5", " a", "a-b", None)] == [
        "-5",
        "+1.5",
        "1e5",
        " a",
        "a-b",
        "",
    ]
    # What a spreadsheet would not read as a number is neutralised.
    assert base._csv_safe("-inf") == "'-inf"
    client = read_only.logged_in("viewer")
    rows = export_rows(client, "/admin/salary/export/csv/?sort=0&desc=1")
    assert all(not r[1].startswith("'") for r in rows[1:])


# -- bad input -----------------------------------------------------------------------


def test_bad_page_tokens_ids_and_sorts_are_4xx(read_only):
    client = read_only.logged_in("operator")
    first = get_ok(client, "/admin/salary/")
    next_url = pager(first)["next"]
    token = re.search(r"page=([^&]+)", next_url).group(1)
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    bad_lists = [
        "/admin/salary/?page=-1",
        "/admin/salary/?page=99999999999999999999999",
        "/admin/salary/?page=garbage",
        f"/admin/salary/?page={tampered}",
        # A token of another sort order.
        f"/admin/salary/?page={token}&desc=1",
        "/admin/employee/?sort=99",
        "/admin/employee/?sort=abc",
        "/admin/employee/?sort=3",  # gender: not indexed
        "/admin/employee/?desc=x",
        "/admin/salary/?sort=1",  # salary: not indexed
    ]
    for url in bad_lists:
        assert client.get(url).status_code == 400, url
    emp_no, from_date = sql(
        read_only.app, "SELECT emp_no, from_date FROM salaries ORDER BY emp_no LIMIT 1"
    )[0]
    bad_ids = [
        "/admin/employee/details/?id=1,2",
        "/admin/employee/edit/?id=1,2",
        "/admin/employee/details/?id=abc",
        "/admin/employee/details/?id=1&id=2",
        f"/admin/salary/details/?id={emp_no}",
        f"/admin/salary/details/?id={emp_no},{from_date},x",
        f"/admin/salary/edit/?id={emp_no},not-a-date",
    ]
    for url in bad_ids:
        assert client.get(url).status_code == 400, url
    token = csrf_token(client, "/admin/")
    response = client.post(
        "/admin/employee/delete/", data={"id": "1,2", "csrf_token": token}
    )
    assert response.status_code == 400
    # A row that does not exist: Flask-Admin's message, no error.
    response = client.get("/admin/employee/details/?id=987654")
    assert response.status_code == 302


# -- the migration --------------------------------------------------------------------


def employees_ddl(engine) -> str:
    with engine.connect() as conn:
        if engine.dialect.name == "mysql":
            return conn.exec_driver_sql("SHOW CREATE TABLE employees").one()[1]
        rows = conn.exec_driver_sql(
            "SELECT type, name, sql FROM sqlite_master "
            "WHERE tbl_name = 'employees' ORDER BY name"
        ).all()
        return repr(rows)


def test_last_name_index_downgrades_to_the_exact_schema(app, runner, engine):
    assert runner.invoke(args=["db", "upgrade", "0002_employee_email"]).exit_code == 0
    before = employees_ddl(engine)
    assert "last_name" not in before.split("PRIMARY KEY")[-1]
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "ix_employees_last_name" in employees_ddl(engine)
    result = runner.invoke(args=["db", "downgrade", "0002_employee_email"])
    assert result.exit_code == 0, result.output
    assert employees_ddl(engine) == before


def test_every_indexed_column_sorts_and_the_list_says_which_do_not(read_only):
    client = read_only.logged_in("viewer")
    # first_name (index of 0004, with last_name): pages in the index's order.
    expected = all_keys(read_only.app, "employees", "first_name, last_name, emp_no")
    body = get_ok(client, "/admin/employee/?sort=1")
    assert page_ids(body) == expected[:50]
    assert page_ids(get_ok(client, pager(body)["next"])) == expected[50:100]
    note = re.search(r'class="[^"]*sorting-note">([^<]*)<', body).group(1)
    assert "Not sortable: Gender, Birth Date, Hire Date (no index)" in note
    assert "Email (indexed, but empty for most rows" in note
    # Tiny tables are counted exactly.
    assert "List (9)" in get_ok(client, "/admin/department/")


def test_email_is_validated_by_its_field(as_role, data):
    operator = as_role("operator")
    emp_no = scalar(data, "SELECT min(emp_no) FROM employees")
    url = f"/admin/employee/edit/?id={emp_no}"
    form = form_of(get_ok(operator, url))
    form["email"] = "not an address"
    body = operator.post(url, data=form).get_data(as_text=True)
    assert "This is not an email address" in body
    assert "was not saved: see the message by each field." in body
    assert (
        scalar(data, "SELECT email FROM employees WHERE emp_no = :e", e=emp_no) is None
    )
    form["email"] = " someone@example.com "
    assert operator.post(url, data=form).status_code == 302
    assert (
        scalar(data, "SELECT email FROM employees WHERE emp_no = :e", e=emp_no)
        == "someone@example.com"
    )
