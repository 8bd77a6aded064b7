"""What `flask db verify` compares beyond tables and columns (views, CHECK
constraints, triggers, comments, each table's engine and collation), and what
autogenerate says about what it does not do (server defaults, what only the
database has). Every database is the legacy one, made from plain DDL."""

import warnings

import pytest
import sqlalchemy as sa

from app.dbadmin.core.drift import model_differences
from app.dbadmin.core.schema import normalise_sql
from app.demo.legacy import LEGACY_DDL
from app.extensions import db
from app.models.employee import Employee
from tests.helpers import (
    REPORTED_LEGACY_DDL,
    data_fingerprint,
    migrations_head,
    table_names,
    user_schema,
)
from tests.templates import LEGACY

# `flask` commands only: each test's app is built as the command builds it.
pytestmark = pytest.mark.cli

HEAD = migrations_head()

SCALE = 0.005  # 50 employees: every table has rows


@pytest.fixture
def scripted_legacy(scripted_app, prepare):
    """The legacy database, adopted, on a copy of migrations/ that the test
    writes revisions into."""
    prepare(scripted_app, (*LEGACY, ("flask", "db", "adopt")))
    with scripted_app.app_context():
        yield db.engine


def _execute(engine: sa.Engine, *statements: str) -> None:
    with engine.connect() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
        conn.commit()


def _mysql(engine: sa.Engine) -> bool:
    return engine.dialect.name == "mysql"


def schema_text(engine: sa.Engine) -> list:
    """The schema as the server itself prints it, every object: equal lists
    mean a byte-identical schema."""
    with engine.connect() as conn:
        if not _mysql(engine):
            return conn.exec_driver_sql(
                "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"
            ).all()
        out = []
        for name, kind in conn.exec_driver_sql("SHOW FULL TABLES").all():
            show = "VIEW" if kind == "VIEW" else "TABLE"
            out.append(conn.exec_driver_sql(f"SHOW CREATE {show} `{name}`").one())
        for (name,) in conn.exec_driver_sql(
            "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS "
            "WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY TRIGGER_NAME"
        ).all():
            row = conn.exec_driver_sql(f"SHOW CREATE TRIGGER `{name}`").one()
            out.append(row[:3])  # name, sql mode, statement (not the timestamp)
        return out


def assert_verify_reports(runner, engine, expected: list[str], rev=None) -> str:
    """`flask db verify [REV]` exits 1 naming every `expected` difference (a
    line starting so), and leaves the schema and the data exactly as they
    were. Returns its output."""
    schema_before = schema_text(engine)
    data_before = data_fingerprint(engine)
    versioned = "alembic_version" in table_names(engine)

    result = runner.invoke(args=["db", "verify", *([rev] if rev else [])])
    assert result.exit_code == 1, result.output
    for difference in expected:
        assert f"  - {difference}" in result.output, result.output

    assert schema_text(engine) == schema_before
    assert data_fingerprint(engine) == data_before
    assert ("alembic_version" in table_names(engine)) == versioned
    return result.output


def assert_verify_matches(runner, rev: str) -> None:
    result = runner.invoke(args=["db", "verify", rev])
    assert result.exit_code == 0, result.output
    assert f"matches {rev}" in result.output


def test_sql_text_compares_without_spacing_case_or_quotes():
    assert normalise_sql(
        "SELECT emp_no,MAX(from_date) AS from_date\n  FROM `dept_emp`  -- latest\n"
        "GROUP BY emp_no"
    ) == normalise_sql(
        'select EMP_NO, max( from_date ) as "from_date" /* x */ from dept_emp '
        "group by emp_no"
    )
    assert normalise_sql("gender IN ('M','F')") == "gender in ('M', 'F')"
    # String literals keep their case; different SQL stays different.
    assert normalise_sql("a = 'M'") != normalise_sql("a = 'm'")
    assert normalise_sql("a < b") != normalise_sql("b < a")
    assert normalise_sql("`first name` = 1") != normalise_sql("first name = 1")


def test_the_legacy_schema_matches_the_baseline_in_full(app, runner, legacy):
    """No false positive, and the comparison really sees what it compares."""
    assert_verify_matches(runner, "0001_baseline")
    schema = user_schema(legacy)
    assert schema.views["dept_emp_latest_date"].startswith("select ")
    assert "join dept_emp_latest_date l" in schema.views["current_dept_emp"]
    if _mysql(legacy):
        assert {t.collation for t in schema.tables.values()} == {"utf8mb4_general_ci"}
        assert {t.engine for t in schema.tables.values()} == {"InnoDB"}
    else:
        assert schema.tables["employees"].checks == {"gender in ('M', 'F')"}


def test_the_schema_mariadb_reports_matches_the_baseline(app, runner, engine):
    """The real database, restored from a dump (server-named keys, the views
    in MariaDB's rewritten form), matches too."""
    if not _mysql(engine):
        pytest.skip("MariaDB's own report of the schema")
    _execute(engine, *REPORTED_LEGACY_DDL.values())
    assert_verify_matches(runner, "0001_baseline")
    result = runner.invoke(args=["db", "adopt", "--dry-run"])
    assert "would adopt at 0001_baseline" in result.output, result.output


def test_verify_sees_a_redefined_view(app, runner, legacy):
    _execute(
        legacy, "DROP VIEW current_dept_emp", "CREATE VIEW current_dept_emp AS SELECT 1"
    )
    output = assert_verify_reports(
        runner,
        legacy,
        ["view current_dept_emp: defined as `select 1"],
        rev="0001_baseline",
    )
    assert "expected `select l.emp_no" in output


def test_verify_ignores_how_a_view_is_written(app, runner, legacy):
    _execute(
        legacy,
        "DROP VIEW dept_emp_latest_date",
        "create view dept_emp_latest_date as select EMP_NO,max( from_date ) "
        "as `from_date`, MAX(to_date) AS to_date\n\n from dept_emp  "
        "group by emp_no",
    )
    assert_verify_matches(runner, "0001_baseline")


def test_verify_sees_a_table_in_another_charset(app, runner, legacy):
    if not _mysql(legacy):
        pytest.skip("character sets are MySQL/MariaDB's")
    _execute(legacy, "ALTER TABLE titles CONVERT TO CHARACTER SET latin1")
    assert_verify_reports(
        runner,
        legacy,
        [
            "table titles: default character set and collation are latin1 "
            "(latin1_swedish_ci), expected utf8mb4 (utf8mb4_general_ci)"
        ],
        rev="0001_baseline",
    )


def test_verify_sees_changed_comments(app, runner, legacy):
    if not _mysql(legacy):
        pytest.skip("SQLite has no comments")
    _execute(
        legacy,
        "ALTER TABLE employees COMMENT = 'staff'",
        "ALTER TABLE employees MODIFY first_name VARCHAR(14) NOT NULL "
        "COMMENT 'given name'",
    )
    assert_verify_reports(
        runner,
        legacy,
        [
            "table employees: comment is 'staff', expected none",
            "column employees.first_name: comment is 'given name', expected none",
        ],
        rev="0001_baseline",
    )


def test_verify_sees_an_extra_trigger(app, runner, legacy):
    if _mysql(legacy):
        trigger = (
            "CREATE TRIGGER salaries_guard BEFORE UPDATE ON salaries FOR EACH ROW "
            "SET NEW.salary = GREATEST(NEW.salary, 0)"
        )
    else:
        trigger = (
            "CREATE TRIGGER salaries_guard BEFORE UPDATE ON salaries BEGIN "
            "SELECT RAISE(ABORT, 'negative salary') WHERE NEW.salary < 0; END"
        )
    _execute(legacy, trigger)
    assert_verify_reports(
        runner,
        legacy,
        ["trigger salaries_guard on salaries: not in the expected schema"],
        rev="0001_baseline",
    )


# A revision that adds a named CHECK and a trigger, written as a user would.
CHECK_AND_TRIGGER = """
with op.batch_alter_table("salaries") as batch_op:
    batch_op.create_check_constraint("salary_positive", "salary > 0")
if op.get_context().dialect.name == "mysql":
    op.execute(
        "CREATE TRIGGER titles_open BEFORE INSERT ON titles FOR EACH ROW "
        "SET NEW.to_date = IFNULL(NEW.to_date, '9999-01-01')"
    )
else:
    op.execute(
        "CREATE TRIGGER titles_open AFTER INSERT ON titles WHEN NEW.to_date IS NULL "
        "BEGIN UPDATE titles SET to_date = '9999-01-01' WHERE emp_no = NEW.emp_no "
        "AND title = NEW.title AND from_date = NEW.from_date; END"
    )
"""


def test_verify_sees_a_dropped_check_and_trigger(
    scripted_app, scripts, scripted_legacy
):
    engine = scripted_legacy
    scripts.write("0003_guards", HEAD, upgrade=CHECK_AND_TRIGGER)
    runner = scripted_app.test_cli_runner()
    data_before = data_fingerprint(engine)
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert data_fingerprint(engine) == data_before
    # Built the same way in the scratch database: no false positive.
    assert_verify_matches(runner, "0003_guards")

    if _mysql(engine):
        _execute(engine, "ALTER TABLE salaries DROP CONSTRAINT salary_positive")
    else:
        # SQLite drops a CHECK only by rebuilding the table (as before 0003).
        salaries_ddl = LEGACY_DDL["sqlite"][5].replace("salaries", "salaries_new", 1)
        _execute(
            engine,
            salaries_ddl,
            "INSERT INTO salaries_new SELECT * FROM salaries",
            "DROP TABLE salaries",
            "ALTER TABLE salaries_new RENAME TO salaries",
        )
    _execute(engine, "DROP TRIGGER titles_open")
    assert_verify_reports(
        runner,
        engine,
        [
            "check constraint salaries (salary > 0): missing",
            "trigger titles_open on titles: missing",
        ],
    )

    # The same trigger doing something else.
    if _mysql(engine):
        _execute(
            engine,
            "CREATE TRIGGER titles_open BEFORE INSERT ON titles FOR EACH ROW "
            "SET NEW.to_date = IFNULL(NEW.to_date, '2999-01-01')",
        )
    else:
        _execute(
            engine,
            "CREATE TRIGGER titles_open AFTER INSERT ON titles BEGIN SELECT 1; END",
        )
    assert_verify_reports(runner, engine, ["trigger titles_open on titles: defined as"])


def test_verify_sees_the_check_an_autogenerated_batch_rebuild_dropped(
    scripted_app, scripts, scripted_legacy
):
    """On SQLite, Alembic rebuilds a table to change a column and leaves out
    the legacy table's unnamed CHECK (with only a warning): verify names it.
    On MariaDB the same revision keeps everything."""
    engine = scripted_legacy
    runner = scripted_app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    last_name = Employee.__table__.c.last_name
    old_type = last_name.type
    last_name.type = sa.String(20)  # the models change: longer last names
    try:
        result = runner.invoke(args=["db", "migrate", "-m", "longer last names"])
    finally:
        last_name.type = old_type
    assert result.exit_code == 0, result.output
    (revision,) = [p for p in scripts.versions.glob("*.py") if "longer" in p.name]
    source = revision.read_text()
    assert "alter_column(" in source and "'last_name'" in source

    data_before = data_fingerprint(engine)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert data_fingerprint(engine) == data_before
    rev = revision.name.split("_")[0]
    if _mysql(engine):
        assert_verify_matches(runner, rev)
    else:
        # Alembic's warning, as one line of the command's output.
        assert any(
            line.startswith("warning: ") and "Unnamed CHECK constraint" in line
            for line in result.output.splitlines()
        ), result.output
        assert "UserWarning" not in result.output
        assert_verify_reports(
            runner,
            engine,
            ["check constraint employees (gender in ('M', 'F')): missing"],
        )


def test_migrate_notices_a_server_default_change(
    scripted_app, scripts, scripted_legacy
):
    engine = scripted_legacy
    scripts.write(
        "0003_open_titles",
        HEAD,
        upgrade="""
        with op.batch_alter_table("titles") as batch_op:
            batch_op.alter_column(
                "to_date", existing_type=sa.Date(), server_default="9999-01-01"
            )
        """,
    )
    runner = scripted_app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0

    result = runner.invoke(args=["db", "check"])
    assert result.exit_code == 1
    assert "modify_default" in result.output
    (difference,) = model_differences(engine, db.metadata)
    assert difference.startswith("column titles.to_date: default is ")
    assert difference.endswith(" in the database, none in the models")

    result = runner.invoke(args=["db", "migrate", "-m", "titles default"])
    assert result.exit_code == 0, result.output
    (revision,) = [
        p for p in scripts.versions.glob("*.py") if "titles_default" in p.name
    ]
    source = revision.read_text()
    assert "alter_column(" in source and "'to_date'" in source
    assert "server_default=None" in source


def test_migrate_says_what_only_the_database_has_and_drops_nothing(
    scripted_app, scripts, scripted_legacy
):
    """A column removed from the models (here: added by a revision the models
    never followed), an index on it and a table the models never had: migrate
    names each, writes no revision and drops nothing."""
    engine = scripted_legacy
    scripts.write(
        "0003_phone",
        HEAD,
        upgrade="""
        op.add_column("employees", sa.Column("phone", sa.String(20), nullable=True))
        op.create_index("ix_employees_phone", "employees", ["phone"])
        """,
    )
    runner = scripted_app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    _execute(engine, "CREATE TABLE payroll_export (id INT NOT NULL PRIMARY KEY)")
    schema_before = schema_text(engine)
    data_before = data_fingerprint(engine)
    revisions_before = sorted(scripts.versions.glob("*.py"))

    result = runner.invoke(args=["db", "migrate", "-m", "nothing"])
    assert result.exit_code == 0, result.output
    assert "No changes in schema detected." in result.output
    for notice in (
        "employees.phone is in the database but not in the models; it is not "
        "dropped. If you meant to drop or rename it, edit the revision "
        "(op.drop_column / op.alter_column(new_column_name=...)).",
        "index ix_employees_phone on employees(phone) is in the database but not "
        "in the models; it is not dropped. If you meant to drop it, edit the "
        "revision (op.drop_index).",
        "table payroll_export is in the database but not in the models; it is not "
        "dropped. If you meant to drop or rename it, edit the revision "
        "(op.drop_table / op.rename_table).",
    ):
        assert notice in result.output
    # Nothing else: not the legacy keys, views or Headway's own tables.
    assert result.output.count("is in the database but not in the models") == 3
    assert sorted(scripts.versions.glob("*.py")) == revisions_before
    assert schema_text(engine) == schema_before
    assert data_fingerprint(engine) == data_before

    # `check` stays quiet about them: they are not differences to act on.
    result = runner.invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output


def _rebuild_sqlite_table(engine: sa.Engine, ddl: str, name: str) -> None:
    """Replace a SQLite table with one made by `ddl` (its rows kept, copied by
    column name), as SQLite changes anything beyond a column's name."""
    columns = ", ".join(
        c["name"] for c in sa.inspect(engine).get_columns(name)
    )  # the old table's, all present in the new one
    _execute(
        engine,
        "PRAGMA foreign_keys=OFF",
        ddl.replace(name, f"{name}_new", 1),
        f"INSERT INTO {name}_new ({columns}) SELECT {columns} FROM {name}",
        f"DROP TABLE {name}",
        f"ALTER TABLE {name}_new RENAME TO {name}",
    )


def test_verify_sees_a_second_foreign_key_on_the_same_columns(app, runner, legacy):
    """A second key on titles(emp_no) without CASCADE makes deleting an
    employee fail: not the baseline, though every column and key it names is."""
    if _mysql(legacy):
        _execute(
            legacy,
            "ALTER TABLE titles ADD FOREIGN KEY (emp_no) REFERENCES employees (emp_no)",
        )
    else:
        ddl = LEGACY_DDL["sqlite"][4]
        marker = "ON DELETE CASCADE,"
        assert ddl.count(marker) == 1
        _rebuild_sqlite_table(
            legacy,
            ddl.replace(
                marker,
                marker + " FOREIGN KEY (emp_no) REFERENCES employees (emp_no),",
            ),
            "titles",
        )
    assert_verify_reports(
        runner,
        legacy,
        [
            "foreign key titles(emp_no) -> employees(emp_no) (ON DELETE NO ACTION): "
            "not in the expected schema (a second key on these columns)"
        ],
        rev="0001_baseline",
    )


def test_verify_sees_a_unique_key_on_a_prefix_and_an_ignored_index(app, runner, legacy):
    """dept_name(10) makes "Research and Development" and "Research and
    Design" collide; an IGNORED index is one the optimizer does not use."""
    if not _mysql(legacy):
        pytest.skip("prefix keys and IGNORED indexes are MySQL/MariaDB's")
    _execute(
        legacy,
        "ALTER TABLE departments DROP INDEX dept_name, "
        "ADD UNIQUE KEY dept_name (dept_name(10))",
        "ALTER TABLE dept_emp ALTER INDEX dept_no IGNORED",
    )
    assert_verify_reports(
        runner,
        legacy,
        [
            "index departments.dept_name: on (dept_name(10)), expected (dept_name)",
            "unique key departments(dept_name(10)): not in the expected schema",
            "unique key departments(dept_name): missing",
            "index dept_emp.dept_no: IGNORED by the optimizer, expected in use",
        ],
        rev="0001_baseline",
    )


def test_verify_sees_a_moved_column(app, runner, legacy):
    """test_db's data files insert by position: a column moved is behaviour."""
    if _mysql(legacy):
        _execute(
            legacy,
            "ALTER TABLE employees MODIFY birth_date DATE NOT NULL AFTER hire_date",
        )
    else:
        ddl = LEGACY_DDL["sqlite"][0]
        line = "    birth_date  DATE            NOT NULL,\n"
        assert line in ddl
        moved = ddl.replace(line, "").replace(
            "    PRIMARY KEY (emp_no)",
            "    birth_date DATE NOT NULL,\n    PRIMARY KEY (emp_no)",
        )
        _rebuild_sqlite_table(legacy, moved, "employees")
    output = assert_verify_reports(
        runner,
        legacy,
        [
            "column employees.birth_date: after hire_date, expected after emp_no "
            "(an INSERT without column names fills columns by position)"
        ],
        rev="0001_baseline",
    )
    assert output.count("  - ") == 1, output


def test_verify_compares_generated_columns(scripted_app, scripts, scripted_legacy):
    engine = scripted_legacy
    scripts.write(
        "0004_name_length",
        HEAD,
        upgrade="""
        op.add_column(
            "employees",
            sa.Column("name_length", sa.Integer(), sa.Computed("length(first_name)")),
        )
        """,
    )
    runner = scripted_app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert_verify_matches(runner, "0004_name_length")  # no false positive

    # The same column, computed no more (a plain copy of its values).
    _execute(
        engine,
        "ALTER TABLE employees DROP COLUMN name_length",
        "ALTER TABLE employees ADD COLUMN name_length INTEGER",
    )
    assert_verify_reports(
        runner,
        engine,
        [
            # MariaDB keeps the expression as (octet_length(`first_name`)).
            "column employees.name_length: not generated, expected generated "
            "(virtual) as "
        ],
    )
