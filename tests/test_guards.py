"""The brownfield traps, guarded (app/dbadmin/core/guards.py, migrations/env.py):
an upgrade of an unversioned database that already has tables, a blind stamp,
a step that drops data. On the legacy schema loaded from plain DDL, on every
dialect under test: each refusal says what to do, and leaves the schema and
the data byte-identical, without a version table or row; each opt-in really
does the thing."""

import secrets

import pytest
import sqlalchemy as sa

from app import create_app
from app.dbadmin.core import guards
from app.demo.legacy import LEGACY_TABLES
from app.extensions import db
from config import TestingConfig
from tests.helpers import (
    MYSQL_URL,
    data_fingerprint,
    execute,
    invoke,
    migrations_chain,
    migrations_head,
    run_flask,
    schema_dump,
    table_names,
    version_rows,
)

# `flask` commands only: each test's app is built as the command builds it.
pytestmark = pytest.mark.cli

SCALE = 0.005  # 50 employees, ~475 salaries: every table has rows
HEAD = migrations_head()
EMAIL = "0002_employee_email"  # adds employees.email, which its downgrade drops
ADOPT_POINTER = "`flask db adopt --dry-run`"


@pytest.fixture
def app(scripted_app):
    """Every test here on its own copy of migrations/ (`scripts`): a run the
    guards failed to stop could write a revision file or add one."""
    return scripted_app


def snapshot(engine) -> tuple:
    """Everything a refusal must leave as it was: the schema as the server
    writes it back, every row, and the version table (None: there is none)."""
    return schema_dump(engine), data_fingerprint(engine), version_rows(engine)


# --- 1. An unversioned database that already has tables ----------------------


@pytest.mark.parametrize(
    "args",
    [
        ["db", "upgrade"],
        ["db", "upgrade", "0001_baseline"],
        ["db", "upgrade", "heads"],
        ["db", "migrate", "-m", "x"],
        ["db", "check"],
    ],
)
def test_an_unversioned_database_with_tables_is_never_upgraded(
    runner, legacy, scripts, args
):
    before = snapshot(legacy)
    revision_files = sorted(p.name for p in scripts.versions.glob("*.py"))
    result = invoke(runner, *args)
    assert result.exit_code == 1, result.output
    assert "the database is unversioned but already has employees, departments" in (
        result.output
    )
    assert ADOPT_POINTER in result.output and "`flask db adopt`" in result.output
    assert snapshot(legacy) == before
    assert version_rows(legacy) is None  # not even an empty alembic_version
    # migrate wrote no revision file.
    assert sorted(p.name for p in scripts.versions.glob("*.py")) == revision_files


@pytest.mark.live
def test_the_refusal_is_one_line_without_traceback(database_url, app, legacy):
    result = run_flask("db", "upgrade", database_url=database_url)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    [line] = [line for line in result.stderr.splitlines() if "Error" in line]
    assert line.startswith("Error: the database is unversioned but already has ")
    assert "employees, departments, dept_manager, …" in line
    assert ADOPT_POINTER in line
    assert "alembic_version" not in table_names(legacy)


def test_a_new_empty_database_still_upgrades_from_base(runner, engine):
    # Headway's own tables first (as the README says): still "empty".
    assert invoke(runner, "headway", "init").exit_code == 0
    result = invoke(runner, "db", "upgrade")
    assert result.exit_code == 0, result.output
    assert version_rows(engine) == [HEAD]
    assert set(LEGACY_TABLES) <= table_names(engine)


def test_an_unversioned_database_with_other_tables_upgrades(runner, engine):
    """Tables the first revision does not create are not a reason to refuse."""
    execute(engine, "CREATE TABLE payroll_export (id INT NOT NULL PRIMARY KEY)")
    result = invoke(runner, "db", "upgrade")
    assert result.exit_code == 0, result.output
    assert version_rows(engine) == [HEAD]


def test_upgrade_adopt_on_a_legacy_database(app, runner, legacy):
    assert invoke(runner, "headway", "init").exit_code == 0
    data = data_fingerprint(legacy)
    result = invoke(runner, "db", "upgrade", "--adopt")
    assert result.exit_code == 0, result.output
    assert "adopted at 0001_baseline" in result.output
    assert version_rows(legacy) == [HEAD]
    assert data_fingerprint(legacy) == data
    with legacy.connect() as conn:
        audit = conn.exec_driver_sql(
            "SELECT action, revision FROM headway_audit ORDER BY id"
        ).all()
    base, *later = migrations_chain()
    assert audit == [("adopt", base)] + [("upgrade", rev) for rev in later]
    # Run again (a deploy script does, every time): nothing to adopt or do.
    result = invoke(runner, "db", "upgrade", "--adopt")
    assert result.exit_code == 0, result.output
    assert "adopted" not in result.output
    assert version_rows(legacy) == [HEAD]


def test_upgrade_adopt_on_a_new_database(runner, engine):
    result = invoke(runner, "db", "upgrade", "--adopt")
    assert result.exit_code == 0, result.output
    assert "adopted" not in result.output
    assert version_rows(engine) == [HEAD]


def test_upgrade_adopt_stops_when_no_revision_matches(runner, legacy):
    execute(legacy, "ALTER TABLE titles ADD COLUMN note VARCHAR(10)")
    before = snapshot(legacy)
    result = invoke(runner, "db", "upgrade", "--adopt")
    assert result.exit_code == 1
    assert "no revision matches; nothing was written" in result.output
    assert "column titles.note: not in the expected schema" in result.output
    assert snapshot(legacy) == before
    assert version_rows(legacy) is None


# --- 2. A verified stamp -------------------------------------------------------


def test_a_blind_stamp_is_refused_and_names_the_matching_revision(runner, legacy):
    before = snapshot(legacy)
    for target in ("head", HEAD, "heads"):
        result = invoke(runner, "db", "stamp", target)
        assert result.exit_code == 1, result.output
        assert f"refusing to stamp {HEAD}" in result.output
        assert "nothing was written" in result.output
        assert "  - column employees.email: missing" in result.output
        assert "The database matches 0001_baseline: run `flask db adopt`." in (
            result.output
        )
        assert f"`flask db stamp --no-verify {HEAD}`" in result.output
        assert snapshot(legacy) == before
        assert version_rows(legacy) is None


def test_a_stamp_that_matches_is_verified(runner, legacy):
    data = data_fingerprint(legacy)
    result = invoke(runner, "db", "stamp", "0001_baseline")
    assert result.exit_code == 0, result.output
    assert "verified: the live schema is 0001_baseline's" in result.output
    assert version_rows(legacy) == ["0001_baseline"]
    assert data_fingerprint(legacy) == data

    # Stamping it elsewhere: refused; the stamp it has is the right one.
    result = invoke(runner, "db", "stamp", "head")
    assert result.exit_code == 1
    assert (
        "The database matches 0001_baseline, the revision it is stamped with."
        in result.output
    )
    assert version_rows(legacy) == ["0001_baseline"]

    # At head for real, `stamp head` keeps working, and says it was verified.
    assert invoke(runner, "db", "upgrade").exit_code == 0
    result = invoke(runner, "db", "stamp", "head")
    assert result.exit_code == 0, result.output
    assert f"verified: the live schema is {HEAD}'s" in result.output
    assert version_rows(legacy) == [HEAD]
    # Back to a revision it is not at: the stamp it has is the right one.
    result = invoke(runner, "db", "stamp", "0001_baseline")
    assert result.exit_code == 1
    assert f"The database matches {HEAD}, the revision it is stamped with." in (
        result.output
    )
    assert version_rows(legacy) == [HEAD]


def test_no_verify_stamps_anyway_and_the_audit_says_unverified(runner, legacy):
    assert invoke(runner, "headway", "init").exit_code == 0
    result = invoke(runner, "db", "stamp", "--no-verify", "head")
    assert result.exit_code == 0, result.output
    assert f"stamping {HEAD} without verifying the schema" in result.output
    assert version_rows(legacy) == [HEAD]
    with legacy.connect() as conn:
        audit = conn.exec_driver_sql(
            "SELECT action, revision FROM headway_audit ORDER BY id"
        ).all()
    assert audit == [("stamp-unverified", HEAD)]

    # A wrong stamp is named with the way out.
    result = invoke(runner, "db", "stamp", "heads")
    assert result.exit_code == 1
    assert (
        "The database matches 0001_baseline: run `flask db stamp --purge "
        "0001_baseline`, or `flask db stamp --purge base` then `flask db adopt`."
        in result.output
    )
    # The way back from a wrong stamp: purge it (no proof needed), adopt.
    result = invoke(runner, "db", "verify")
    assert result.exit_code == 1
    assert "`flask db stamp --purge base`, then `flask db adopt`" in result.output
    result = invoke(runner, "db", "stamp", "--purge", "base")
    assert result.exit_code == 0, result.output
    assert version_rows(legacy) == []
    result = invoke(runner, "db", "adopt")
    assert result.exit_code == 0, result.output
    assert "adopted at 0001_baseline" in result.output


def test_stamp_base_and_sql_need_no_proof(runner, legacy):
    assert invoke(runner, "db", "stamp", "0001_baseline").exit_code == 0
    before = snapshot(legacy)
    result = invoke(runner, "db", "stamp", "--sql", HEAD)
    assert result.exit_code == 0, result.output
    assert "INSERT INTO alembic_version" in result.output
    assert snapshot(legacy) == before
    result = invoke(runner, "db", "stamp", "base")
    assert result.exit_code == 0, result.output
    assert version_rows(legacy) == []


def test_an_unknown_stamped_revision_names_how_to_restamp(runner, legacy):
    assert invoke(runner, "db", "stamp", "0001_baseline").exit_code == 0
    execute(legacy, "UPDATE alembic_version SET version_num = 'f00dfeed'")
    before = snapshot(legacy)
    for args in (["db", "upgrade"], ["db", "verify"], ["db", "stamp", "head"]):
        result = invoke(runner, *args)
        assert result.exit_code == 1, args
        assert "stamped with f00dfeed, which the scripts do not have" in (
            result.output
        ), args
        assert "`flask db stamp --purge base` then `flask db adopt`" in (result.output)
        assert snapshot(legacy) == before
    # Restamping with --purge is checked like any stamp.
    result = invoke(runner, "db", "stamp", "--purge", HEAD)
    assert result.exit_code == 1
    assert f"refusing to stamp {HEAD}" in result.output
    result = invoke(runner, "db", "stamp", "--purge", "0001_baseline")
    assert result.exit_code == 0, result.output
    assert version_rows(legacy) == ["0001_baseline"]


def test_verify_and_adopt_name_the_next_command(runner, legacy):
    result = invoke(runner, "db", "verify")
    assert result.exit_code == 1
    assert "the database is unversioned" in result.output
    assert ADOPT_POINTER in result.output
    assert invoke(runner, "db", "adopt").exit_code == 0
    result = invoke(runner, "db", "adopt")
    assert result.exit_code == 1
    assert "`flask db verify`" in result.output
    assert "`flask db stamp --purge base`, then run `flask db adopt`" in result.output


# --- 3. No silent data loss ----------------------------------------------------


@pytest.fixture
def adopted(runner, legacy):
    """The legacy database adopted and upgraded to head."""
    for args in (["db", "adopt"], ["db", "upgrade"]):
        result = invoke(runner, *args)
        assert result.exit_code == 0, result.output
    return legacy


def test_downgrade_base_after_adoption_is_refused_with_counts(runner, adopted):
    before = snapshot(adopted)
    rows = {table: count for table, (count, _) in data_fingerprint(adopted).items()}
    result = invoke(runner, "db", "downgrade", "base")
    assert result.exit_code == 1, result.output
    assert "refusing to downgrade: it would drop data; nothing was run." in (
        result.output
    )
    for table in LEGACY_TABLES:
        assert (
            f"  - table {table}: {rows[table]:,} rows (dropped by 0001_baseline)"
            in result.output
        )
    assert "To drop them anyway: --allow-data-loss" in result.output
    assert snapshot(adopted) == before


def test_one_value_in_a_dropped_column_is_enough_to_refuse(runner, adopted):
    execute(
        adopted,
        "UPDATE employees SET email = 'a@example.com' WHERE emp_no = "
        "(SELECT MIN(emp_no) FROM salaries)",
    )
    before = snapshot(adopted)
    result = invoke(runner, "db", "downgrade", "0001_baseline")
    assert result.exit_code == 1, result.output
    assert f"  - column employees.email: 1 non-NULL value (dropped by {EMAIL})" in (
        result.output
    )
    assert snapshot(adopted) == before


def test_a_column_of_nulls_drops_freely_and_gives_back_the_legacy_schema(
    runner, legacy
):
    legacy_schema = schema_dump(legacy)
    data = data_fingerprint(legacy)
    for args in (["db", "adopt"], ["db", "upgrade"]):
        assert invoke(runner, *args).exit_code == 0
    # `-- -1` as the README says (click would read a bare -1 as an option).
    while version_rows(legacy) != [EMAIL]:
        result = invoke(runner, "db", "downgrade", "--", "-1")
        assert result.exit_code == 0, result.output
    result = invoke(runner, "db", "downgrade", "--", "-1")
    assert result.exit_code == 0, result.output
    # The lint of the step it runs, as the console shows it.
    assert f"lint {EMAIL}: drops column employees.email and its data" in (result.output)
    assert version_rows(legacy) == ["0001_baseline"]
    assert schema_dump(legacy) == legacy_schema  # byte for byte
    assert data_fingerprint(legacy) == data


def test_allow_data_loss_really_drops(runner, adopted):
    execute(adopted, "UPDATE employees SET email = 'a@example.com'")
    result = invoke(runner, "db", "downgrade", "--allow-data-loss", "0001_baseline")
    assert result.exit_code == 0, result.output
    assert "dropping data, as allowed: column employees.email" in result.output
    result = invoke(runner, "db", "downgrade", "--allow-data-loss", "base")
    assert result.exit_code == 0, result.output
    assert not set(LEGACY_TABLES) & table_names(adopted)
    assert version_rows(adopted) == []


DROPS = {
    "op": ('op.drop_table("salaries")', None),
    "sql": ('op.execute("DROP TABLE salaries")', None),
    "batch": (
        'with op.batch_alter_table("titles") as batch_op:\n'
        '    batch_op.drop_column("to_date")',
        "titles.to_date",
    ),
}


@pytest.mark.parametrize("how", DROPS)
def test_an_upgrade_that_drops_data_is_refused(runner, legacy, scripts, how):
    code, column = DROPS[how]
    assert invoke(runner, "db", "upgrade", "--adopt").exit_code == 0
    scripts.write("9001_drop", HEAD, code)
    before = snapshot(legacy)
    result = invoke(runner, "db", "upgrade")
    assert result.exit_code == 1, result.output
    what = f"column {column}" if column else "table salaries"
    assert f"  - {what}: " in result.output
    assert "(dropped by 9001_drop)" in result.output
    assert snapshot(legacy) == before

    result = invoke(runner, "db", "upgrade", "--allow-data-loss")
    assert result.exit_code == 0, result.output
    assert version_rows(legacy) == ["9001_drop"]
    if column:
        names = [c["name"] for c in sa.inspect(legacy).get_columns("titles")]
        assert "to_date" not in names
    else:
        assert "salaries" not in table_names(legacy)


def test_big_tables_are_counted_from_the_statistics(runner, adopted, monkeypatch):
    if adopted.dialect.name != "mysql":
        pytest.skip("SQLite keeps no row statistics")
    execute(adopted, "ANALYZE TABLE salaries")
    monkeypatch.setattr(guards, "EXACT_COUNT_LIMIT", 10)
    result = invoke(runner, "db", "downgrade", "base")
    assert result.exit_code == 1
    assert "  - table salaries: ~" in result.output
    assert "  - table departments: 9 rows" in result.output  # under the limit


@pytest.mark.skipif(not MYSQL_URL, reason="needs TEST_DATABASE_URL")
def test_without_the_scratch_grant_a_stamp_at_head_is_compared_with_the_models(
    database_url, runner, adopted
):
    """A login limited to its own database cannot build a revision's schema:
    a stamp at a head is proven against the models instead; any other target
    is refused, naming the grant and --no-verify."""
    if adopted.dialect.name != "mysql":
        pytest.skip("MySQL/MariaDB only")
    url = sa.make_url(database_url)
    user = f"hw_lim_{secrets.token_hex(3)}"
    with adopted.connect() as conn:
        conn.execute(sa.text(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw-{user}'"))
        conn.execute(sa.text(f"GRANT ALL ON `{url.database}`.* TO '{user}'@'%'"))
    limited = url.set(username=user, password=f"pw-{user}")
    app = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=limited.render_as_string(hide_password=False),
    )
    # The test's own app context (of the root login) is current: the limited
    # app's goes on top, or the CLI runner would run in the root's.
    context = app.app_context()
    context.push()
    try:
        limited_runner = app.test_cli_runner()
        result = invoke(limited_runner, "db", "stamp", "head")
        assert result.exit_code == 0, result.output
        assert "compared with the models" in result.output
        assert version_rows(adopted) == [HEAD]

        before = snapshot(adopted)
        result = invoke(limited_runner, "db", "stamp", "0001_baseline")
        assert result.exit_code == 1
        assert "cannot create the scratch database" in result.output
        assert "GRANT ALL ON `headway\\_scratch\\_%`" in result.output
        assert "`flask db stamp --no-verify 0001_baseline`" in result.output
        assert snapshot(adopted) == before

        # The models differ from the schema: a stamp at head is refused too.
        execute(adopted, "ALTER TABLE employees DROP COLUMN email")
        result = invoke(limited_runner, "db", "stamp", "head")
        assert result.exit_code == 1
        assert "differs from the models" in result.output
        assert "employees.email" in result.output
    finally:
        db.engine.dispose()
        context.pop()
        with adopted.connect() as conn:
            conn.execute(sa.text(f"DROP USER '{user}'@'%'"))


RAW_SQL = {
    "truncate": (
        'op.execute("TRUNCATE TABLE salaries")',
        "table salaries: {salaries} rows (TRUNCATE empties it) (by 9001_raw)",
    ),
    "delete": (
        'op.get_bind().execute(sa.text("DELETE FROM titles"))',
        "table titles: {titles} rows (DELETE without WHERE empties it) (by 9001_raw)",
    ),
    "update": (
        'op.get_bind().execute(sa.text("UPDATE salaries SET salary = 0"))',
        "table salaries: {salaries} rows (UPDATE without WHERE overwrites every "
        "row) (by 9001_raw)",
    ),
    "alter": (
        'op.get_bind().exec_driver_sql("ALTER TABLE titles DROP COLUMN to_date")',
        "column titles.to_date: {titles} non-NULL values (dropped by 9001_raw)",
    ),
}


@pytest.mark.parametrize("how", RAW_SQL)
def test_raw_sql_that_removes_data_is_refused_with_counts(runner, legacy, scripts, how):
    """TRUNCATE, DELETE or UPDATE without WHERE, a raw DROP COLUMN: through
    op.execute, sa.text or op.get_bind(), seen by the rehearsal, counted,
    refused before the step's first statement; --allow-data-loss runs it."""
    code, line = RAW_SQL[how]
    assert invoke(runner, "db", "upgrade", "--adopt").exit_code == 0
    scripts.write("9001_raw", HEAD, code)
    rows = {table: count for table, (count, _) in data_fingerprint(legacy).items()}
    before = snapshot(legacy)
    # (SQLite has no TRUNCATE: preflight would refuse the step first.)
    sqlite_truncate = how == "truncate" and legacy.dialect.name == "sqlite"
    skip = ("--no-preflight",) if sqlite_truncate else ()
    result = invoke(runner, "db", "upgrade", *skip)
    assert result.exit_code == 1, result.output
    assert "refusing to upgrade: it would drop data; nothing was run." in result.output
    assert f"  - {line.format(**rows)}" in result.output
    assert snapshot(legacy) == before
    if sqlite_truncate:
        return  # SQLite has no TRUNCATE: refused all the same, it cannot run
    result = invoke(runner, "db", "upgrade", "--allow-data-loss")
    assert result.exit_code == 0, result.output
    assert version_rows(legacy) == ["9001_raw"]
