"""Restoring a table to its before-image (SHOW CREATE TABLE), byte for byte.

The table-driven cases run on MariaDB/MySQL only (DDL there is not
transactional, so only there can a step leave a table half-changed): each
starts from the legacy employees tables with a few rows, applies a change,
applies the computed restore and compares the SHOW CREATE TABLE text with the
before-image, then the rows (CHECKSUM TABLE) where no data had to go.
"""

from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa

from app.dbadmin.core.restore import (
    Unrestorable,
    restore_plan,
    restore_statements,
    restore_tables,
    same_table,
    show_create,
    strip_auto_increment,
)
from app.demo.legacy import create_legacy
from tests.helpers import MYSQL_URL, new_database

# `flask` commands only: each test's app is built as the command builds it.
pytestmark = pytest.mark.cli

needs_mysql = pytest.mark.skipif(not MYSQL_URL, reason="needs TEST_DATABASE_URL")

# 30 employees, about 285 salaries: enough rows for the data to matter.
SCALE = 0.003


@dataclass
class Case:
    id: str
    tables: list[str]
    change: list[str]
    setup: list[str] = field(default_factory=list)
    # Undoes the setup (and puts lost rows back), once the case has passed:
    # cheaper than the rebuild the `legacy` fixture does otherwise.
    cleanup: list[str] = field(default_factory=list)
    # Data the restore cannot bring back (a dropped column or table).
    data_lost: bool = False
    renamed_columns: dict[str, str] | None = None
    # The change's last statement fails with this MySQL error code, after the
    # ones before it committed: the half-applied step.
    fails_with: int | None = None


BADGES = (
    "CREATE TABLE badges (code VARCHAR(20) NOT NULL, PRIMARY KEY (code)) "
    "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci"
)

CASES = [
    Case(
        "int to bigint",
        ["salaries"],
        ["ALTER TABLE salaries MODIFY salary BIGINT NOT NULL"],
    ),
    Case(
        "add NOT NULL column",
        ["employees"],
        ["ALTER TABLE employees ADD COLUMN badge VARCHAR(20) NOT NULL"],
    ),
    Case(
        "add nullable column with default and comment",
        ["employees"],
        [
            "ALTER TABLE employees ADD COLUMN nickname VARCHAR(30) NULL "
            "DEFAULT 'none' COMMENT 'what colleagues say' AFTER first_name"
        ],
    ),
    Case(
        "drop column",
        ["employees"],
        ["ALTER TABLE employees DROP COLUMN birth_date"],
        data_lost=True,
        setup=["CREATE TABLE saved SELECT emp_no, birth_date FROM employees"],
        cleanup=[
            "UPDATE employees JOIN saved USING (emp_no) "
            "SET employees.birth_date = saved.birth_date",
            "DROP TABLE saved",
        ],
    ),
    Case(
        "add unique index",
        ["dept_manager"],
        ["CREATE UNIQUE INDEX ux_manager_term ON dept_manager (emp_no, from_date)"],
    ),
    Case(
        "add composite index with a prefix length",
        ["employees"],
        ["CREATE INDEX ix_names ON employees (last_name, first_name(4))"],
    ),
    Case(
        "drop unique index",
        ["departments"],
        ["ALTER TABLE departments DROP INDEX dept_name"],
    ),
    Case(
        "drop an index made before another",
        ["titles"],
        ["DROP INDEX ix_title ON titles"],
        setup=[
            "CREATE INDEX ix_title ON titles (title) COMMENT 'by title'",
            "CREATE INDEX ix_to_date ON titles (to_date) IGNORED",
        ],
        cleanup=["DROP INDEX ix_title ON titles", "DROP INDEX ix_to_date ON titles"],
    ),
    Case(
        "index made ignored",
        ["departments"],
        ["ALTER TABLE departments ALTER INDEX dept_name IGNORED"],
    ),
    Case(
        "an ignored index made visible after one made before it is made again",
        ["titles"],
        [
            "DROP INDEX ix_title ON titles",
            "CREATE INDEX ix_title ON titles (title)",
            "ALTER TABLE titles ALTER INDEX ix_to_date NOT IGNORED",
        ],
        setup=[
            "CREATE INDEX ix_title ON titles (title)",
            "CREATE INDEX ix_to_date ON titles (to_date) IGNORED",
        ],
        cleanup=["DROP INDEX ix_title ON titles", "DROP INDEX ix_to_date ON titles"],
    ),
    Case(
        "the index a foreign key needs made again after another",
        ["dept_emp"],
        [
            "ALTER TABLE dept_emp DROP INDEX dept_no, "
            "ADD KEY dept_no (dept_no, from_date)"
        ],
        setup=["CREATE INDEX ix_to_date ON dept_emp (to_date)"],
        cleanup=["DROP INDEX ix_to_date ON dept_emp"],
    ),
    Case(
        "add foreign key",
        ["dept_manager"],
        [
            "ALTER TABLE dept_manager ADD CONSTRAINT fk_manager_assignment "
            "FOREIGN KEY (emp_no, dept_no) REFERENCES dept_emp (emp_no, dept_no)"
        ],
    ),
    Case(
        "add column with foreign key and its implicit index",
        ["employees"],
        [
            "ALTER TABLE employees ADD COLUMN badge VARCHAR(20) NULL, "
            "ADD CONSTRAINT fk_badge FOREIGN KEY (badge) REFERENCES badges (code)"
        ],
        setup=[BADGES],
        cleanup=["DROP TABLE badges"],
    ),
    Case(
        "drop foreign key on delete cascade",
        ["salaries"],
        ["ALTER TABLE salaries DROP FOREIGN KEY salaries_ibfk_1"],
    ),
    Case(
        "drop the first of two foreign keys and the index of the second",
        ["dept_emp"],
        [
            "ALTER TABLE dept_emp DROP FOREIGN KEY dept_emp_ibfk_1",
            "ALTER TABLE dept_emp DROP FOREIGN KEY dept_emp_ibfk_2",
            "ALTER TABLE dept_emp DROP INDEX dept_no",
        ],
    ),
    Case(
        "foreign key redefined under the same name",
        ["titles"],
        [
            "ALTER TABLE titles DROP FOREIGN KEY titles_ibfk_1",
            "ALTER TABLE titles ADD CONSTRAINT titles_ibfk_1 FOREIGN KEY (emp_no) "
            "REFERENCES employees (emp_no) ON UPDATE CASCADE",
        ],
    ),
    Case(
        "column moved",
        ["employees"],
        ["ALTER TABLE employees MODIFY gender ENUM('M','F') NOT NULL AFTER emp_no"],
    ),
    Case(
        "columns reordered",
        ["employees"],
        [
            "ALTER TABLE employees MODIFY hire_date DATE NOT NULL FIRST, "
            "MODIFY emp_no INT NOT NULL AFTER gender"
        ],
    ),
    Case(
        "default changed",
        ["titles"],
        ["ALTER TABLE titles ALTER COLUMN to_date SET DEFAULT '9999-01-01'"],
    ),
    Case(
        "column collation changed",
        ["employees"],
        [
            "ALTER TABLE employees MODIFY last_name VARCHAR(16) "
            "COLLATE utf8mb4_bin NOT NULL"
        ],
    ),
    Case(
        "table comment and row format",
        ["departments"],
        ["ALTER TABLE departments COMMENT='the nine departments' ROW_FORMAT=COMPACT"],
    ),
    Case(
        "table converted to another character set",
        ["titles"],
        ["ALTER TABLE titles CONVERT TO CHARACTER SET latin1"],
    ),
    Case(
        "add check constraint",
        ["salaries"],
        ["ALTER TABLE salaries ADD CONSTRAINT salary_positive CHECK (salary > 0)"],
    ),
    Case(
        "drop the first of two check constraints",
        ["salaries"],
        ["ALTER TABLE salaries DROP CONSTRAINT salary_positive"],
        setup=[
            "ALTER TABLE salaries ADD CONSTRAINT salary_positive CHECK (salary > 0)",
            "ALTER TABLE salaries ADD CONSTRAINT dates_in_order "
            "CHECK (from_date <= to_date)",
        ],
        cleanup=[
            "ALTER TABLE salaries DROP CONSTRAINT salary_positive, "
            "DROP CONSTRAINT dates_in_order"
        ],
    ),
    Case(
        "column-level check and an ENUM value added",
        ["employees"],
        [
            "ALTER TABLE employees MODIFY gender ENUM('M','F','X') NOT NULL, "
            "MODIFY hire_date DATE NOT NULL CHECK (hire_date > '1980-01-01')"
        ],
    ),
    Case(
        "generated column changed",
        ["salaries"],
        [
            "ALTER TABLE salaries MODIFY monthly INT "
            "GENERATED ALWAYS AS (salary DIV 12 + 1) VIRTUAL"
        ],
        setup=[
            "ALTER TABLE salaries ADD COLUMN monthly INT "
            "GENERATED ALWAYS AS (salary DIV 12) VIRTUAL INVISIBLE"
        ],
        cleanup=["ALTER TABLE salaries DROP COLUMN monthly"],
    ),
    Case(
        "primary key widened (making a column NOT NULL)",
        ["titles"],
        [
            "ALTER TABLE titles DROP PRIMARY KEY, "
            "ADD PRIMARY KEY (emp_no, title, from_date, to_date)"
        ],
    ),
    Case(
        "column renamed, the caller naming the rename",
        ["employees"],
        ["ALTER TABLE employees CHANGE first_name given_name VARCHAR(20) NOT NULL"],
        renamed_columns={"given_name": "first_name"},
    ),
    Case(
        "create table",
        ["badges"],
        [
            BADGES.replace(
                "PRIMARY KEY (code)",
                "emp_no INT, PRIMARY KEY (code), "
                "FOREIGN KEY (emp_no) REFERENCES employees (emp_no)",
            )
        ],
    ),
    Case(
        "drop table",
        ["titles"],
        ["DROP TABLE titles"],
        data_lost=True,
        setup=["CREATE TABLE saved SELECT * FROM titles"],
        cleanup=["INSERT INTO titles SELECT * FROM saved", "DROP TABLE saved"],
    ),
    Case(
        "half-applied step: salary to BIGINT, badge NOT NULL, a unique index "
        "that fails on duplicate names",
        ["salaries", "employees"],
        [
            "ALTER TABLE salaries MODIFY salary BIGINT NOT NULL",
            "ALTER TABLE employees ADD COLUMN badge VARCHAR(20) NOT NULL",
            "CREATE UNIQUE INDEX ix_employees_names "
            "ON employees (first_name, last_name)",
        ],
        # Two employees with the same name make the unique index fail.
        setup=[
            "INSERT INTO employees SELECT emp_no + 100000, birth_date, first_name, "
            "last_name, gender, hire_date FROM employees ORDER BY emp_no LIMIT 1"
        ],
        fails_with=1062,
        cleanup=["DELETE FROM employees WHERE emp_no > 100000"],
    ),
]


@pytest.fixture(scope="module")
def legacy_database(tmp_path_factory):
    """One legacy employees database with a few rows for the module's tests,
    and its schema and rows as built (for the reset below)."""
    with new_database("mysql", tmp_path_factory.mktemp("restore")) as url:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        create_legacy(engine, scale=SCALE)
        with engine.connect() as conn:
            pristine = _snapshot(conn)
        try:
            yield engine, pristine
        finally:
            engine.dispose()


@pytest.fixture
def legacy(legacy_database):
    """A connection to the legacy database, as built. A test that leaves it
    otherwise (a row or a column it could not bring back, a table or an index
    of its own, a failure) has it built again after it: a fresh database per
    test would make this file several times slower."""
    engine, pristine = legacy_database
    with engine.connect() as conn:
        yield conn
        conn.commit()  # a cleanup's DML (DDL commits by itself)
    with engine.connect() as conn:
        if _snapshot(conn) != pristine:
            _rebuild(conn)
            conn.commit()
            create_legacy(engine, scale=SCALE)


def _snapshot(conn: sa.Connection) -> dict[str, tuple]:
    """Every table's SHOW CREATE TABLE and row checksum, every view's name."""
    kinds = dict(conn.exec_driver_sql("SHOW FULL TABLES").all())
    return {
        name: (show_create(conn, name), *_checksums(conn, [name]).values())
        if kind == "BASE TABLE"
        else (kind,)
        for name, kind in kinds.items()
    }


def _rebuild(conn: sa.Connection) -> None:
    kinds = dict(conn.exec_driver_sql("SHOW FULL TABLES").all())
    conn.exec_driver_sql("SET foreign_key_checks = 0")
    for name, kind in kinds.items():
        what = "TABLE" if kind == "BASE TABLE" else "VIEW"
        conn.exec_driver_sql(f"DROP {what} `{name}`")
    conn.exec_driver_sql("SET foreign_key_checks = 1")


def _checksums(conn: sa.Connection, tables: list[str]) -> dict[str, int]:
    return {
        table: conn.exec_driver_sql(f"CHECKSUM TABLE `{table}`").one()[1]
        for table in tables
    }


@needs_mysql
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_restore_gives_the_before_image_back(legacy, case):
    conn = legacy
    for statement in case.setup:
        conn.exec_driver_sql(statement)
    before = {table: show_create(conn, table) for table in case.tables}
    rows_before = _checksums(conn, [t for t in case.tables if before[t]])

    *committed, last = case.change
    for statement in committed:
        conn.exec_driver_sql(statement)
    if case.fails_with:
        with pytest.raises(sa.exc.DBAPIError) as failure:
            conn.exec_driver_sql(last)
        assert failure.value.orig.args[0] == case.fails_with
    else:
        conn.exec_driver_sql(last)
    now = {table: show_create(conn, table) for table in case.tables}
    assert any(not same_table(before[t], now[t]) for t in case.tables)

    notes = []
    for table in case.tables:
        plan = restore_plan(table, before[table], now[table], case.renamed_columns)
        assert bool(plan.statements) == (not same_table(before[table], now[table]))
        for statement in plan.statements:
            conn.exec_driver_sql(statement)
        notes += plan.notes
    assert any("cannot come back" in note for note in notes) == case.data_lost

    for table in case.tables:
        assert show_create(conn, table) == before[table], table
    if not case.data_lost:
        assert _checksums(conn, list(rows_before)) == rows_before
    for statement in case.cleanup:
        conn.exec_driver_sql(statement)


BADGE_KINDS = (
    "CREATE TABLE badge_kinds (kind VARCHAR(10) NOT NULL, PRIMARY KEY (kind)) "
    "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci"
)
KINDED_BADGES = BADGES.replace(
    "PRIMARY KEY (code)",
    "kind VARCHAR(10) NOT NULL, PRIMARY KEY (code), "
    "FOREIGN KEY (kind) REFERENCES badge_kinds (kind)",
)
REFERENCING_BADGES = (
    "ALTER TABLE employees ADD COLUMN badge VARCHAR(20) NULL, "
    "ADD CONSTRAINT fk_badge FOREIGN KEY (badge) REFERENCES badges (code)"
)


@needs_mysql
@pytest.mark.parametrize(
    "setup, change",
    [
        ([], [BADGE_KINDS, KINDED_BADGES, REFERENCING_BADGES]),
        (
            [BADGE_KINDS, KINDED_BADGES, REFERENCING_BADGES],
            [
                "ALTER TABLE employees DROP FOREIGN KEY fk_badge",
                "DROP TABLE badges",
                "DROP TABLE badge_kinds",
            ],
        ),
    ],
    ids=["tables created and referenced", "referenced tables dropped"],
)
def test_several_tables_are_restored_in_foreign_key_order(legacy, setup, change):
    conn = legacy
    tables = ["badges", "employees", "badge_kinds"]
    for statement in setup:
        conn.exec_driver_sql(statement)
    before = {table: show_create(conn, table) for table in tables}
    for statement in change:
        conn.exec_driver_sql(statement)
    now = {table: show_create(conn, table) for table in tables}

    plans = restore_tables(before, now)
    assert len(plans) == 3
    for plan in plans:
        for statement in plan.statements:
            conn.exec_driver_sql(statement)
    assert {table: show_create(conn, table) for table in tables} == before
    if setup:  # undone by hand: cheaper than the fixture's rebuild
        conn.exec_driver_sql(
            "ALTER TABLE employees DROP FOREIGN KEY fk_badge, DROP COLUMN badge"
        )
        conn.exec_driver_sql("DROP TABLE badges, badge_kinds")


def test_every_table_that_cannot_be_restored_is_named():
    partitioned = SALARIES + "\n PARTITION BY HASH (`emp_no`)\nPARTITIONS 2"
    with pytest.raises(Unrestorable) as refusal:
        restore_tables(
            {"salaries": SALARIES, "titles": SALARIES, "employees": None},
            {"salaries": partitioned, "titles": SALARIES + " ENCRYPTED=YES"},
        )
    assert refusal.value.table == "salaries, titles"
    assert [reason.split(":")[0] for reason in refusal.value.reasons] == [
        "salaries",
        "titles",
    ]


TABLE_OPTIONS = [
    "COMMENT='x'",
    "ROW_FORMAT=REDUNDANT",
    "STATS_PERSISTENT=1",
    "STATS_SAMPLE_PAGES=7",
    "CHECKSUM=1",
    "MAX_ROWS=100",
    "TRANSACTIONAL=1",
    # Aria adds PAGE_CHECKSUM=1 of its own.
    "ENGINE=Aria",
]


@needs_mysql
def test_every_table_option_comes_back(legacy):
    conn = legacy
    for option in TABLE_OPTIONS:
        conn.exec_driver_sql(
            "CREATE TABLE optioned (id INT NOT NULL, note VARCHAR(5), "
            "PRIMARY KEY (id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 "
            "COLLATE=utf8mb4_general_ci"
        )
        before = show_create(conn, "optioned")
        conn.exec_driver_sql(f"ALTER TABLE optioned {option}")
        now = show_create(conn, "optioned")
        assert now != before, option
        for statement in restore_statements("optioned", before, now):
            conn.exec_driver_sql(statement)
        assert show_create(conn, "optioned") == before, option
        conn.exec_driver_sql("DROP TABLE optioned")


@needs_mysql
def test_a_change_of_partitioning_is_unrestorable(legacy):
    conn = legacy
    conn.exec_driver_sql(
        "CREATE TABLE logbook (id INT NOT NULL, note TEXT, PRIMARY KEY (id))"
    )
    before = show_create(conn, "logbook")
    conn.exec_driver_sql("ALTER TABLE logbook PARTITION BY HASH (id) PARTITIONS 2")
    with pytest.raises(Unrestorable) as refusal:
        restore_statements("logbook", before, show_create(conn, "logbook"))
    assert refusal.value.table == "logbook"
    assert "partitioning" in refusal.value.reasons[0]
    conn.exec_driver_sql("DROP TABLE logbook")


@needs_mysql
def test_show_create_strips_the_counter_and_knows_a_missing_table(legacy):
    conn = legacy
    conn.exec_driver_sql(
        "CREATE TABLE counter (id INT NOT NULL AUTO_INCREMENT, PRIMARY KEY (id))"
    )
    conn.exec_driver_sql("INSERT INTO counter VALUES (), (), ()")
    text = show_create(conn, "counter")
    assert "AUTO_INCREMENT=" not in text
    assert "`id` int(11) NOT NULL AUTO_INCREMENT" in text
    assert show_create(conn, "no_such_table") is None
    conn.exec_driver_sql("DROP TABLE counter")


# What follows needs no server: the texts are as MariaDB 10.11 prints them.

SALARIES = """CREATE TABLE `salaries` (
  `emp_no` int(11) NOT NULL,
  `salary` int(11) NOT NULL,
  `from_date` date NOT NULL,
  `to_date` date NOT NULL,
  PRIMARY KEY (`emp_no`,`from_date`),
  CONSTRAINT `salaries_ibfk_1` FOREIGN KEY (`emp_no`) REFERENCES `employees` \
(`emp_no`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci"""


def test_the_statements_read_as_one_alter_in_dependency_order():
    now = (
        SALARIES.replace("`salary` int(11)", "`salary` bigint(20)")
        .replace(
            "  `to_date` date NOT NULL,\n",
            "  `to_date` date NOT NULL,\n  `badge` varchar(20) NOT NULL,\n",
        )
        .replace(
            "  PRIMARY KEY (`emp_no`,`from_date`),\n",
            "  PRIMARY KEY (`emp_no`,`from_date`),\n  KEY `ix_badge` (`badge`),\n",
        )
    )
    plan = restore_plan("salaries", SALARIES, now)
    assert plan.statements == [
        "ALTER TABLE `salaries`\n"
        "  DROP INDEX `ix_badge`,\n"
        "  DROP COLUMN `badge`,\n"
        "  MODIFY COLUMN `salary` int(11) NOT NULL"
    ]
    assert plan.notes == ["column salaries.badge is dropped with its values"]


def test_an_index_out_of_place_is_added_under_a_temporary_name():
    two_keys = SALARIES.replace(
        "  PRIMARY KEY (`emp_no`,`from_date`),\n",
        "  PRIMARY KEY (`emp_no`,`from_date`),\n"
        "  KEY `ix_salary` (`salary`),\n"
        "  KEY `ix_to_date` (`to_date`) IGNORED,\n",
    )
    swapped = two_keys.replace(
        "  KEY `ix_salary` (`salary`),\n  KEY `ix_to_date` (`to_date`) IGNORED,\n",
        "  KEY `ix_to_date` (`to_date`),\n  KEY `ix_salary` (`salary`),\n",
    )
    assert restore_statements("salaries", two_keys, swapped) == [
        "ALTER TABLE `salaries`\n"
        "  DROP INDEX `ix_to_date`,\n"
        "  DROP INDEX `ix_salary`,\n"
        "  ADD KEY `hw_restore_1` (`salary`),\n"
        "  ADD KEY `hw_restore_2` (`to_date`) IGNORED",
        "ALTER TABLE `salaries`\n"
        "  RENAME INDEX `hw_restore_1` TO `ix_salary`,\n"
        "  RENAME INDEX `hw_restore_2` TO `ix_to_date`",
    ]


def test_a_foreign_key_redefined_under_its_name_is_dropped_first():
    now = SALARIES.replace(" ON DELETE CASCADE", " ON UPDATE CASCADE")
    assert restore_statements("salaries", SALARIES, now) == [
        "ALTER TABLE `salaries`\n  DROP FOREIGN KEY `salaries_ibfk_1`",
        "ALTER TABLE `salaries`\n  ADD CONSTRAINT `salaries_ibfk_1` FOREIGN KEY "
        "(`emp_no`) REFERENCES `employees` (`emp_no`) ON DELETE CASCADE",
    ]


def test_a_column_that_may_have_been_renamed_is_named():
    now = SALARIES.replace("`salary` int(11)", "`pay` int(11)")
    plan = restore_plan("salaries", SALARIES, now)
    assert plan.possible_renames == [("pay", "salary")]
    assert plan.statements == [
        "ALTER TABLE `salaries`\n"
        "  DROP COLUMN `pay`,\n"
        "  ADD COLUMN `salary` int(11) NOT NULL AFTER `emp_no`"
    ]
    assert restore_statements("salaries", SALARIES, now, {"pay": "salary"}) == [
        "ALTER TABLE `salaries`\n"
        "  CHANGE COLUMN `pay` `salary` int(11) NOT NULL AFTER `emp_no`"
    ]


def test_absent_tables_are_created_or_dropped():
    assert restore_statements("salaries", None, None) == []
    assert restore_statements("salaries", SALARIES, SALARIES) == []
    assert restore_statements("salaries", None, SALARIES) == ["DROP TABLE `salaries`"]
    plan = restore_plan("salaries", SALARIES, None)
    assert plan.statements == [SALARIES]
    assert "its rows cannot come back" in plan.notes[0]


def test_what_cannot_be_restored_exactly_is_refused_with_reasons():
    partitioned = SALARIES + "\n PARTITION BY HASH (`emp_no`)\nPARTITIONS 2"
    with pytest.raises(Unrestorable, match="partitioning"):
        restore_statements("salaries", SALARIES, partitioned)
    with_option = SALARIES + " ENCRYPTED=YES"
    with pytest.raises(Unrestorable, match="ENCRYPTED was added"):
        restore_statements("salaries", SALARIES, with_option)
    with pytest.raises(Unrestorable, match="KEY_BLOCK_SIZE changed"):
        restore_statements("salaries", SALARIES, SALARIES + " KEY_BLOCK_SIZE=8")
    with pytest.raises(Unrestorable, match="did not exist before"):
        restore_statements("salaries", SALARIES, with_option, {"salary": "pay"})
    renamed_table = SALARIES.replace("`salaries`", "`pay`", 1)
    with pytest.raises(Unrestorable, match="differ outside its definitions"):
        restore_statements("salaries", SALARIES, renamed_table)
    with pytest.raises(Unrestorable, match="not a SHOW CREATE TABLE text"):
        restore_statements("salaries", SALARIES, "CREATE TABLE salaries (a int)")


def test_same_table_ignores_only_the_auto_increment_counter():
    counted = SALARIES.replace("ENGINE=InnoDB", "ENGINE=InnoDB AUTO_INCREMENT=42")
    assert same_table(SALARIES, counted)
    assert strip_auto_increment(counted) == SALARIES
    assert not same_table(SALARIES, SALARIES.replace("int(11)", "bigint(20)", 1))
    assert not same_table(SALARIES, None)
    assert same_table(None, None)
