"""`flask demo create-legacy`: the legacy schema from its original DDL, and
deterministic data shaped like the real employees database.

Runs on SQLite, and on MySQL/MariaDB too when TEST_DATABASE_URL is set."""

import hashlib
import os
import re
import secrets
import types
from datetime import date

import pytest
import sqlalchemy as sa

from app import create_app
from app.demo.legacy import LEGACY_TABLES, LEGACY_VIEWS, create_legacy
from app.errors import HeadwayError
from app.extensions import db
from config import TestingConfig
from tests.helpers import REPORTED_LEGACY_DDL

# `flask` commands only: each test's app is built as the command builds it.
pytestmark = pytest.mark.cli

MYSQL_URL = os.environ.get("TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["mysql"] if MYSQL_URL else [])
needs_mysql = pytest.mark.skipif(not MYSQL_URL, reason="TEST_DATABASE_URL not set")

SCALE = 0.02  # 200 employees
PRIMARY_KEYS = {
    "employees": "emp_no",
    "departments": "dept_no",
    "dept_manager": "emp_no, dept_no",
    "dept_emp": "emp_no, dept_no",
    "titles": "emp_no, title, from_date",
    "salaries": "emp_no, from_date",
}
DEPARTMENTS = [
    ("d001", "Marketing"),
    ("d002", "Finance"),
    ("d003", "Human Resources"),
    ("d004", "Production"),
    ("d005", "Development"),
    ("d006", "Quality Management"),
    ("d007", "Sales"),
    ("d008", "Research"),
    ("d009", "Customer Service"),
]
TITLES = {
    "Staff",
    "Senior Staff",
    "Engineer",
    "Senior Engineer",
    "Assistant Engineer",
    "Technique Leader",
    "Manager",
}


@pytest.fixture(params=BACKENDS)
def demo_new_url(request, tmp_path):
    """A factory of URLs of new, empty databases of each backend under test;
    the MySQL ones are dropped at the end."""
    if request.param == "sqlite":
        paths = (tmp_path / f"legacy{n}.db" for n in range(1_000))
        yield lambda: f"sqlite:///{next(paths)}"
        return

    # The URL's database name is only a hint: every test makes its own.
    server = sa.make_url(MYSQL_URL)
    admin = sa.create_engine(server.set(database=""), poolclass=sa.pool.NullPool)
    created = []

    def new_url() -> str:
        name = f"headway_demo_{secrets.token_hex(4)}"
        with admin.connect() as conn:
            conn.exec_driver_sql(
                f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 "
                "COLLATE utf8mb4_general_ci"
            )
        created.append(name)
        return server.set(database=name).render_as_string(hide_password=False)

    try:
        yield new_url
    finally:
        with admin.connect() as conn:
            for name in created:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        admin.dispose()


@pytest.fixture
def demo_new_engine(demo_new_url):
    """A factory of engines on new, empty databases; all disposed at the end."""
    engines = []

    def new_engine() -> sa.Engine:
        engines.append(sa.create_engine(demo_new_url()))
        return engines[-1]

    yield new_engine
    for engine in engines:
        engine.dispose()


@pytest.fixture
def demo_engine(demo_new_engine):
    return demo_new_engine()


def table_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table: conn.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar_one()
            for table in LEGACY_TABLES
        }


def checksum(engine: sa.Engine) -> str:
    """SHA-256 over every row of every legacy table, in key order."""
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for table, key in PRIMARY_KEYS.items():
            for row in conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY {key}"):
                digest.update(repr(tuple(str(v) for v in row)).encode())
    return digest.hexdigest()


def names(engine: sa.Engine) -> set[str]:
    inspector = sa.inspect(engine)
    return set(inspector.get_table_names()) | set(inspector.get_view_names())


def test_counts(demo_engine):
    counts = create_legacy(demo_engine, scale=SCALE, seed=1)

    assert counts == table_counts(demo_engine)
    assert counts["employees"] == 200
    assert counts["departments"] == 9
    assert counts["dept_manager"] == 24
    # Per employee, like the real data: 1.1 assignments, 1.5 titles, 9.5 salaries.
    assert 1.0 < counts["dept_emp"] / 200 < 1.25
    assert 1.3 < counts["titles"] / 200 < 1.7
    assert 8.5 < counts["salaries"] / 200 < 10.5
    assert set(LEGACY_VIEWS) <= names(demo_engine)


def test_data_is_shaped_like_the_real_data(demo_engine):
    create_legacy(demo_engine, scale=SCALE, seed=1)

    with demo_engine.connect() as conn:

        def one(sql: str) -> tuple:
            return tuple(conn.exec_driver_sql(sql).one())

        def day(value) -> str:
            return str(value)  # a date on MySQL, ISO text on SQLite

        assert one("SELECT MIN(emp_no), MAX(emp_no), COUNT(*) FROM employees") == (
            10001,
            10200,
            200,
        )
        low, high = one("SELECT MIN(hire_date), MAX(hire_date) FROM employees")
        assert "1985-01-01" <= day(low) <= day(high) <= "2000-12-31"
        low, high = one("SELECT MIN(birth_date), MAX(birth_date) FROM employees")
        assert "1952-01-01" <= day(low) <= day(high) <= "1965-12-31"
        low, high = one("SELECT MIN(salary), MAX(salary) FROM salaries")
        assert 38_000 <= low <= high <= 158_000
        departments = conn.exec_driver_sql(
            "SELECT dept_no, dept_name FROM departments ORDER BY dept_no"
        )
        assert [tuple(r) for r in departments] == DEPARTMENTS
        titles = {t for (t,) in conn.exec_driver_sql("SELECT title FROM titles")}
        assert titles == TITLES
        # Current rows run to 9999-01-01, and only one manager per department
        # is current.
        assert one(
            "SELECT COUNT(*) FROM dept_manager WHERE to_date = '9999-01-01'"
        ) == (9,)
        assert one("SELECT COUNT(*) FROM salaries WHERE to_date = '9999-01-01'")[0]
        assert one("SELECT COUNT(*) FROM titles WHERE to_date IS NULL") == (0,)
        # Each employee's salaries start on the hire date and chain: every row
        # but the last ends where the next one begins.
        assert one(
            "SELECT COUNT(*) FROM employees e JOIN salaries s"
            " ON s.emp_no = e.emp_no AND s.from_date = e.hire_date"
        ) == (200,)
        assert one(
            "SELECT COUNT(*) FROM salaries s WHERE NOT EXISTS (SELECT 1 FROM"
            " salaries n WHERE n.emp_no = s.emp_no AND n.from_date = s.to_date)"
        ) == (200,)
        salaries = conn.exec_driver_sql(
            "SELECT from_date FROM salaries WHERE emp_no = 10001 ORDER BY from_date"
        )
        years = [date.fromisoformat(day(d)).year for (d,) in salaries]
        assert years == list(range(years[0], years[0] + len(years)))
        # The views work on the data: one current department per employee.
        assert one("SELECT COUNT(DISTINCT emp_no) FROM current_dept_emp") == (200,)


def test_same_seed_same_rows_other_seed_other_rows(demo_new_engine):
    engines = [demo_new_engine() for _ in range(3)]
    for engine, seed in zip(engines, (5, 5, 6), strict=True):
        create_legacy(engine, scale=SCALE, seed=seed)

    same, again, other = map(checksum, engines)
    assert same == again
    assert same != other


def test_refuses_when_the_tables_exist(demo_engine):
    create_legacy(demo_engine, scale=SCALE)
    before = checksum(demo_engine)

    with pytest.raises(HeadwayError, match="already has employees"):
        create_legacy(demo_engine, scale=SCALE)
    assert checksum(demo_engine) == before


def test_refuses_when_one_table_exists_and_leaves_others_alone(demo_engine):
    with demo_engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE salaries (emp_no INT)")
        conn.exec_driver_sql("CREATE TABLE unrelated (id INT)")

    with pytest.raises(HeadwayError, match="already has salaries"):
        create_legacy(demo_engine, scale=SCALE)
    assert names(demo_engine) == {"salaries", "unrelated"}


def test_an_unrelated_table_does_not_stop_it(demo_engine):
    with demo_engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE unrelated (id INT)")

    create_legacy(demo_engine, scale=SCALE)
    assert names(demo_engine) == {"unrelated", *LEGACY_TABLES, *LEGACY_VIEWS}


@pytest.mark.parametrize("scale", [0.002, 0, -1])
def test_refuses_a_scale_too_small_for_the_managers(demo_engine, scale):
    with pytest.raises(HeadwayError, match="at least 24"):
        create_legacy(demo_engine, scale=scale)
    assert names(demo_engine) == set()


def test_refuses_other_databases():
    postgres = types.SimpleNamespace(dialect=types.SimpleNamespace(name="postgresql"))
    with pytest.raises(HeadwayError, match="only MySQL/MariaDB and SQLite"):
        create_legacy(postgres, scale=SCALE)


@pytest.fixture
def demo_app(demo_new_url):
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=demo_new_url())
    yield app
    with app.app_context():
        db.engine.dispose()


def test_cli_creates_and_prints_counts(demo_app):
    result = demo_app.test_cli_runner().invoke(
        args=["demo", "create-legacy", "--scale", str(SCALE), "--seed", "3"]
    )

    assert result.exit_code == 0, result.output
    with demo_app.app_context():
        counts = table_counts(db.engine)
    for table, rows in counts.items():
        assert re.search(rf"^{table}\s+{rows:,}$", result.output, re.M)
    assert counts["employees"] == 200
    assert "Created the legacy database in" in result.output

    again = demo_app.test_cli_runner().invoke(args=["demo", "create-legacy"])
    assert again.exit_code == 1
    assert "Error: the database already has employees" in again.output
    assert "Traceback" not in again.output


def test_cli_makes_the_sqlite_directory(tmp_path):
    path = tmp_path / "missing" / "dir" / "legacy.db"
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}")
    try:
        result = app.test_cli_runner().invoke(
            args=["demo", "create-legacy", "--scale", str(SCALE)]
        )
    finally:
        with app.app_context():
            db.engine.dispose()
    assert result.exit_code == 0, result.output
    assert path.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scale", "0"], "'--scale': 0.0 is not in the range x>0"),
        (["--scale", "many"], "'--scale': 'many' is not a valid float"),
        (["--scale", "0.001"], "Error: scale 0.001 gives 10 employees"),
    ],
)
def test_cli_rejects_a_bad_scale(demo_app, args, message):
    result = demo_app.test_cli_runner().invoke(args=["demo", "create-legacy", *args])

    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    with demo_app.app_context():
        assert names(db.engine) == set()


def normalized(sql: str) -> str:
    sql = re.sub(r"\s+", " ", sql).strip().replace(", ", ",")
    # A view's definer depends on who ran the DDL: compare from VIEW on.
    return re.sub(r"^CREATE .*?(?=VIEW `)", "", sql)


@needs_mysql
@pytest.mark.parametrize("demo_new_url", ["mysql"], indirect=True)
def test_mysql_show_create_matches_the_legacy_database(demo_new_url):
    engine = sa.create_engine(demo_new_url())
    try:
        create_legacy(engine, scale=SCALE)
        with engine.connect() as conn:
            for name, expected in REPORTED_LEGACY_DDL.items():
                row = conn.exec_driver_sql(f"SHOW CREATE TABLE `{name}`").one()
                assert normalized(row[1]) == normalized(expected), name
    finally:
        engine.dispose()


def test_prepare_builds_adopts_and_upgrades_the_embedded_default(tmp_path, monkeypatch):
    """What `make run` does on a fresh machine, and again on the next run."""
    from tests.helpers import migrations_chain, migrations_head, version_rows

    url = f"sqlite:///{tmp_path / 'instance' / 'headway.db'}"
    # The embedded default is the one in the instance folder.
    monkeypatch.setenv("HEADWAY_INSTANCE_DIR", str(tmp_path / "instance"))
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=url)
    runner = app.test_cli_runner()

    result = runner.invoke(args=["demo", "prepare", "--scale", "0.003"])
    assert result.exit_code == 0, result.output
    assert "adopted at 0001_baseline" in result.output
    assert not (tmp_path / "instance" / "headway.db.partial").exists()
    with app.app_context():
        engine = db.engine
        assert version_rows(engine) == [migrations_head()]
        with engine.connect() as conn:
            employees = conn.exec_driver_sql("SELECT COUNT(*) FROM employees").scalar()
        assert employees == 30
        with engine.connect() as conn:
            audit = conn.exec_driver_sql(
                "SELECT action, revision FROM headway_audit ORDER BY id"
            ).all()
        baseline, *later = migrations_chain()
        assert audit == [("adopt", baseline)] + [("upgrade", rev) for rev in later]

    result = runner.invoke(args=["demo", "prepare", "--scale", "0.003"])
    assert result.exit_code == 0, result.output
    assert "Created" not in result.output and "adopted" not in result.output
    with app.app_context():
        assert version_rows(db.engine) == [migrations_head()]
        db.engine.dispose()


def test_prepare_leaves_a_configured_database_alone(app, engine):
    result = app.test_cli_runner().invoke(args=["demo", "prepare"])
    assert result.exit_code == 0, result.output
    assert "left as it is" in result.output
    assert sa.inspect(engine).get_table_names() == []
