"""Preflight: each step's lock impact asked of the server, the data that
makes it fail, found on a real legacy database (small), with revisions
written for the test."""

import secrets
import time

import pytest
import sqlalchemy as sa

from app import create_app
from app.dbadmin.core import preflight as pf
from app.dbadmin.core.catalog import load_catalog
from app.dbadmin.core.ddl import parse_statement, split_statements, tables_touched
from app.dbadmin.core.plan import make_plan
from app.dbadmin.core.rehearsal import rehearse
from app.dbadmin.core.state import read_state
from app.extensions import db
from config import TestingConfig
from tests.helpers import migrations_chain, migrations_head, schema_dump, version_rows

# `flask` commands only: each test's app is built as the command builds it.
pytestmark = pytest.mark.cli

SCALE = 0.05  # 500 employees, ~4,700 salaries


def _legacy(app, prepare):
    """A legacy database with rows, stamped at the baseline it is (as
    adopting proves elsewhere) and upgraded to the project's head; the test
    writes its own revisions on top (`scripts`)."""
    prepare(
        app,
        (
            ("legacy", SCALE, 7),
            ("flask", "db", "stamp", "--no-verify", "0001_baseline"),
            ("flask", "db", "upgrade", migrations_head()),
        ),
    )
    return app


@pytest.fixture
def legacy_app(scripted_app, prepare):
    return _legacy(scripted_app, prepare)


@pytest.fixture
def mysql_app(database_url, request, prepare):
    """legacy_app, on MySQL/MariaDB only (skipped before anything is built)."""
    if database_url.startswith("sqlite"):
        pytest.skip("MySQL/MariaDB only")
    return _legacy(request.getfixturevalue("scripted_app"), prepare)


@pytest.fixture
def sqlite_app(database_url, request, prepare):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite only")
    return _legacy(request.getfixturevalue("scripted_app"), prepare)


def rehearsed_steps(app, target="head") -> list:
    """The pending steps' statements, as the rehearsal collects them."""
    with app.app_context():
        catalog = load_catalog()
        state = read_state(db.engine, catalog)
        plan = make_plan(db.engine, catalog, state, target, render=False)
        start = tuple(state.current)
        return rehearse(db.engine, catalog, start, plan.target, plan.direction).steps


def run_preflight(app, target="head", **kwargs) -> pf.Preflight:
    with app.app_context():
        return pf.preflight_to(db.engine, load_catalog(), target, **kwargs)[1]


def execute(app, *statements: str) -> None:
    with app.app_context(), db.engine.begin() as conn:
        for sql in statements:
            conn.execute(sa.text(sql))


def test_each_lock_class_comes_from_the_server(mysql_app, scripts):
    scripts.write(
        "0900_locks",
        migrations_head(),
        upgrade="""
        op.add_column("employees", sa.Column("nickname", sa.String(20), nullable=True))
        op.create_index("ix_titles_title", "titles", ["title"])
        op.alter_column("salaries", "salary", existing_type=sa.Integer(),
                        type_=sa.BigInteger(), existing_nullable=False)
        op.alter_column("titles", "to_date", existing_type=sa.Date(),
                        nullable=False)
        """,
    )
    before = schema_dump(_engine(mysql_app))
    result = run_preflight(mysql_app)
    [step] = result.steps
    locks = [s.lock for s in step.statements]
    assert [lock.kind for lock in locks] == [
        pf.INSTANT,
        pf.IN_PLACE_WRITES_ALLOWED,
        pf.COPY,
        pf.IN_PLACE_WRITES_ALLOWED,
    ]
    # MariaDB builds an index without a rebuild (NOCOPY), and makes a column
    # NOT NULL in place with a rebuild (INPLACE, NOCOPY refused).
    assert locks[1].algorithm == "NOCOPY"
    assert locks[3].algorithm == "INPLACE"
    # The server's refusal of an in-place type change is kept.
    assert "Cannot change column type" in locks[2].reason
    copy = step.statements[2]
    assert copy.tables == ["salaries"]
    assert copy.sizes[0].rows > 0 and copy.sizes[0].bytes > 0
    assert copy.sizes[0].estimated
    assert copy.estimate_s is not None and copy.estimate_s > 0
    assert step.statements[0].estimate_s is None  # instant: nothing to time
    assert step.verdict == "blocks_writes"
    assert [b.table for b in step.blocked_writes] == ["salaries"]
    assert not result.will_fail
    # Read-only: the live schema and stamp are as they were, and the
    # scratch databases are gone.
    assert schema_dump(_engine(mysql_app)) == before
    assert version_rows(_engine(mysql_app)) == [migrations_head()]


def _engine(app):
    with app.app_context():
        return db.engine


def test_a_sample_is_a_sixteenth_of_its_table_within_bounds():
    assert pf.sample_rows(1_000) == pf.SAMPLE_ROWS  # the whole table
    assert pf.sample_rows(2_837_883) == 2_837_883 // 16
    assert pf.sample_rows(50_000_000) == pf.SAMPLE_ROWS_MAX


def test_a_table_copied_twice_is_timed_once(mysql_app, scripts):
    """A second copy of the same table costs what the first one's timing
    on the sample found per row: the sample is not copied and timed again."""
    scripts.write(
        "0900_copies",
        migrations_head(),
        upgrade="""
        op.alter_column("salaries", "salary", existing_type=sa.Integer(),
                        type_=sa.BigInteger(), existing_nullable=False)
        op.create_check_constraint("ck_salary_positive", "salaries", "salary > 0")
        """,
    )
    sent = []

    def record(conn, cursor, statement, *args):
        sent.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    try:
        [step] = run_preflight(mysql_app).steps
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)
    first, second = step.statements
    assert first.lock.kind == second.lock.kind == pf.COPY
    assert first.estimate_s > 0 and second.estimate_s > 0
    # The first copy's rebuild, once on the sample and once on the empty copy.
    assert len([sql for sql in sent if "FORCE" in sql]) == 2
    assert len([sql for sql in sent if "INSERT INTO salaries (" in sql]) == 1


def test_the_data_that_makes_a_step_fail_is_found(mysql_app, scripts):
    execute(
        mysql_app,
        "UPDATE titles SET to_date = NULL WHERE emp_no % 5 = 0",
        "UPDATE employees SET first_name = 'Bartholomew' WHERE emp_no % 3 = 0",
    )
    scripts.write(
        "0900_data",
        migrations_head(),
        upgrade="""
        op.create_index("ix_employees_names", "employees",
                        ["first_name", "last_name"], unique=True)
        op.alter_column("titles", "to_date", existing_type=sa.Date(),
                        nullable=False)
        op.alter_column("employees", "first_name", existing_type=sa.String(14),
                        type_=sa.String(6), existing_nullable=False)
        op.add_column("employees", sa.Column("badge", sa.String(20), nullable=False))
        op.create_foreign_key("fk_titles_manager", "titles", "dept_manager",
                              ["emp_no"], ["emp_no"])
        op.create_check_constraint("ck_recent_salary", "salaries",
                                   "from_date >= '1990-01-01'")
        op.alter_column("employees", "gender",
                        existing_type=sa.Enum("M", "F"), type_=sa.Enum("M"),
                        existing_nullable=False)
        """,
    )
    result = run_preflight(mysql_app)
    [step] = result.steps
    found = {f.kind: f for f in step.findings}
    with mysql_app.app_context(), db.engine.connect() as conn:

        def scalar(sql):
            return conn.exec_driver_sql(sql).scalar()

        duplicate_groups = scalar(
            "SELECT COUNT(*) FROM (SELECT 1 FROM employees "
            "GROUP BY first_name, last_name HAVING COUNT(*) > 1) d"
        )
        null_dates = scalar("SELECT COUNT(*) FROM titles WHERE to_date IS NULL")
        too_long = scalar(
            "SELECT COUNT(*) FROM employees WHERE CHAR_LENGTH(first_name) > 6"
        )
        orphans = scalar(
            "SELECT COUNT(*) FROM titles t WHERE NOT EXISTS "
            "(SELECT 1 FROM dept_manager m WHERE m.emp_no = t.emp_no)"
        )
        old_salaries = scalar(
            "SELECT COUNT(*) FROM salaries WHERE from_date < '1990-01-01'"
        )
        women = scalar("SELECT COUNT(*) FROM employees WHERE gender = 'F'")
    assert min(duplicate_groups, null_dates, too_long, orphans, old_salaries) > 0

    duplicates = found["duplicates"]
    assert duplicates.severity == pf.FAILS
    assert (duplicates.table, duplicates.columns) == (
        "employees",
        ("first_name", "last_name"),
    )
    assert duplicates.count == duplicate_groups
    assert 1 <= len(duplicates.examples) <= 5
    first, last, rows = duplicates.examples[0]
    with mysql_app.app_context(), db.engine.connect() as conn:
        assert (
            conn.execute(
                sa.text(
                    "SELECT COUNT(*) FROM employees WHERE first_name = :f "
                    "AND last_name = :l"
                ),
                {"f": first, "l": last},
            ).scalar()
            == rows
            > 1
        )
    assert (found["nulls"].count, found["nulls"].table) == (null_dates, "titles")
    assert found["nulls"].severity == pf.FAILS
    assert found["too_long"].count == too_long
    assert found["too_long"].target == "VARCHAR(6)"
    assert all(len(e[0]) > 6 for e in found["too_long"].examples)
    assert found["orphans"].count == orphans
    assert found["orphans"].target == "dept_manager(emp_no)"
    assert found["check_violations"].count == old_salaries
    assert found["enum_values"].count == women
    zero = found["zero_filled"]
    assert (zero.severity, zero.columns, zero.target) == (pf.WARNING, ("badge",), "''")
    assert zero.count > 0 and zero.estimated
    assert step.verdict == "fails" and result.will_fail


def test_a_check_cut_off_by_the_time_limit_says_not_checked(mysql_app, scripts):
    """A check that cannot finish in time (here: another session holds the
    table locked) is reported as not checked, never as safe."""
    scripts.write(
        "0900_nn",
        migrations_head(),
        upgrade="""
        op.alter_column("titles", "to_date", existing_type=sa.Date(),
                        nullable=False)
        """,
    )
    steps = rehearsed_steps(mysql_app)
    engine = _engine(mysql_app)
    holder = engine.connect()
    holder.exec_driver_sql("LOCK TABLES titles WRITE")
    try:
        started = time.monotonic()
        with mysql_app.app_context():
            result = pf.preflight(db.engine, steps, time_limit_s=1)
        elapsed = time.monotonic() - started
    finally:
        holder.exec_driver_sql("UNLOCK TABLES")
        holder.close()
    [step] = result.steps
    [finding] = step.findings
    assert (finding.kind, finding.severity) == ("nulls", pf.NOT_CHECKED)
    assert "cut off after 1" in finding.detail
    assert step.verdict == "unknown"
    assert not result.will_fail
    assert elapsed < 15


def test_a_column_added_twice_fails_on_the_schema(mysql_app, scripts):
    """The scratch copy tells a statement the schema itself refuses (a
    column that a half-applied step already added)."""
    execute(mysql_app, "ALTER TABLE employees ADD COLUMN badge VARCHAR(20) NULL")
    scripts.write(
        "0900_badge",
        migrations_head(),
        upgrade="""
        op.add_column("employees", sa.Column("badge", sa.String(20), nullable=True))
        """,
    )
    [step] = run_preflight(mysql_app).steps
    [finding] = step.failures
    assert finding.kind == "schema_error"
    assert "Duplicate column name 'badge'" in finding.detail


def test_a_table_that_does_not_exist_fails_on_the_schema(mysql_app, scripts):
    """Altering a table that neither exists nor is made by an earlier
    statement: a finding in the table's own name, not an error from the
    scratch database preflight works in."""
    scripts.write(
        "0900_no_table",
        migrations_head(),
        upgrade="""
        op.create_table("made_here", sa.Column("id", sa.Integer, primary_key=True))
        op.add_column("made_here", sa.Column("x", sa.Integer))
        op.add_column("no_such_table", sa.Column("x", sa.Integer))
        """,
    )
    [step] = run_preflight(mysql_app).steps
    [finding] = step.failures
    assert (finding.kind, finding.table) == ("schema_error", "no_such_table")
    assert finding.detail == "there is no table no_such_table"
    # The table made by the plan is altered in the scratch copy as usual.
    assert step.statements[1].lock.kind != pf.UNKNOWN


def test_the_transactions_an_alter_would_wait_for_are_listed(mysql_app, scripts):
    scripts.write(
        "0900_col",
        migrations_head(),
        upgrade="""
        op.add_column("employees", sa.Column("nickname", sa.String(20)))
        """,
    )
    engine = _engine(mysql_app)
    with engine.connect() as holder:
        holder.exec_driver_sql("SELECT COUNT(*) FROM employees").scalar()
        holder_id = holder.exec_driver_sql("SELECT CONNECTION_ID()").scalar()
        time.sleep(2.1)
        result = run_preflight(mysql_app, blocker_after_s=1)
        holder.rollback()
    [blocker] = [b for b in result.blockers if b.connection_id == holder_id]
    assert blocker.seconds >= 1
    assert blocker.database == engine.url.database
    performance_schema = engine.connect().exec_driver_sql("SELECT @@performance_schema")
    if not performance_schema.scalar():
        assert blocker.tables is None
        assert "performance_schema is off" in result.blockers_unnamed_reason


def test_without_the_scratch_grant_the_lock_impact_is_unknown(mysql_app, scripts):
    """A login that may not create scratch databases still gets the data
    checks; the lock impact is unknown, and the step is not refused."""
    scripts.write(
        "0900_idx",
        migrations_head(),
        upgrade="""
        op.create_index("ix_employees_names", "employees",
                        ["first_name", "last_name"], unique=True)
        """,
    )
    url = sa.make_url(mysql_app.config["SQLALCHEMY_DATABASE_URI"])
    user = f"hw_pf_{secrets.token_hex(3)}"
    root = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with root.connect() as conn:
        conn.execute(sa.text(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw-{user}'"))
        conn.execute(sa.text(f"GRANT ALL ON `{url.database}`.* TO '{user}'@'%'"))
    limited = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=url.set(
            username=user, password=f"pw-{user}"
        ).render_as_string(hide_password=False),
        MIGRATIONS_DIR=mysql_app.config["MIGRATIONS_DIR"],
    )
    try:
        result = run_preflight(limited)
    finally:
        with limited.app_context():
            db.engine.dispose()
        with root.connect() as conn:
            conn.execute(sa.text(f"DROP USER '{user}'@'%'"))
        root.dispose()
    assert "cannot create the scratch database" in result.lock_unknown_reason
    [step] = result.steps
    assert [s.lock.kind for s in step.statements] == [pf.UNKNOWN]
    assert [f.kind for f in step.failures] == ["duplicates"]


def test_sqlite_duplicates_and_a_batch_rebuild(sqlite_app, scripts):
    """On SQLite: the same read-only checks; adding a column is instant, a
    batch rebuild is a copy."""
    scripts.write(
        "0900_sqlite",
        migrations_head(),
        upgrade="""
        op.add_column("employees", sa.Column("nickname", sa.String(20)))
        op.create_index("ix_employees_names", "employees",
                        ["first_name", "last_name"], unique=True)
        with op.batch_alter_table("titles") as batch:
            batch.alter_column("to_date", existing_type=sa.Date(), nullable=False)
        """,
    )
    execute(sqlite_app, "UPDATE titles SET to_date = NULL WHERE emp_no % 5 = 0")
    result = run_preflight(sqlite_app)
    [step] = result.steps
    kinds = [s.lock.kind for s in step.statements]
    assert kinds[:2] == [pf.INSTANT, pf.IN_PLACE_WRITES_BLOCKED]
    assert pf.COPY in kinds[2:]
    duplicates = next(f for f in step.findings if f.kind == "duplicates")
    assert duplicates.count > 0 and duplicates.severity == pf.FAILS
    # The rebuild's new definition (from the rehearsal) makes to_date NOT
    # NULL: the rows holding NULL are counted.
    nulls = next(f for f in step.findings if f.kind == "nulls")
    with sqlite_app.app_context(), db.engine.connect() as conn:
        expected = conn.exec_driver_sql(
            "SELECT COUNT(*) FROM titles WHERE to_date IS NULL"
        ).scalar()
    assert (nulls.table, nulls.count, nulls.severity) == ("titles", expected, pf.FAILS)
    assert expected > 0
    assert result.will_fail


def test_a_check_cut_off_on_sqlite(sqlite_app, scripts):
    scripts.write(
        "0900_uq",
        migrations_head(),
        upgrade="""
        op.create_index("ix_salaries_salary", "salaries", ["salary", "to_date"],
                        unique=True)
        """,
    )
    result = run_preflight(sqlite_app, time_limit_s=0.000001)
    [finding] = result.steps[0].findings
    assert (finding.kind, finding.severity) == ("duplicates", pf.NOT_CHECKED)
    assert "cut off" in finding.detail
    # Building an index holds SQLite's one write lock: that is the headline,
    # and the check cut off is listed, never counted as safe.
    assert result.steps[0].verdict == "blocks_writes"
    assert result.steps[0].unknowns == [finding]


def test_flask_db_preflight_prints_a_table_and_exits_1(legacy_app, scripts):
    scripts.write(
        "0900_names",
        migrations_head(),
        upgrade="""
        op.create_index("ix_employees_names", "employees",
                        ["first_name", "last_name"], unique=True)
        """,
    )
    runner = legacy_app.test_cli_runner()
    result = runner.invoke(args=["db", "preflight"])
    assert result.exit_code == 1, result.output
    assert "0900_names (upgrade): WILL FAIL" in result.output
    assert "CREATE UNIQUE INDEX ix_employees_names" in result.output
    assert "groups of duplicate values in employees(first_name, last_name)" in (
        result.output
    )
    # Nothing pending: nothing to say, exit 0.
    result = runner.invoke(args=["db", "preflight", migrations_head()])
    assert result.exit_code == 0, result.output
    assert "nothing to run" in result.output


def test_a_safe_step_exits_0(legacy_app, scripts):
    scripts.write(
        "0900_nick",
        migrations_head(),
        upgrade="""
        op.add_column("employees", sa.Column("nickname", sa.String(20)))
        """,
    )
    result = legacy_app.test_cli_runner().invoke(args=["db", "preflight"])
    assert result.exit_code == 0, result.output
    assert "0900_nick (upgrade): safe" in result.output
    assert "instant" in result.output


# --- Reading the statements ------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "kind", "table", "actions"),
    [
        ("ALTER TABLE `t` ADD COLUMN a INT NOT NULL", "alter", "t", ["add_column"]),
        (
            "ALTER TABLE t MODIFY a BIGINT, CHANGE b c VARCHAR(3) NULL",
            "alter",
            "t",
            ["modify_column", "modify_column"],
        ),
        ("CREATE UNIQUE INDEX ix ON t (a, b(10))", "alter", "t", ["add_unique"]),
        (
            "ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES p (id), "
            "ADD CHECK (a > 0 AND b <> 'x,y')",
            "alter",
            "t",
            ["add_foreign_key", "add_check"],
        ),
        ("ALTER TABLE t PARTITION BY HASH(a)", "alter", "t", ["unknown"]),
        ("INSERT INTO _alembic_tmp_t (a) SELECT t.a FROM t", "batch_copy", "t", []),
        ("UPDATE t SET a = 1", "dml", "t", []),
        ("FROBNICATE t", "unknown", None, []),
    ],
)
def test_statements_are_read(sql, kind, table, actions):
    parsed = parse_statement(sql)
    assert (parsed.kind, parsed.table) == (kind, table)
    assert [a.kind for a in parsed.actions] == actions


def test_a_check_expression_and_key_prefixes_are_kept():
    [fk, check] = parse_statement(
        "ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES p (id), "
        "ADD CHECK (a > 0 AND b <> 'x,y')"
    ).actions
    assert (fk.references, fk.columns, fk.referenced_columns) == ("p", ("a",), ("id",))
    assert check.expression == "a > 0 AND b <> 'x,y'"
    [unique] = parse_statement("CREATE UNIQUE INDEX ix ON t (a, b(10))").actions
    assert (unique.columns, unique.prefixes) == (("a", "b"), (None, 10))
    assert split_statements("A 'x;y';\n-- c;\nB;") == ["A 'x;y'", "-- c;\nB"]


@pytest.mark.parametrize(
    "sql, tables",
    [
        ("DROP TABLE IF EXISTS a, `b` CASCADE", ["a", "b"]),
        ("DROP TABLE a, , b", ["a", "b"]),
        ("DROP TABLE ,", []),
        ("RENAME TABLE a TO b, c TO d", ["a", "b", "c", "d"]),
    ],
)
def test_the_tables_a_statement_touches_even_when_malformed(sql, tables):
    assert tables_touched(sql) == tables


def test_a_downgrade_dropping_an_index(mysql_app, scripts):
    """MariaDB's DROP INDEX … ON takes no ALGORITHM: its ALTER TABLE form is
    what the server is asked."""
    scripts.write(
        "0900_ix",
        migrations_head(),
        upgrade='op.create_index("ix_titles_title", "titles", ["title"])',
        downgrade='op.drop_index("ix_titles_title", table_name="titles")',
    )
    result = mysql_app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    [step] = run_preflight(mysql_app, migrations_head()).steps
    assert (step.revision, step.direction) == ("0900_ix", "downgrade")
    [statement] = step.statements
    assert statement.sql.strip().startswith("DROP INDEX")
    assert statement.lock.kind == pf.IN_PLACE_WRITES_ALLOWED
    assert step.verdict == "safe"


def test_preflight_takes_a_relative_target(scripted_app, scripts):
    """`flask db preflight +N` and `-N` check what `flask db upgrade +N` and
    `downgrade -N` would run from where the database stands; a count that
    cannot be made (past the first revision, or through a merge) is one
    line."""
    chain = [*migrations_chain(), "0900_a", "0900_b", "0901_join"]
    scripts.write("0900_a", chain[-4])
    scripts.write("0900_b", chain[-4])
    scripts.write("0901_join", ["0900_a", "0900_b"])
    runner = scripted_app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade", chain[1]]).exit_code == 0
    for target, expected in (
        ("+1", f"upgrade to {chain[2]}: 1 step"),
        ("+2", f"upgrade to {chain[3]}: 2 steps"),
        ("-1", f"downgrade to {chain[0]}: 1 step"),
        ("-2", "downgrade to base: 2 steps"),
    ):
        result = runner.invoke(args=["db", "preflight", target])
        assert result.exit_code == 0, result.output
        assert expected in result.output, (target, result.output)
    result = runner.invoke(args=["db", "preflight", "-9"])
    assert result.exit_code == 1
    assert f"cannot move -9 from {chain[1]}" in result.output
    assert runner.invoke(args=["db", "upgrade", "heads"]).exit_code == 0
    result = runner.invoke(args=["db", "preflight", "-1"])
    assert result.exit_code == 1
    assert "cannot move -1 from 0901_join: Ambiguous walk" in result.output
