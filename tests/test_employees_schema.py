"""The data pages follow the schema they find (app/employees/schema.py): at
0001_baseline, right after `flask db adopt`, they work without the columns
later revisions bring and name the revision; a page with nothing to show
names the revision it needs. On SQLite, and on MySQL/MariaDB with
TEST_DATABASE_URL."""

import sqlalchemy as sa

from app.employees import schema
from app.extensions import db
from tests.helpers import ROLES, csrf_token, login


def adopted(app, prepare, *extra):
    """The demo's legacy database adopted (at 0001_baseline), Headway's
    tables, one account per role, then the `extra` flask commands (a copy of
    their template), and the operator logged in."""
    prepare(
        app,
        (
            ("flask", "demo", "create-legacy", "--scale", "0.005"),
            ("flask", "db", "adopt"),
            ("flask", "headway", "init"),
            *(("flask", *command) for command in extra),
            *(("user", role, role) for role in ROLES),
        ),
    )
    client = app.test_client()
    assert login(client, "operator").status_code == 302
    return client


def first_employee(app):
    with app.app_context():
        return db.session.execute(
            sa.text("SELECT emp_no, first_name FROM employees ORDER BY emp_no")
        ).first()


def test_at_the_baseline_the_data_pages_work_and_name_the_revision(app, prepare):
    client = adopted(app, prepare)
    emp_no, first_name = first_employee(app)
    for url in (
        "/admin/employee/",
        f"/admin/employee/details/?id={emp_no}",
        f"/admin/employee/edit/?id={emp_no}",
        "/admin/employee/new/",
        "/admin/department/details/?id=d001",
        "/admin/dept_manager/",
    ):
        response = client.get(url)
        body = response.get_data(as_text=True)
        assert response.status_code == 200, (url, response.status_code)
        if url.startswith("/admin/employee/"):
            assert "0002_employee_email" in body, url
            assert "/admin/migrations/plan?target=0002_employee_email" in body
            assert 'name="email"' not in body
    assert str(emp_no) in client.get("/admin/employee/").get_data(as_text=True)

    # An edit saves what exists, and says nothing of email.
    token = csrf_token(client, f"/admin/employee/edit/?id={emp_no}")
    response = client.post(
        f"/admin/employee/edit/?id={emp_no}",
        data={
            "csrf_token": token,
            "emp_no": emp_no,
            "first_name": "Renamed",
            "last_name": "Person",
            "gender": "F",
            "birth_date": "1960-01-02",
            "hire_date": "1990-03-04",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert first_employee(app)[1] == "Renamed"
    export = client.get("/admin/employee/export/csv/").get_data(as_text=True)
    assert export.splitlines()[0].lower().find("email") == -1


def test_after_the_upgrade_email_is_back(app, prepare):
    client = adopted(app, prepare, ["db", "upgrade"])
    emp_no, _ = first_employee(app)
    body = client.get(f"/admin/employee/edit/?id={emp_no}").get_data(as_text=True)
    assert 'name="email"' in body
    assert "0002_employee_email" not in body


def test_without_the_tables_a_page_names_the_revision_it_needs(app, accounts):
    # The version table says 0001 while the tables are gone (dropped by hand):
    # the page can show nothing and says which revision it needs, never a 503.
    with app.app_context():
        for table in ("current_dept_emp", "dept_emp_latest_date"):
            db.session.execute(sa.text(f"DROP VIEW {table}"))
        for table in ("dept_emp", "dept_manager", "titles", "salaries", "employees"):
            db.session.execute(sa.text(f"DROP TABLE {table}"))
        db.session.commit()
    client = app.test_client()
    assert login(client, "viewer").status_code == 302
    response = client.get("/admin/employee/")
    assert response.status_code == 409
    body = response.get_data(as_text=True)
    assert "This page needs" in body and "0001_baseline" in body
    assert 'class="navbar' in body


def test_every_column_beyond_the_baseline_names_its_revision(app, runner, prepare):
    """INTRODUCED_BY is complete and true: at each named revision's parent the
    column is missing, at the revision it exists."""
    adopted(app, prepare)
    with app.app_context():
        live = sa.inspect(db.engine)
        at_baseline = {
            (m.__table__.name, c["name"])
            for m in schema.DATA_MODELS
            for c in live.get_columns(m.__table__.name)
        }
        modelled = {
            (m.__table__.name, c.name)
            for m in schema.DATA_MODELS
            for c in m.__table__.c
        }
    assert modelled - at_baseline == {
        key for key in schema.INTRODUCED_BY if key[1] is not None
    }
    for (table, column), revision in schema.INTRODUCED_BY.items():
        result = runner.invoke(args=["db", "upgrade", revision])
        assert result.exit_code == 0, result.output
        with app.app_context():
            names = [c["name"] for c in sa.inspect(db.engine).get_columns(table)]
        assert column in names
