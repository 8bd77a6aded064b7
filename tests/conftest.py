"""Fixtures: every database test runs on SQLite, and on MySQL/MariaDB too when
TEST_DATABASE_URL is set. Each test gets a database of its own, dropped after."""

import inspect
import re

import pytest
import sqlalchemy as sa

from app import create_app
from app.auth.accounts import create_user
from app.extensions import db
from config import TestingConfig
from tests.helpers import (
    DIALECTS,
    MYSQL_URL,
    PASSWORD,
    ROLES,
    ROOT,
    Scripts,
    login,
    mysql_server_url,
    new_database,
)

# Fixtures and calls that start gunicorn, a `flask` process or Chromium.
LIVE_FIXTURES = {"live", "live_server", "chromium", "browser_session"}
LIVE_CALLS = re.compile(r"\b(run_flask|LiveServer|subprocess|live_server)\b")


def pytest_collection_modifyitems(config, items):
    """Mark the tests that start processes `live`: `make test-fast` (pytest
    -m "not live") leaves them out for a quick inner loop."""
    for item in items:
        function = getattr(item, "function", None)
        try:
            source = inspect.getsource(function) if function else ""
        except (OSError, TypeError):
            source = ""
        if LIVE_FIXTURES & set(getattr(item, "fixturenames", ())) or (
            LIVE_CALLS.search(source)
        ):
            item.add_marker(pytest.mark.live)


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


@pytest.fixture(params=DIALECTS)
def database_url(request, tmp_path):
    """The URL of a new, empty database of each dialect under test."""
    with new_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def app(database_url, tmp_path):
    app = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=database_url,
        JOB_OUTPUT_DIR=str(tmp_path / "jobs"),
    )
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
    return Scripts.copy_of(ROOT / "migrations", tmp_path / "migrations")


@pytest.fixture
def scripted_app(database_url, scripts):
    """The app on a database of its own and on the `scripts` copy of
    migrations/, which the test can add revisions to."""
    app = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=database_url,
        MIGRATIONS_DIR=str(scripts.directory),
        JOB_OUTPUT_DIR=str(scripts.directory.parent / "jobs"),
    )
    yield app
    with app.app_context():
        db.engine.dispose()
