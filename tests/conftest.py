"""Fixtures: every database test runs on SQLite, and on MySQL/MariaDB too when
TEST_DATABASE_URL is set. Each test gets a database of its own, dropped after."""

import contextlib
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from app.auth.accounts import create_user
from app.extensions import db
from config import TestingConfig

ROOT = Path(__file__).resolve().parent.parent
MYSQL_URL = os.environ.get("TEST_DATABASE_URL")
DIALECTS = ["sqlite"] + (["mysql"] if MYSQL_URL else [])


def mysql_server_url() -> sa.URL:
    return sa.make_url(MYSQL_URL)


def pytest_sessionstart(session):
    """With TEST_DATABASE_URL set, an unreachable server fails the run at once
    instead of quietly testing SQLite only."""
    if not MYSQL_URL:
        return
    engine = sa.create_engine(mysql_server_url().set(database=""))
    try:
        with engine.connect():
            pass
    except sa.exc.SQLAlchemyError as exc:
        pytest.exit(f"TEST_DATABASE_URL is unreachable: {exc.orig}", returncode=1)
    finally:
        engine.dispose()


@contextlib.contextmanager
def new_database(dialect: str, directory: Path) -> Iterator[str]:
    """The URL of a new, empty database: "sqlite", a file in `directory`;
    "mysql", a database of its own on TEST_DATABASE_URL's server, dropped after."""
    if dialect == "sqlite":
        yield f"sqlite:///{directory / 'headway.db'}"
        return
    server = mysql_server_url()
    name = f"{server.database or 'headway_test'}_{secrets.token_hex(4)}"
    admin = sa.create_engine(server.set(database=""), poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(
            f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
        )
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            # Fail rather than wait forever on a connection a test left open.
            conn.exec_driver_sql("SET SESSION lock_wait_timeout = 60")
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        admin.dispose()


@pytest.fixture(params=DIALECTS)
def database_url(request, tmp_path):
    """The URL of a new, empty database of each dialect under test."""
    with new_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def app(database_url):
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=database_url)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def engine(app):
    with app.app_context():
        yield db.engine


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


PASSWORD = "correct horse battery staple"
ROLES = ("viewer", "operator", "admin")
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture
def accounts(app, runner):
    """The schema at head, Headway's tables and one account per role, named
    after the role."""
    for command in (["db", "upgrade"], ["headway", "init"]):
        result = runner.invoke(args=command)
        assert result.exit_code == 0, result.output
    with app.app_context():
        for role in ROLES:
            create_user(role, PASSWORD, role)
    return ROLES


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


@pytest.fixture
def logged_in(app, accounts):
    """A logged-in test client per role: logged_in("operator")."""

    def make(role: str):
        client = app.test_client()
        response = login(client, role)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return make


@pytest.fixture
def scripts(tmp_path):
    """A copy of migrations/ that a test can write revisions into."""
    from tests.helpers import Scripts

    return Scripts.copy_of(ROOT / "migrations", tmp_path / "migrations")


@pytest.fixture
def scripted_app(database_url, scripts):
    """The app on a database of its own and on the `scripts` copy of
    migrations/, which the test can add revisions to."""
    app = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=database_url,
        MIGRATIONS_DIR=str(scripts.directory),
    )
    yield app
    with app.app_context():
        db.engine.dispose()
