"""Bringing a legacy database under migrations: adopt, upgrade, downgrade,
verify, on every dialect under test."""

import os
import secrets

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from app import create_app
from app.dbadmin.core.alembic_env import include_user_schema
from app.dbadmin.core.schema import compare_schemas
from app.demo.legacy import create_legacy
from app.extensions import db
from config import TestingConfig
from tests.helpers import (
    data_fingerprint,
    execute,
    migrations_head,
    table_names,
    user_schema,
    version_rows,
)

# `flask` commands only: each test's app is built as the command builds it.
pytestmark = pytest.mark.cli

SCALE = 0.005  # 50 employees, ~475 salaries: every table has rows


def test_adopt_upgrade_check_downgrade_keeps_tables_and_data(app, runner, legacy):
    schema_before = user_schema(legacy)
    data_before = data_fingerprint(legacy)
    assert all(count > 0 for count, _ in data_before.values())

    result = runner.invoke(args=["db", "adopt"])
    assert result.exit_code == 0, result.output
    assert "adopted at 0001_baseline" in result.output
    assert version_rows(legacy) == ["0001_baseline"]
    # Adoption touched no table: only alembic_version is new.
    assert compare_schemas(user_schema(legacy), schema_before) == []
    assert compare_schemas(schema_before, user_schema(legacy)) == []
    assert data_fingerprint(legacy) == data_before

    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert version_rows(legacy) == [migrations_head()]
    result = runner.invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output
    assert data_fingerprint(legacy) == data_before
    result = runner.invoke(args=["db", "verify"])
    assert result.exit_code == 0, result.output
    assert f"matches {migrations_head()}" in result.output

    result = runner.invoke(args=["db", "downgrade", "0001_baseline"])
    assert result.exit_code == 0, result.output
    schema_after = user_schema(legacy)
    assert compare_schemas(schema_after, schema_before) == []
    assert compare_schemas(schema_before, schema_after) == []
    assert data_fingerprint(legacy) == data_before
    result = runner.invoke(args=["db", "verify"])
    assert result.exit_code == 0, result.output
    assert "matches 0001_baseline" in result.output


def test_new_empty_database_is_built_by_the_migrations(app, runner, engine, tmp_path):
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["db", "verify"])
    assert result.exit_code == 0, result.output
    assert f"matches {migrations_head()}" in result.output
    result = runner.invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output

    # The same six tables (and views) as the legacy DDL makes, plus the email
    # column and its index (0002), the last_name index (0003) and the name
    # index (0004), and nothing else.
    built = user_schema(engine)
    with app.app_context():
        db.engine.dispose()
    reference = _legacy_reference_schema(app, engine)
    assert set(built.tables) == set(reference.tables)
    assert (
        set(built.views)
        == set(reference.views)
        == {"dept_emp_latest_date", "current_dept_emp"}
    )
    assert sorted(compare_schemas(built, reference)) == [
        "column employees.email: not in the expected schema",
        "index employees.ix_employees_email: not in the expected schema",
        "index employees.ix_employees_first_name_last_name: not in the expected schema",
        "index employees.ix_employees_last_name: not in the expected schema",
    ]


def _legacy_reference_schema(app, engine):
    """The schema the legacy DDL gives on this dialect, in a fresh database."""
    from app.dbadmin.core.scratch import scratch_engine

    with app.app_context(), scratch_engine(engine) as scratch:
        create_legacy(scratch, scale=SCALE)
        return user_schema(scratch)


def _recreate_salaries(engine, column_sql: str, fk_sql: str) -> None:
    with engine.connect() as conn:
        conn.exec_driver_sql("DROP TABLE salaries")
        conn.exec_driver_sql(
            "CREATE TABLE salaries (emp_no INT NOT NULL, "
            f"{column_sql}, from_date DATE NOT NULL, to_date DATE NOT NULL, "
            f"PRIMARY KEY (emp_no, from_date), {fk_sql})"
        )
        conn.commit()


CASCADE_FK = "FOREIGN KEY (emp_no) REFERENCES employees (emp_no) ON DELETE CASCADE"

# (how the legacy database is damaged, the difference verify must name)
DAMAGES = {
    "type": (
        lambda e: _recreate_salaries(e, "salary BIGINT NOT NULL", CASCADE_FK),
        "column salaries.salary: type is BIGINT, expected INTEGER",
    ),
    "nullability": (
        lambda e: _recreate_salaries(e, "salary INT NULL", CASCADE_FK),
        "column salaries.salary: nullable, expected NOT NULL",
    ),
    "on_delete": (
        lambda e: _recreate_salaries(
            e,
            "salary INT NOT NULL",
            "FOREIGN KEY (emp_no) REFERENCES employees (emp_no)",
        ),
        "foreign key salaries(emp_no) -> employees(emp_no): "
        "ON DELETE NO ACTION, expected ON DELETE CASCADE",
    ),
    "missing_table": (
        lambda e: execute(e, "DROP TABLE salaries"),
        "table salaries: missing",
    ),
    "missing_column": (
        lambda e: execute(e, "ALTER TABLE titles DROP COLUMN to_date"),
        "column titles.to_date: missing",
    ),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_adopt_refuses_a_database_that_differs(app, runner, legacy, damage):
    damage_fn, expected = DAMAGES[damage]
    damage_fn(legacy)
    if legacy.dialect.name == "mysql":
        expected = expected.replace("INTEGER", "INTEGER(11)")
        expected = expected.replace("BIGINT", "BIGINT(20)")

    result = runner.invoke(args=["db", "adopt"])
    assert result.exit_code == 1
    assert "no revision matches; nothing was written" in result.output
    assert "closest: 0001_baseline, with " in result.output
    assert expected in result.output
    # Not even an empty version table.
    assert "alembic_version" not in table_names(legacy)

    result = runner.invoke(args=["db", "verify", "0001_baseline"])
    assert result.exit_code == 1
    assert expected in result.output
    assert "alembic_version" not in table_names(legacy)


def test_adopt_refuses_a_versioned_database(app, runner, legacy):
    assert runner.invoke(args=["db", "stamp", "0001_baseline"]).exit_code == 0
    result = runner.invoke(args=["db", "adopt"])
    assert result.exit_code == 1
    assert "already versioned (at 0001_baseline)" in result.output
    assert version_rows(legacy) == ["0001_baseline"]


def test_adopt_to_and_dry_run(app, runner, legacy):
    result = runner.invoke(args=["db", "adopt", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would adopt at 0001_baseline" in result.output
    assert "alembic_version" not in table_names(legacy)

    result = runner.invoke(args=["db", "adopt", "--to", "0002_employee_email"])
    assert result.exit_code == 1
    assert "column employees.email: missing" in result.output
    assert "alembic_version" not in table_names(legacy)

    result = runner.invoke(args=["db", "adopt", "--to", "0001"])
    assert result.exit_code == 0, result.output
    assert "adopted at 0001_baseline" in result.output


def test_adopt_finds_the_newest_matching_revision(app, runner, legacy):
    execute(legacy, "ALTER TABLE employees ADD COLUMN email VARCHAR(255) NULL")
    execute(legacy, "CREATE INDEX ix_employees_email ON employees (email)")
    result = runner.invoke(args=["db", "adopt"])
    assert result.exit_code == 0, result.output
    assert "adopted at 0002_employee_email" in result.output
    assert version_rows(legacy) == ["0002_employee_email"]


def test_verify_names_a_missing_index(app, runner, engine):
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    execute(
        engine,
        "DROP INDEX ix_employees_email ON employees"
        if engine.dialect.name == "mysql"
        else "DROP INDEX ix_employees_email",
    )
    result = runner.invoke(args=["db", "verify"])
    assert result.exit_code == 1
    assert "index employees.ix_employees_email (email): missing" in result.output


def test_autogenerate_never_proposes_dropping_unknown_tables(app, runner, legacy):
    assert runner.invoke(args=["db", "adopt"]).exit_code == 0
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    assert runner.invoke(args=["headway", "init"]).exit_code == 0
    execute(legacy, "CREATE TABLE payroll_export (id INT NOT NULL PRIMARY KEY)")
    execute(legacy, "ALTER TABLE salaries ADD COLUMN currency CHAR(3) NULL")
    execute(legacy, "CREATE INDEX ix_titles_title ON titles (title)")

    with app.app_context(), legacy.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": include_user_schema, "compare_type": True}
        )
        assert compare_metadata(context, db.metadata) == []
    result = runner.invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output
    # The headway tables and the unknown table are still there.
    assert {"payroll_export", "headway_users", "headway_audit"} <= table_names(legacy)


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"), reason="needs TEST_DATABASE_URL"
)
def test_verify_without_the_scratch_privilege_says_what_to_grant(database_url):
    """A login limited to its own database cannot build a revision's schema:
    verify and adopt say which grant is missing, and write nothing."""
    if not database_url.startswith("mysql"):
        pytest.skip("MySQL/MariaDB only")
    url = sa.make_url(database_url)
    user = f"hw_lim_{secrets.token_hex(3)}"
    root = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with root.connect() as conn:
        conn.execute(sa.text(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw-{user}'"))
        conn.execute(sa.text(f"GRANT ALL ON `{url.database}`.* TO '{user}'@'%'"))
    limited_url = url.set(username=user, password=f"pw-{user}")
    app = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=limited_url.render_as_string(hide_password=False),
    )
    try:
        with app.app_context():
            create_legacy(db.engine, scale=SCALE)
        runner = app.test_cli_runner()
        for args in (["db", "verify"], ["db", "adopt"]):
            result = runner.invoke(args=args)
            assert result.exit_code == 1
            assert "cannot create the scratch database" in result.output
            assert "grant this login CREATE, DROP" in result.output
            assert f"GRANT ALL ON `headway\\_scratch\\_%`.* TO '{user}'" in (
                result.output
            )
        with root.connect() as conn:
            assert "alembic_version" not in sa.inspect(conn).get_table_names()
        # Asked as the limited login: other runs on the same server may have
        # scratch databases of their own at this moment.
        limited = sa.create_engine(limited_url, poolclass=sa.pool.NullPool)
        with limited.connect() as conn:
            scratch = conn.execute(
                sa.text("SHOW DATABASES LIKE 'headway\\_scratch\\_%'")
            ).all()
        limited.dispose()
        assert scratch == []
    finally:
        with app.app_context():
            db.engine.dispose()
        with root.connect() as conn:
            conn.execute(sa.text(f"DROP USER '{user}'@'%'"))
        root.dispose()
