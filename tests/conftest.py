"""Fixtures: every database test runs on SQLite, and on MySQL/MariaDB too when
TEST_DATABASE_URL is set. Each test gets a database of its own, dropped after;
a prepared one (at head, with accounts...) is a copy of a template built once
per session (tests/templates.py)."""

import datetime
import hashlib
import os
import sqlite3
import subprocess
from dataclasses import dataclass

import jinja2
import jinja2.bccache
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from app import create_app
from app.clock import utcnow
from app.extensions import db
from app.models.accounts import LoginSession
from config import TestingConfig
from tests.helpers import (
    DIALECTS,
    MYSQL_URL,
    ROLES,
    ROOT,
    Scripts,
    csrf_token,
    login,
    mysql_server_url,
    new_database,
)
from tests.templates import ACCOUNTS, LEGACY, Templates

# Processes started during the current test's setup, call or teardown (None:
# outside a test). Every way the suite starts one goes through
# subprocess.Popen._execute_child (subprocess.run, asyncio's subprocesses,
# Playwright's driver) or os.fork / os.posix_spawn.
_spawned: list[str] | None = None


def _recording(function, describe):
    def wrapper(*args, **kwargs):
        if _spawned is not None:
            _spawned.append(describe(*args))
        return function(*args, **kwargs)

    return wrapper


@sa.event.listens_for(sa.Engine, "connect")
def _sqlite_syncs_nothing(dbapi_connection, connection_record) -> None:
    # A test's SQLite file lives as long as the test: a commit need not
    # survive a power cut. Its fsyncs (journal, file, directory) took 5 to 8 ms
    # a commit on this machine's disk, half of some files' wall time.
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA synchronous=OFF")


class CompiledTemplates(jinja2.BytecodeCache):
    """Jinja's compiled templates, in memory, for every app a test process
    makes (Jinja's bytecode cache: a template is compiled again when its
    source changes)."""

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


def pytest_configure(config):
    # Each test makes its own app, and each app's Jinja environment compiled
    # every template it rendered again: 0.2 s of CPU for a test that logs in
    # and opens five pages, three times what the pages then cost. A served
    # app compiles each template once per worker; so do the tests, per process.
    Flask.jinja_options = {**Flask.jinja_options, "bytecode_cache": CompiledTemplates()}
    subprocess.Popen._execute_child = _recording(
        subprocess.Popen._execute_child, lambda self, args, *_: repr(args)
    )
    os.fork = _recording(os.fork, lambda: "os.fork()")
    os.posix_spawn = _recording(os.posix_spawn, lambda path, *_: repr(path))
    os.posix_spawnp = _recording(os.posix_spawnp, lambda path, *_: repr(path))


def _watch_spawns(item):
    """Fail a test that starts a process unless it is marked `live` (make
    test-fast leaves those out): the mark is explicit, and this keeps it true."""
    global _spawned
    _spawned = []
    try:
        result = yield
    finally:
        spawned, _spawned = _spawned, None
    if spawned and item.get_closest_marker("live") is None:
        pytest.fail(
            f"started a process ({spawned[0]}) but is not marked @pytest.mark.live",
            pytrace=False,
        )
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    return (yield from _watch_spawns(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    return (yield from _watch_spawns(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    return (yield from _watch_spawns(item))


def _instance_files() -> set[str]:
    """What `git status --ignored` lists under instance/ (every file there,
    when this is not a git checkout)."""
    instance = ROOT / "instance"
    try:
        result = subprocess.run(
            ["git", "status", "--ignored", "--porcelain", "-uall", "--", "instance/"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return set(result.stdout.splitlines())
    except (OSError, subprocess.CalledProcessError):
        return {str(p) for p in instance.rglob("*")} if instance.exists() else set()


def pytest_sessionstart(session):
    """With TEST_DATABASE_URL set, an unreachable server fails the run at once
    instead of quietly testing SQLite only."""
    session.config.instance_before = _instance_files()
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


def pytest_sessionfinish(session, exitstatus):
    """The tests leave nothing in the checkout's instance/ (a deployed
    checkout's job logs and databases are the user's): every test writes
    under its own temporary directory."""
    if hasattr(session.config, "workerinput"):
        return  # pytest-xdist: the controller checks, once
    new = _instance_files() - getattr(session.config, "instance_before", set())
    if new:
        session.config.get_terminal_writer().line(
            "the tests left files in instance/: " + ", ".join(sorted(new)), red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _instance_dir(tmp_path, monkeypatch):
    """Every app a test makes, in process or in a `flask` or gunicorn
    process, keeps its instance files (job output, a development secret key,
    the default database) in the test's temporary directory."""
    monkeypatch.setenv("HEADWAY_INSTANCE_DIR", str(tmp_path / "instance"))
    monkeypatch.setenv("HEADWAY_JOB_OUTPUT_DIR", str(tmp_path / "jobs"))


@pytest.fixture(params=DIALECTS)
def database_url(request, tmp_path):
    """The URL of a new, empty database of each dialect under test."""
    with new_database(request.param, tmp_path) as url:
        yield url


def serves_pages(request) -> bool:
    """False for a test marked `cli`: its app is built as a `flask db`,
    `users`, `headway` or `demo` command builds it (wsgi.py: create_app's
    `web`), without the web admin, in under 1 ms of CPU against 50 ms (the
    admin's 128 URL rules, each compiled by Werkzeug)."""
    return request.node.get_closest_marker("cli") is None


@pytest.fixture
def app(request, database_url, tmp_path):
    app = create_app(
        TestingConfig,
        web=serves_pages(request),
        SQLALCHEMY_DATABASE_URI=database_url,
        JOB_OUTPUT_DIR=str(tmp_path / "jobs"),
        # `flask headway ensure-admin` keeps a generated password here, not
        # in the checkout's instance/.
        FIRST_PASSWORD_FILE=str(tmp_path / "first-admin-password"),
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


@pytest.fixture(scope="session")
def templates(tmp_path_factory):
    """The session's template databases (tests/templates.py)."""
    kept = Templates(tmp_path_factory.mktemp("templates"))
    yield kept
    kept.close()


@pytest.fixture
def prepare(templates):
    """prepare(app, steps): the app's database as `steps` leave it (a copy of
    their template): prepare(app, AT_HEAD + (("user", "op", "operator"),))."""
    return templates.prepare


@pytest.fixture
def accounts(app, prepare):
    """The schema at head, Headway's tables and one account per role, named
    after the role (`flask db upgrade`, `flask headway init`, create_user)."""
    prepare(app, ACCOUNTS)
    return ROLES


@dataclass
class Console:
    """What a console test works with, one shape for every file: the app on
    its prepared database, its CLI runner and engine, and a logged-in client
    per user (`client`: the first; `viewer`: the one named "viewer" or
    "watcher", when there is one). `headers`: the first client's CSRF
    header, for the JSON API under a cookie session."""

    app: Flask
    runner: FlaskCliRunner
    engine: sa.Engine
    clients: dict[str, FlaskClient]

    @property
    def client(self) -> FlaskClient:
        return next(iter(self.clients.values()))

    @property
    def viewer(self) -> FlaskClient:
        return self.clients.get("viewer") or self.clients["watcher"]

    @property
    def headers(self) -> dict[str, str]:
        return {"X-CSRFToken": csrf_token(self.client, "/admin/migrations/")}


@pytest.fixture
def make_console(prepare):
    """make_console(app, steps, *usernames): the app's database as `steps`
    leave it (prepare), and a Console with those users logged in."""

    def make(app, steps, *usernames: str) -> Console:
        prepare(app, steps)
        clients = {}
        for name in usernames:
            client = app.test_client()
            response = login(client, name)
            assert response.status_code == 302, response.get_data(as_text=True)
            clients[name] = client
        with app.app_context():
            engine = db.engine
        return Console(app, app.test_cli_runner(), engine, clients)

    return make


@pytest.fixture
def legacy(app, engine, prepare):
    """A legacy database made from plain DDL, unversioned, with data (50
    employees, ~475 salaries: every table has rows)."""
    prepare(app, LEGACY)
    return engine


@pytest.fixture
def logged_in(app, accounts):
    """A logged-in test client per role: logged_in("operator")."""

    def make(role: str):
        client = app.test_client()
        response = login(client, role)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return make


class LoginClock:
    """The time the login throttle reads, moved by the test."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)


@pytest.fixture
def login_clock(monkeypatch):
    """The clock of logins and password checks (app/auth/accounts.py's
    utcnow, which the throttle's windows, delays and locks count from), moved
    by the test, `login_clock.advance(2.1)`, instead of sleeping: a lock ends
    exactly when the test says, however slow the machine."""
    import app.auth.accounts

    clock = LoginClock()
    monkeypatch.setattr(app.auth.accounts, "utcnow", clock)
    return clock


class ReadOnly:
    """One app and database that the tests of a module share, for tests
    that write nothing (see read_only_fixture)."""

    def __init__(self, app: Flask, roles) -> None:
        self.app = app
        self.cookies = {}
        for role in roles:
            client = app.test_client()
            response = login(client, role)
            assert response.status_code == 302, response.get_data(as_text=True)
            self.cookies[role] = client.get_cookie(app.config["SESSION_COOKIE_NAME"])

    def logged_in(self, role: str) -> FlaskClient:
        """A new test client with the role's session cookie as its login left
        it (no flash or form state from an earlier test)."""
        client = self.app.test_client()
        cookie = self.cookies[role]
        client.set_cookie(cookie.key, cookie.value, domain=cookie.domain)
        return client


def database_contents(engine: sa.Engine) -> dict[str, str]:
    """Every table's rows (a digest), but the login sessions' records, which
    a request may touch (their last-seen time)."""
    contents = {}
    with engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            if table == LoginSession.__tablename__:
                continue
            quoted = conn.dialect.identifier_preparer.quote(table)
            rows = conn.exec_driver_sql(f"SELECT * FROM {quoted}")
            contents[table] = hashlib.sha256(
                repr(sorted(repr(tuple(row)) for row in rows)).encode()
            ).hexdigest()
    return contents


def read_only_fixture(steps, roles=ROLES):
    """A module-scoped fixture: one app on one database as `steps` leave it
    (a copy of their template), with each of `roles` logged in once, shared
    by every test of the module that asks for it. Only for tests that write
    nothing: each one sees the database the others saw. After the module's
    last test, the database must hold what it held after the logins: a test
    that wrote fails there."""

    @pytest.fixture(scope="module", params=DIALECTS)
    def read_only(request, tmp_path_factory, templates):
        directory = tmp_path_factory.mktemp(f"read-only-{request.param}")
        with new_database(request.param, directory) as url:
            # Its own instance folder and job output: it is made before
            # any test's (the _instance_dir fixture).
            app = create_app(
                TestingConfig,
                SQLALCHEMY_DATABASE_URI=url,
                INSTANCE_DIR=str(directory / "instance"),
                JOB_OUTPUT_DIR=str(directory / "jobs"),
            )
            templates.prepare(app, steps)
            shared = ReadOnly(app, roles)
            with app.app_context():
                before = database_contents(db.engine)
            yield shared
            with app.app_context():
                after = database_contents(db.engine)
                db.engine.dispose()
            changed = sorted(
                t for t in before.keys() | after.keys() if before.get(t) != after.get(t)
            )
            assert not changed, f"a read-only test wrote to {changed}"

    return read_only


@pytest.fixture
def scripts(tmp_path):
    """A copy of migrations/ that a test can write revisions into."""
    return Scripts.copy_of(ROOT / "migrations", tmp_path / "migrations")


@pytest.fixture
def scripted_app(request, database_url, scripts):
    """The app on a database of its own and on the `scripts` copy of
    migrations/, which the test can add revisions to."""
    app = create_app(
        TestingConfig,
        web=serves_pages(request),
        SQLALCHEMY_DATABASE_URI=database_url,
        MIGRATIONS_DIR=str(scripts.directory),
        JOB_OUTPUT_DIR=str(scripts.directory.parent / "jobs"),
    )
    yield app
    with app.app_context():
        db.engine.dispose()
