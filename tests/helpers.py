"""Helpers shared by the tests: databases, subprocesses, logins, scripts."""

import contextlib
import hashlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from app.dbadmin.core.adoption import not_user_schema
from app.dbadmin.core.schema import Schema, reflect_schema
from app.demo.legacy import LEGACY_TABLES

ROOT = Path(__file__).resolve().parent.parent
MYSQL_URL = os.environ.get("TEST_DATABASE_URL")
DIALECTS = ["sqlite"] + (["mysql"] if MYSQL_URL else [])


def mysql_server_url() -> sa.URL:
    return sa.make_url(MYSQL_URL)


@contextlib.contextmanager
def new_database(
    dialect: str,
    directory: Path,
    server: sa.URL | None = None,
    collation: str = "utf8mb4_general_ci",
) -> Iterator[str]:
    """The URL of a new, empty database: "sqlite", a file in `directory`;
    "mysql", a database of its own on `server` (default: TEST_DATABASE_URL's),
    whose default is `collation` (its name starts with its character set's),
    dropped after."""
    if dialect == "sqlite":
        yield f"sqlite:///{directory / 'headway.db'}"
        return
    server = server or mysql_server_url()
    name = f"{server.database or 'headway_test'}_{secrets.token_hex(4)}"
    admin = sa.create_engine(server.set(database=""), poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        charset = collation.split("_")[0]
        conn.exec_driver_sql(
            f"CREATE DATABASE `{name}` CHARACTER SET {charset} COLLATE {collation}"
        )
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            # Fail rather than wait forever on a connection a test left open.
            conn.exec_driver_sql("SET SESSION lock_wait_timeout = 60")
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        admin.dispose()


def subprocess_env(**env: str) -> dict[str, str]:
    """The environment of a `flask` or gunicorn subprocess: the testing
    configuration and `env`, nothing inherited that would point it elsewhere
    (another database, configuration, secret key or gunicorn option)."""
    full_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HEADWAY_", "GUNICORN_"))
        and k not in ("DATABASE_URL", "SECRET_KEY", "FLASK_APP")
    }
    # The test's own instance folder and job output (tests/conftest.py),
    # never the checkout's instance/.
    for name in ("HEADWAY_INSTANCE_DIR", "HEADWAY_JOB_OUTPUT_DIR"):
        if name in os.environ:
            full_env[name] = os.environ[name]
    full_env["HEADWAY_CONFIG"] = "testing"
    full_env.update(env)
    return full_env


def run_flask(
    *args: str, database_url: str | None = None, input: str | None = None, **env: str
):
    """Run `flask ARGS` in a subprocess from the project root, as a user would."""
    if database_url:
        env = {"DATABASE_URL": database_url, **env}
    return subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT,
        env=subprocess_env(**env),
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
    )


def check_gunicorn_config(**env: str):
    """Run `gunicorn --check-config wsgi:app` from the project root with `env`."""
    return subprocess.run(
        [sys.executable, "-m", "gunicorn", "--check-config", "wsgi:app"],
        cwd=ROOT,
        env=subprocess_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_refused_in_one_line(result, message: str) -> None:
    """A `flask` or gunicorn process stopped by a bad setting: exit 1, nothing
    on stdout, `Error: message` the one line on stderr."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == ""
    assert result.stderr == f"Error: {message}\n"


def free_pid() -> int:
    """A process id no process has (the kernel hands out ids below
    pid_max): a job "running" under it has lost its process, without a
    process started and ended to get one."""
    return int(Path("/proc/sys/kernel/pid_max").read_text()) + 1


PASSWORD = "correct horse battery staple"
ROLES = ("viewer", "operator", "admin")
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def end_shared_read() -> None:
    """End the read transaction of the session the test client's requests
    share when a fixture keeps an app context pushed (the `engine` fixture):
    a GET commits nothing, so on MariaDB its REPEATABLE READ snapshot would
    still show a finished job as running (and, its process gone, as
    interrupted). In a served app each request has its own session."""
    from flask import has_app_context

    from app.extensions import db

    if has_app_context():
        db.session.rollback()


def wait_for_job(client, job_id: int, seconds: float = 60) -> dict:
    """The job's JSON once it no longer runs (a Flask test client)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        end_shared_read()
        job = client.get(f"/api/migrations/jobs/{job_id}").get_json()
        if job["status"] != "running":
            return job
        time.sleep(0.2)
    raise AssertionError(job)


def csrf_token(client, path: str = "/login") -> str:
    """A CSRF token of this client's session, read from a page's form."""
    page = client.get(path)
    match = CSRF_RE.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path} ({page.status_code})"
    return match.group(1)


def login(client, username: str, password: str = PASSWORD, next_url: str = ""):
    token = csrf_token(client)
    query = f"?next={next_url}" if next_url else ""
    return client.post(
        f"/login{query}",
        data={"username": username, "password": password, "csrf_token": token},
    )


def execute(engine: sa.Engine, sql: str) -> None:
    """Run one statement on `engine` and commit it."""
    with engine.connect() as conn:
        conn.exec_driver_sql(sql)
        conn.commit()


def invoke(runner, *args: str):
    """`flask ARGS` through the app's CLI test runner."""
    return runner.invoke(args=list(args))


@contextlib.contextmanager
def apps_on(database_url: str) -> Iterator:
    """make(**config): a testing app on `database_url` with `config` on top;
    every app made is let go of its connections after."""
    from app import create_app
    from app.extensions import db
    from config import TestingConfig

    apps = []

    def make(**config):
        app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=database_url, **config)
        apps.append(app)
        return app

    try:
        yield make
    finally:
        for app in apps:
            with app.app_context():
                db.engine.dispose()


def client_from(app, address: str):
    """A test client whose requests come from `address`."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def unreachable_url(database_url: str, directory: Path) -> str:
    """A database URL of the same kind as `database_url` that does not
    answer: a SQLite file in a missing directory, or port 1 of the server."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{directory}/missing/dir/headway.db"
    return sa.make_url(database_url).set(port=1).render_as_string(False)


def logged_in_on(up, down, role: str):
    """A test client of `down` (the same secret, a database that does not
    answer) with the session `role` logged in to on `up`."""
    client = up.test_client()
    assert login(client, role).status_code == 302
    moved = down.test_client()
    moved.set_cookie("session", client.get_cookie("session").value)
    return moved


@contextlib.contextmanager
def viewer_while_down(database_url: str, directory: Path, migrations: Path):
    """(down, client): the app (with the scripts of `migrations`) on a
    database that does not answer, and a client of it with the session of a
    viewer who logged in while `database_url` (Headway's tables made) did."""
    from app import create_app
    from app.auth.accounts import create_user
    from app.extensions import db
    from config import TestingConfig

    up = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=database_url,
                    MIGRATIONS_DIR=str(migrations))  # fmt: skip
    result = up.test_cli_runner().invoke(args=["headway", "init"])
    assert result.exit_code == 0, result.output
    with up.app_context():
        create_user("viewer", PASSWORD, "viewer")
    down = create_app(TestingConfig,
                      SQLALCHEMY_DATABASE_URI=unreachable_url(database_url, directory),
                      MIGRATIONS_DIR=str(migrations))  # fmt: skip
    try:
        yield down, logged_in_on(up, down, "viewer")
    finally:
        for app in (up, down):
            with app.app_context():
                db.engine.dispose()


# The legacy schema exactly as MariaDB reports it (SHOW CREATE TABLE / VIEW,
# the views without their definer), in the order it is created: what a
# restored mysqldump of the real database runs, and what the demo's DDL gives.
REPORTED_LEGACY_DDL = {
    "employees": """CREATE TABLE `employees` (
  `emp_no` int(11) NOT NULL,
  `birth_date` date NOT NULL,
  `first_name` varchar(14) NOT NULL,
  `last_name` varchar(16) NOT NULL,
  `gender` enum('M','F') NOT NULL,
  `hire_date` date NOT NULL,
  PRIMARY KEY (`emp_no`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci""",
    "departments": """CREATE TABLE `departments` (
  `dept_no` char(4) NOT NULL,
  `dept_name` varchar(40) NOT NULL,
  PRIMARY KEY (`dept_no`),
  UNIQUE KEY `dept_name` (`dept_name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci""",
    **{
        table: f"""CREATE TABLE `{table}` (
  `emp_no` int(11) NOT NULL,
  `dept_no` char(4) NOT NULL,
  `from_date` date NOT NULL,
  `to_date` date NOT NULL,
  PRIMARY KEY (`emp_no`,`dept_no`),
  KEY `dept_no` (`dept_no`),
  CONSTRAINT `{table}_ibfk_1` FOREIGN KEY (`emp_no`) REFERENCES `employees` (`emp_no`) ON DELETE CASCADE,
  CONSTRAINT `{table}_ibfk_2` FOREIGN KEY (`dept_no`) REFERENCES `departments` (`dept_no`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci"""  # noqa: E501
        for table in ("dept_manager", "dept_emp")
    },
    "titles": """CREATE TABLE `titles` (
  `emp_no` int(11) NOT NULL,
  `title` varchar(50) NOT NULL,
  `from_date` date NOT NULL,
  `to_date` date DEFAULT NULL,
  PRIMARY KEY (`emp_no`,`title`,`from_date`),
  CONSTRAINT `titles_ibfk_1` FOREIGN KEY (`emp_no`) REFERENCES `employees` (`emp_no`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci""",  # noqa: E501
    "salaries": """CREATE TABLE `salaries` (
  `emp_no` int(11) NOT NULL,
  `salary` int(11) NOT NULL,
  `from_date` date NOT NULL,
  `to_date` date NOT NULL,
  PRIMARY KEY (`emp_no`,`from_date`),
  CONSTRAINT `salaries_ibfk_1` FOREIGN KEY (`emp_no`) REFERENCES `employees` (`emp_no`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci""",  # noqa: E501
    "dept_emp_latest_date": (
        "CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER "
        "VIEW `dept_emp_latest_date` AS "
        "select `dept_emp`.`emp_no` AS `emp_no`,max(`dept_emp`.`from_date`) AS "
        "`from_date`,max(`dept_emp`.`to_date`) AS `to_date` from `dept_emp` "
        "group by `dept_emp`.`emp_no`"
    ),
    "current_dept_emp": (
        "CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `current_dept_emp` AS "
        "select `l`.`emp_no` AS `emp_no`,`d`.`dept_no` AS `dept_no`,`l`.`from_date` AS "
        "`from_date`,`l`.`to_date` AS `to_date` from (`dept_emp` `d` join "
        "`dept_emp_latest_date` `l` on(`d`.`emp_no` = `l`.`emp_no` and "
        "`d`.`from_date` = `l`.`from_date` and `l`.`to_date` = `d`.`to_date`))"
    ),
}

# The columns the legacy database had, per table, in key order.
LEGACY_COLUMNS = {
    "employees": (
        ["emp_no", "birth_date", "first_name", "last_name", "gender", "hire_date"],
        ["emp_no"],
    ),
    "departments": (["dept_no", "dept_name"], ["dept_no"]),
    "dept_manager": (
        ["emp_no", "dept_no", "from_date", "to_date"],
        ["emp_no", "dept_no"],
    ),
    "dept_emp": (["emp_no", "dept_no", "from_date", "to_date"], ["emp_no", "dept_no"]),
    "titles": (
        ["emp_no", "title", "from_date", "to_date"],
        ["emp_no", "title", "from_date"],
    ),
    "salaries": (
        ["emp_no", "salary", "from_date", "to_date"],
        ["emp_no", "from_date"],
    ),
}
assert set(LEGACY_COLUMNS) == set(LEGACY_TABLES)


def data_fingerprint(engine: sa.Engine) -> dict[str, tuple[int, str]]:
    """Row count and SHA-256 over every original column of every legacy table."""
    out = {}
    with engine.connect() as conn:
        for table, (columns, key) in LEGACY_COLUMNS.items():
            digest = hashlib.sha256()
            count = 0
            result = conn.exec_driver_sql(
                f"SELECT {', '.join(columns)} FROM {table} ORDER BY {', '.join(key)}"
            )
            for row in result:
                digest.update(repr(tuple(str(v) for v in row)).encode())
                count += 1
            out[table] = (count, digest.hexdigest())
    return out


def user_schema(engine: sa.Engine) -> Schema:
    with engine.connect() as conn:
        return reflect_schema(conn, ignore=not_user_schema)


def schema_dump(engine: sa.Engine) -> dict[str, str]:
    """The user's schema as the server writes it back, object by object:
    `SHOW CREATE TABLE` / `SHOW CREATE VIEW` on MySQL/MariaDB, the stored SQL
    of sqlite_master on SQLite (tables, indexes, views, triggers). Equal dumps
    mean a byte-identical schema."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(
                "SELECT type || ' ' || name, sql FROM sqlite_master "
                "WHERE sql IS NOT NULL"
            ).all()
            return {key: sql for key, sql in rows if not _not_user(key.split()[1])}
        dump = {}
        for name, kind in conn.exec_driver_sql("SHOW FULL TABLES").all():
            if _not_user(name):
                continue
            what = "VIEW" if kind == "VIEW" else "TABLE"
            row = conn.exec_driver_sql(f"SHOW CREATE {what} `{name}`").one()
            # A view's definition names its definer and the database: not the
            # schema's business, and the database differs between tests.
            dump[f"{what.lower()} {name}"] = re.sub(r" DEFINER=\S+", "", row[1])
        for name, table, timing, event, statement in conn.exec_driver_sql(
            "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, "
            "EVENT_MANIPULATION, ACTION_STATEMENT FROM information_schema.TRIGGERS "
            "WHERE TRIGGER_SCHEMA = DATABASE()"
        ):
            dump[f"trigger {name}"] = f"{timing} {event} ON {table} {statement}"
        return dump


def _not_user(name: str) -> bool:
    return not_user_schema(name) or name.startswith("sqlite_")


def table_names(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def version_rows(engine: sa.Engine, table: str = "alembic_version") -> list[str] | None:
    """The rows of a version table, or None when the table does not exist."""
    if table not in table_names(engine):
        return None
    with engine.connect() as conn:
        return [r[0] for r in conn.exec_driver_sql(f"SELECT version_num FROM {table}")]


class Scripts:
    """A copy of the project's migrations/ that a test can add revisions to."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.versions = directory / "versions"

    def write(self, rev, down, upgrade="pass", downgrade="pass", message=None):
        down_repr = repr(tuple(down)) if isinstance(down, list) else repr(down)

        def body(code: str) -> str:
            return textwrap.indent(textwrap.dedent(code).strip(), "    ")

        source = "\n".join(
            [
                f'"""{message or rev}',
                "",
                f"Revision ID: {rev}",
                f"Revises: {down}",
                "Create Date: 2026-11-21 12:00:00",
                "",
                '"""',
                "",
                "import sqlalchemy as sa",
                "from alembic import op",
                "",
                f"revision = {rev!r}",
                f"down_revision = {down_repr}",
                "branch_labels = None",
                "depends_on = None",
                "",
                "",
                "def upgrade():",
                body(upgrade),
                "",
                "",
                "def downgrade():",
                body(downgrade),
                "",
            ]
        )
        path = self.versions / f"{rev}.py"
        path.write_text(source)
        return path

    @classmethod
    def copy_of(cls, source: Path, directory: Path) -> "Scripts":
        shutil.copytree(source, directory)
        shutil.rmtree(directory / "versions" / "__pycache__", ignore_errors=True)
        return cls(directory)


def migrations_head() -> str:
    """The head revision of the project's migrations/: tests that write more
    revisions build on it, whatever the latest one is."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(ROOT / "migrations")).get_current_head()


def migrations_chain() -> list[str]:
    """The project's revisions from the base to the head, in apply order."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(ROOT / "migrations"))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]
