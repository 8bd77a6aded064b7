"""Bad input on the command line: one clear line on stderr, a non-zero exit,
never a traceback. Run as a user would, in a subprocess."""

import os
import socket
import subprocess
import sys

import pytest
import sqlalchemy as sa

from app.extensions import db
from tests.helpers import (
    MYSQL_URL,
    ROOT,
    migrations_chain,
    migrations_head,
    mysql_server_url,
    run_flask,
    version_rows,
)

# `flask` commands only: each test's app is built as the command builds it.
pytestmark = pytest.mark.cli


def assert_clean_failure(result, *expected: str) -> None:
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for text in expected:
        assert text in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if "Error" in line]
    assert len(error_lines) == 1, result.stderr


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.live
def test_unknown_revision(database_url):
    assert run_flask("db", "upgrade", database_url=database_url).returncode == 0
    result = run_flask("db", "verify", "nosuchrev", database_url=database_url)
    assert_clean_failure(result, "unknown revision 'nosuchrev'")
    result = run_flask("db", "upgrade", "nosuchrev", database_url=database_url)
    assert_clean_failure(result, "nosuchrev")
    result = run_flask("db", "adopt", "--to", "nosuchrev", database_url=database_url)
    assert_clean_failure(result, "already versioned")


@pytest.mark.live
def test_unknown_revision_on_unversioned_database(database_url):
    result = run_flask("db", "adopt", "--to", "nosuchrev", database_url=database_url)
    assert_clean_failure(result, "unknown revision 'nosuchrev'")


@pytest.mark.parametrize(
    "command",
    [["db", "current"], ["db", "verify"], ["db", "adopt"], ["headway", "init"]],
)
@pytest.mark.live
def test_unreachable_database(command):
    url = f"mysql+pymysql://root@127.0.0.1:{closed_port()}/headway"
    result = run_flask(*command, database_url=url)
    assert_clean_failure(result, "Can't connect")


@pytest.mark.live
def test_unreachable_sqlite_file(tmp_path):
    url = f"sqlite:///{tmp_path}/no/such/dir/headway.db"
    result = run_flask("db", "current", database_url=url)
    assert_clean_failure(result, "unable to open database file")


@pytest.mark.skipif(not MYSQL_URL, reason="needs TEST_DATABASE_URL")
@pytest.mark.live
def test_wrong_credentials():
    url = mysql_server_url().set(username="headway_nobody", password="wrong")
    result = run_flask(
        "db", "current", database_url=url.render_as_string(hide_password=False)
    )
    assert_clean_failure(result, "Access denied")
    assert "wrong" not in result.stderr  # the password is never echoed


@pytest.mark.live
def test_malformed_database_url():
    result = run_flask("db", "current", database_url="nosuchdialect://x")
    assert_clean_failure(result, "DATABASE_URL is not a usable database URL")


@pytest.mark.live
def test_unknown_config_name():
    result = run_flask("db", "current", HEADWAY_CONFIG="staging")
    assert_clean_failure(result, "HEADWAY_CONFIG='staging' is unknown")


@pytest.mark.live
def test_production_needs_secret_key_and_database_url():
    result = run_flask("db", "current", HEADWAY_CONFIG="production")
    assert_clean_failure(
        result, "production configuration needs SECRET_KEY and DATABASE_URL"
    )
    result = run_flask(
        "db", "current", HEADWAY_CONFIG="production", DATABASE_URL="sqlite://"
    )
    assert_clean_failure(result, "production configuration needs SECRET_KEY")


@pytest.mark.live
def test_gunicorn_refuses_production_without_secret_key():
    env = {
        k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL")
    }
    env["HEADWAY_CONFIG"] = "production"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{closed_port()}",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "production configuration needs SECRET_KEY and DATABASE_URL" in (
        result.stderr
    )


@pytest.mark.live
def test_adopt_on_a_database_with_nothing_in_it(database_url):
    result = run_flask("db", "adopt", database_url=database_url)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "no revision matches; nothing was written" in result.stderr
    assert "table employees: missing" in result.stderr
    engine = sa.create_engine(database_url)
    assert "alembic_version" not in sa.inspect(engine).get_table_names()
    engine.dispose()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # The form every tutorial uses: the MySQLdb driver, not installed.
        (
            "mysql://root:secret@127.0.0.1/employees",
            "which is not installed; Headway uses PyMySQL: "
            "mysql+pymysql://root:***@127.0.0.1/employees",
        ),
        (
            "postgresql://u@127.0.0.1/employees",
            "DATABASE_URL names postgresql (postgresql://...), which Headway "
            "does not support; it supports MySQL/MariaDB",
        ),
    ],
)
@pytest.mark.live
def test_a_database_url_headway_cannot_use_is_one_line(url, expected):
    result = run_flask("db", "current", database_url=url)
    assert_clean_failure(result, expected)
    assert result.stderr.count("\n") == 1, result.stderr
    assert "secret" not in result.stderr


def assert_one_error_line(result, *expected: str) -> str:
    """An in-process `flask` run that failed in one line, no traceback."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    [line] = [x for x in result.output.splitlines() if x.startswith("Error:")]
    for text in expected:
        assert text in line, line
    return line


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("def upgrade(:\n    pass", "0004_broken.py: syntax error on line 18"),
        (None, "0004_broken.py: line 13: down_revision 0003_nope does not exist"),
    ],
)
def test_a_broken_revision_file_is_named_with_its_line(
    scripted_app, scripts, source, problem
):
    head = migrations_head()
    path = scripts.write("0004_broken", head if source else "0003_nope")
    if source:
        path.write_text(path.read_text().replace("def upgrade():", source, 1))
    runner = scripted_app.test_cli_runner()
    for command in (["verify"], ["current"], ["upgrade"], ["heads"], ["history"]):
        assert_one_error_line(
            runner.invoke(args=["db", *command]), f"`flask db {command[0]}`", problem
        )


@pytest.mark.parametrize("value", ["abc", "-5", "nan"])
def test_a_bad_lock_wait_is_refused(runner, value):
    expected = f"-x lock_wait={value}: expected a number of seconds, 0 or more"
    for args in (
        ["db", "upgrade", "-x", f"lock_wait={value}"],
        ["db", "-x", f"lock_wait={value}", "upgrade"],
        ["db", "upgrade", "--adopt", "-x", f"lock_wait={value}"],
        ["db", "downgrade", "-x", f"lock_wait={value}"],
    ):
        assert_one_error_line(runner.invoke(args=args), expected)


def test_downgrade_takes_a_relative_revision(app, runner):
    """`flask db downgrade -2`, as `alembic downgrade -2` (click alone refuses
    a bare -2 as an unknown option); an option's value stays its own."""
    chain = migrations_chain()
    for args, back in (
        (["-1"], 1),
        (["-x", "lock_wait=2", "-2"], 2),
        (["--", "-1"], 1),  # the way that always worked
    ):
        assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
        result = runner.invoke(args=["db", "downgrade", *args])
        assert result.exit_code == 0, result.output
        with app.app_context():
            assert version_rows(db.engine) == [chain[-1 - back]], args
    result = runner.invoke(args=["db", "downgrade", "-1", "-2"])
    assert result.exit_code != 0
    assert "unexpected extra argument (-2)" in result.output
    # -x's value, not the revision: the default one step.
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    assert runner.invoke(args=["db", "downgrade", "-x", "-2"]).exit_code == 0
    with app.app_context():
        assert version_rows(db.engine) == [chain[-2]]


def test_a_refused_statement_is_not_an_unreachable_database(app, runner):
    assert runner.invoke(args=["db", "upgrade", "0001_baseline"]).exit_code == 0
    with app.app_context(), db.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE employees ADD COLUMN email VARCHAR(255)")
    # (Preflight would refuse it first: this is the statement that fails.)
    line = assert_one_error_line(
        runner.invoke(args=["db", "upgrade", "--no-preflight"]),
        "the database refused a statement",
    )
    assert "cannot use the database" not in line
    assert "email" in line.lower()
