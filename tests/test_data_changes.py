"""The change history of the data admin (app/employees/history.py): every
create, edit and delete, the bulk delete included, recorded with who, when,
which record, each field before and after, and a delete's cascade counted;
shown on the record's page and on the home page; messages that name the
record. On SQLite, and on MySQL/MariaDB with TEST_DATABASE_URL."""

import html
import json
import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from tests.helpers import ROLES, csrf_token, login


@pytest.fixture
def data(app, prepare):
    """The demo's legacy database (scale 0.005) adopted and at head, Headway's
    tables, one account per role (a copy of their template)."""
    prepare(
        app,
        (
            ("flask", "demo", "create-legacy", "--scale", "0.005"),
            ("flask", "db", "adopt"),
            ("flask", "db", "upgrade"),
            ("flask", "headway", "init"),
            *(("user", role, role) for role in ROLES),
        ),
    )
    return app


def client_of(app, role):
    client = app.test_client()
    assert login(client, role).status_code == 302
    return client


def rows(app, statement, **params):
    with app.app_context():
        return db.session.execute(sa.text(statement), params).all()


def history(app):
    return [
        (
            r.username,
            r.action,
            r.table_name,
            r.record_key,
            r.record_label,
            json.loads(r.changes),
            json.loads(r.cascade),
        )
        for r in rows(app, "SELECT * FROM headway_data_changes ORDER BY id")
    ]


def messages(body: str) -> list[str]:
    return [
        " ".join(html.unescape(re.sub(r"<[^>]+>", " ", m)).replace("×", "").split())
        for m in re.findall(r'<div class="alert[^"]*"[^>]*>(.*?)</div>', body, re.S)
    ]


def employee_form(app, emp_no):
    row = rows(
        app,
        "SELECT emp_no, birth_date, first_name, last_name, gender, hire_date, email "
        "FROM employees WHERE emp_no = :e",
        e=emp_no,
    )[0]
    return {k: "" if v is None else str(v) for k, v in row._mapping.items()}


def test_an_edit_is_in_the_records_history_with_before_after_and_who(data):
    operator = client_of(data, "operator")
    emp_no, first, last = rows(
        data, "SELECT emp_no, first_name, last_name FROM employees ORDER BY emp_no"
    )[0]
    form = employee_form(data, emp_no)
    form.update(first_name="Renamed", email="r@example.com")
    form["csrf_token"] = csrf_token(operator, f"/admin/employee/edit/?id={emp_no}")
    response = operator.post(
        f"/admin/employee/edit/?id={emp_no}", data=form, follow_redirects=True
    )
    assert f"Employee {emp_no} Renamed {last} saved." in messages(
        response.get_data(as_text=True)
    )
    assert history(data) == [
        (
            "operator",
            "edit",
            "employees",
            str(emp_no),
            f"Employee {emp_no} Renamed {last}",
            {"first_name": [first, "Renamed"], "email": [None, "r@example.com"]},
            [],
        )
    ]
    page = operator.get(f"/admin/employee/details/?id={emp_no}").get_data(as_text=True)
    table = page.split('id="changes"')[1]
    assert "operator" in table and "edited" in table
    assert f'<code>{first}</code></span> → <span class="after"><code>Renamed' in table

    # Saving again with nothing changed records nothing.
    form["csrf_token"] = csrf_token(operator, f"/admin/employee/edit/?id={emp_no}")
    operator.post(f"/admin/employee/edit/?id={emp_no}", data=form)
    assert len(history(data)) == 1


def test_a_delete_records_its_cascade_and_the_home_page_shows_it(data):
    operator = client_of(data, "operator")
    assignments = rows(data, "SELECT count(*) FROM dept_emp WHERE dept_no = 'd001'")
    managers = rows(data, "SELECT count(*) FROM dept_manager WHERE dept_no = 'd001'")
    name = rows(data, "SELECT dept_name FROM departments WHERE dept_no = 'd001'")[0][0]
    token = csrf_token(operator, "/admin/department/")
    response = operator.post(
        "/admin/department/delete/",
        data={"id": "d001", "csrf_token": token, "url": "/admin/department/"},
        follow_redirects=True,
    )
    label = f"Department d001 {name}"
    said = messages(response.get_data(as_text=True))
    assert any(m.startswith(f"{label} deleted, with ") for m in said), said
    [(who, action, table, key, recorded_label, changes, cascade)] = history(data)
    assert (who, action, table, key, recorded_label) == (
        "operator",
        "delete",
        "departments",
        "d001",
        label,
    )
    assert changes == {"dept_no": ["d001", None], "dept_name": [name, None]}
    expected = [["department assignment", assignments[0][0]]]
    if managers[0][0]:
        expected.append(["manager assignment", managers[0][0]])
    assert cascade == expected
    home = operator.get("/admin/").get_data(as_text=True)
    assert f"{label} deleted" in re.sub(r"\s+", " ", home)


def test_a_bulk_delete_and_a_create_are_recorded_row_by_row(data):
    operator = client_of(data, "operator")
    keys = rows(
        data,
        "SELECT emp_no, from_date FROM salaries ORDER BY emp_no, from_date LIMIT 3",
    )
    token = csrf_token(operator, "/admin/salary/")
    ids = [f"{e},{d}" for e, d in keys]
    response = operator.post(
        "/admin/salary/action/",
        data={"action": "delete", "rowid": ids, "csrf_token": token},
        follow_redirects=True,
    )
    said = messages(response.get_data(as_text=True))
    assert any(
        f"Salary of employee {keys[0][0]} from {keys[0][1]} deleted" in m for m in said
    ), said
    assert [(h[1], h[3]) for h in history(data)] == [("delete", i) for i in ids]

    token = csrf_token(operator, "/admin/department/new/")
    operator.post(
        "/admin/department/new/",
        data={"dept_no": "d100", "dept_name": "Testing", "csrf_token": token},
    )
    assert history(data)[-1][1:] == (
        "create",
        "departments",
        "d100",
        "Department d100 Testing",
        {"dept_no": [None, "d100"], "dept_name": [None, "Testing"]},
        [],
    )
