"""The cheap check of the live schema on every probe and status call
(core/fingerprint.py): a stamp that lies, or a change made outside Headway,
shows at once; being behind is not drift. On every dialect under test, on the
legacy database (DDL only, a few rows)."""

import pytest

from app.extensions import db
from tests.helpers import migrations_head

HEAD = migrations_head()


@pytest.fixture
def console(app, make_console):
    """The legacy database adopted at 0001_baseline (behind head), Headway's
    tables, and a logged-in viewer."""
    return make_console(
        app,
        (
            ("legacy", 0.005, 3),
            ("flask", "headway", "init"),
            ("flask", "db", "adopt", "--to", "0001_baseline"),
            ("user", "viewer", "viewer"),
        ),
        "viewer",
    )


def execute(app, *statements):
    with app.app_context(), db.engine.connect() as conn:
        for sql in statements:
            conn.exec_driver_sql(sql)
        conn.commit()


def state(client) -> tuple[dict, int, dict]:
    """The status JSON, and /readyz's status code and body."""
    ready = client.get("/readyz")
    return (
        client.get("/api/migrations/status").get_json(),
        ready.status_code,
        (ready.get_json()),
    )


def test_behind_is_not_drift_and_a_change_out_of_band_is(console):
    app, client = console.app, console.client
    body, code, ready = state(client)
    # Adopted at 0001 (proven then): behind, and the schema is 0001's.
    assert body["state"] == "behind" and body["drift"] is not True
    assert body["schema_check"]["state"] == "ok"
    assert code == 503 and ready["state"] == "behind"
    page = client.get("/admin/migrations/").get_data(as_text=True)
    assert 'data-state="behind"' in page

    # A column dropped outside Headway: drift, at once, everywhere.
    execute(app, "ALTER TABLE titles DROP COLUMN to_date")
    body, code, ready = state(client)
    assert body["state"] == "drift" and body["drift"] is True
    assert body["schema_check"]["state"] == "drift"
    assert "changed since Headway proved them at 0001_baseline" in body["summary"]
    assert body["pending"]  # still behind, too
    assert code == 503 and ready["state"] == "drift"
    assert ready["reason"] == "the live schema differs from its revision's"
    for path in ("/admin/migrations/", "/admin/"):
        page = client.get(path).get_data(as_text=True)
        assert 'data-state="drift"' in page, path

    # Nothing stored to compare with: unchecked, never "ok".
    execute(app, "DELETE FROM headway_schema_fingerprints")
    body, code, _ = state(client)
    assert body["state"] == "behind"
    assert body["schema_check"]["state"] == "unchecked"


def test_a_stamp_that_lies_is_drift(console):
    """A stock `stamp head` on a database at 0001 (the version row written as
    Alembic writes it, without Headway's guard): the models have
    employees.email, the database has not."""
    app, client = console.app, console.client
    execute(app, f"UPDATE alembic_version SET version_num = '{HEAD}'")
    body, code, ready = state(client)
    assert body["state"] == "drift" and body["current"] == [HEAD]
    assert (
        "column employees.email: in the models, missing from the database"
        in body["schema_check"]["differences"]
    )
    assert code == 503 and ready["state"] == "drift"
    # A logged-in probe says which.
    assert "employees.email" in ready["detail"]


def test_a_column_dropped_at_head_fails_readiness_at_once(console):
    app, runner, client = console.app, console.runner, console.client
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    body, code, _ = state(client)
    assert (body["state"], code) == ("up_to_date", 200)
    assert body["schema_check"]["state"] == "ok"

    execute(
        app,
        "DROP INDEX ix_employees_email ON employees"
        if db_is_mysql(app)
        else "DROP INDEX ix_employees_email",
        "ALTER TABLE employees DROP COLUMN email",
    )
    body, code, ready = state(client)
    assert (body["state"], code, ready["state"]) == ("drift", 503, "drift")
    assert body["schema_check"]["differences"] == [
        "column employees.email: in the models, missing from the database",
        "index employees.ix_employees_email: in the models, missing from the database",
    ]


def db_is_mysql(app) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "mysql"


def test_a_proof_carries_over_headways_own_upgrades(console):
    """Upgraded by Headway from a proven schema: the new revision's schema is
    known too (behind head, and checked)."""
    app, runner, client = console.app, console.runner, console.client
    result = runner.invoke(args=["db", "upgrade", "0002_employee_email"])
    assert result.exit_code == 0, result.output
    body, code, _ = state(client)
    assert body["state"] == "behind" and body["current"] == ["0002_employee_email"]
    assert body["schema_check"]["state"] == "ok"

    execute(app, "ALTER TABLE departments ADD COLUMN budget INTEGER")
    body, code, ready = state(client)
    assert body["state"] == "drift" and ready["state"] == "drift"
