"""Smaller brownfield items: each surface says the same thing in its own
terms, and no command leaves the user with a raw warning or a bare "already
exists"."""

import pytest

from app.auth.accounts import create_user
from app.demo.legacy import LEGACY_DDL
from app.extensions import db
from tests.helpers import PASSWORD, login, migrations_head, run_flask, version_rows

HEAD = migrations_head()


@pytest.fixture
def legacy_ddl(app, engine):
    """The legacy tables, DDL only (no data), unversioned."""
    with engine.begin() as conn:
        for statement in LEGACY_DDL[engine.dialect.name]:
            conn.exec_driver_sql(statement)
    return engine


def test_the_api_plan_refuses_an_upgrade_of_an_unversioned_database(
    app, runner, legacy_ddl
):
    assert runner.invoke(args=["headway", "init"]).exit_code == 0
    with app.app_context():
        create_user("viewer", PASSWORD, "viewer")
    client = app.test_client()
    assert login(client, "viewer").status_code == 302
    response = client.get("/api/migrations/plan?target=head")
    assert response.status_code == 400
    body = response.get_json()
    assert body["state"] == "unversioned"
    assert "already has employees" in body["error"]
    assert '{"action": "adopt"}' in body["error"] and "flask " not in body["error"]
    # As the plan page does.
    page = client.get("/admin/migrations/plan?target=head").get_data(as_text=True)
    assert 'id="plan-refusal"' in page


def test_current_and_verify_agree_on_a_stamped_prefix(app, runner, engine):
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE alembic_version SET version_num = '{HEAD[:4]}'")
    for command in (["current"], ["verify"], ["upgrade"]):
        result = runner.invoke(args=["db", *command])
        assert result.exit_code == 1, result.output
        [line] = [x for x in result.output.splitlines() if x.startswith("Error:")]
        assert f"stamped with {HEAD[:4]}, which the scripts do not have" in line
        assert f"{HEAD[:4]} is only a prefix of {HEAD}" in line


def test_init_on_the_existing_migrations_says_what_to_do(runner):
    result = runner.invoke(args=["db", "init"])
    assert result.exit_code == 1
    [line] = result.output.splitlines()
    assert "migrations already exists: Headway's migrations are set up" in line
    assert "`flask db adopt --dry-run`" in line and "`flask db upgrade`" in line


def test_offline_scripts_carry_the_warnings(app, runner, legacy_ddl):
    """`--sql` scripts run by hand later: the guards cannot refuse them, so
    they say in the script what the guards would have said."""
    result = runner.invoke(args=["db", "upgrade", "--sql"])
    assert result.exit_code == 0, result.output
    header = result.output.split("CREATE TABLE", 1)[0]
    assert "-- Headway: read this before running the script" in header
    assert "-- WARNING: the database is unversioned but already has employees" in (
        header
    )
    assert runner.invoke(args=["db", "adopt"]).exit_code == 0
    with app.app_context(), db.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO departments VALUES ('d001', 'Marketing'), ('d002', 'Finance')"
        )
    result = runner.invoke(args=["db", "downgrade", "--sql", "0001_baseline:base"])
    assert result.exit_code == 0, result.output
    header = result.output.split("DROP", 1)[0]
    assert "-- lint 0001_baseline: drops table departments and every row in it" in (
        header
    )
    assert "-- - table departments: 2 rows (dropped by 0001_baseline)" in header
    with app.app_context():
        assert version_rows(db.engine) == ["0001_baseline"]  # a script, not a run


@pytest.mark.live
def test_a_warning_is_one_line(tmp_path, scripts):
    # A process of its own (pytest turns warnings into errors); SQLite only:
    # how a warning is shown does not depend on the database.
    scripts.write(
        "0004_warns", HEAD, "import warnings\nwarnings.warn('slow on big tables')"
    )
    result = run_flask(
        "db",
        "upgrade",
        database_url=f"sqlite:///{tmp_path / 'warns.db'}",
        HEADWAY_MIGRATIONS_DIR=str(scripts.directory),
    )
    assert result.returncode == 0, result.stderr
    assert "warning: slow on big tables" in result.stderr.splitlines()
    assert "UserWarning" not in result.stderr and "warnings.warn" not in result.stderr
