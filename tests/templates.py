"""Databases prepared once per session and copied for each test.

A test's starting state is a list of steps (`flask` commands run in process,
the legacy DDL with data, accounts). The first test that asks for a list runs
it, as it always ran, on a template database of its own; every test that asks
for the same list on the same dialect, migrations and collation gets a copy of
that template: the SQLite file copied, or the MariaDB/MySQL tables, rows and
views copied into the test's database (SHOW CREATE, INSERT ... SELECT). A
copy takes milliseconds on SQLite and a few hundred on MariaDB, where running
the migrations took one to three seconds per test.

A test whose database is not empty when it asks (another fixture wrote to it
first) runs the steps on it, as before: a copy would replace what is there.
"""

import contextlib
import hashlib
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

import sqlalchemy as sa

from app import create_app
from app.auth.accounts import create_user
from app.demo.legacy import create_legacy
from app.extensions import db
from config import TestingConfig
from tests.helpers import PASSWORD, ROLES, new_database

# A step: ("flask", *args) runs `flask ARGS` with the app's CLI test runner;
# ("legacy", scale, seed) builds the legacy employees database with data;
# ("user", name, role) creates an account whose password is PASSWORD.
Step = tuple
AT_HEAD = (("flask", "db", "upgrade"), ("flask", "headway", "init"))
LEGACY = (("legacy", 0.005, 7),)
ACCOUNTS = AT_HEAD + tuple(("user", role, role) for role in ROLES)


def run_steps(app, steps: Iterable[Step]) -> None:
    """Run `steps` on the app's database, as the fixtures always did, in the
    app's own context (a `flask` command runs in whichever app's context is
    pushed: the `engine` fixture's would be another app's)."""
    with app.app_context():
        _run_steps(app, steps)


def _run_steps(app, steps: Iterable[Step]) -> None:
    runner = app.test_cli_runner()
    for kind, *args in steps:
        if kind == "flask":
            result = runner.invoke(args=list(args))
            assert result.exit_code == 0, f"flask {' '.join(args)}:\n{result.output}"
        elif kind == "legacy":
            scale, seed = args
            create_legacy(db.engine, scale=scale, seed=seed)
        elif kind == "user":
            name, role = args
            create_user(name, PASSWORD, role)
        else:
            raise ValueError(f"unknown step {kind!r}")


def tree_digest(directory: str) -> str:
    """What a migrations directory holds (names and bytes, no caches): the
    template built on one copy serves every copy with the same content."""
    digest = hashlib.sha256()
    root = Path(directory)
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _is_empty(conn: sa.Connection) -> bool:
    inspector = sa.inspect(conn)
    return not inspector.get_table_names() and not inspector.get_view_names()


def _collation(conn: sa.Connection) -> str | None:
    if conn.dialect.name != "mysql":
        return None
    return conn.exec_driver_sql(
        "SELECT DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA "
        "WHERE SCHEMA_NAME = DATABASE()"
    ).scalar_one()


class MySQLTemplate:
    """A template database on a MySQL/MariaDB server: its tables' and views'
    DDL as the server writes it back, read once, and its rows."""

    def __init__(self, url: str) -> None:
        self.url = sa.make_url(url)
        self.name = self.url.database
        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            # Nothing the copy below would leave out.
            others = conn.exec_driver_sql(
                "SELECT (SELECT COUNT(*) FROM information_schema.TRIGGERS "
                "WHERE TRIGGER_SCHEMA = DATABASE()) + (SELECT COUNT(*) FROM "
                "information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()) + "
                "(SELECT COUNT(*) FROM information_schema.EVENTS "
                "WHERE EVENT_SCHEMA = DATABASE())"
            ).scalar_one()
            assert others == 0, "a template with triggers, routines or events"
            self.tables, self.views = [], []
            for name, kind in conn.exec_driver_sql("SHOW FULL TABLES").all():
                if kind == "VIEW":
                    ddl = conn.exec_driver_sql(f"SHOW CREATE VIEW `{name}`").one()[1]
                    # A view's definition names its tables with the database.
                    self.views.append(ddl.replace(f"`{self.name}`.", ""))
                else:
                    ddl = conn.exec_driver_sql(f"SHOW CREATE TABLE `{name}`").one()[1]
                    self.tables.append((name, ddl))
        engine.dispose()

    def copy_to(self, url: sa.URL) -> None:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            conn.exec_driver_sql("SET SESSION foreign_key_checks = 0")
            for _, ddl in self.tables:
                conn.exec_driver_sql(ddl)
            for name, _ in self.tables:
                conn.exec_driver_sql(
                    f"INSERT INTO `{name}` SELECT * FROM `{self.name}`.`{name}`"
                )
            conn.commit()
            # Views in an order their dependencies allow (a view on a view).
            views, failures = list(self.views), 0
            while views:
                try:
                    conn.exec_driver_sql(views[0])
                except sa.exc.ProgrammingError:
                    failures += 1
                    assert failures <= len(views), f"cannot create {views}"
                    views.append(views.pop(0))
                else:
                    views.pop(0)
                    failures = 0
        engine.dispose()


class Templates:
    """The session's template databases, by (dialect, server, collation,
    migrations, steps); dropped at the end of the session."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.built: dict[tuple, object] = {}
        self.stack = contextlib.ExitStack()

    def close(self) -> None:
        self.stack.close()

    def prepare(self, app, steps: Iterable[Step]) -> None:
        """Bring the app's database to the state `steps` make: a copy of the
        template when the database is empty, else the steps themselves."""
        steps = tuple(steps)
        url = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
        with app.app_context():
            with db.engine.connect() as conn:
                empty = _is_empty(conn)
                collation = _collation(conn)
            # The copy goes round the app's pool: nothing of it stays open.
            db.engine.dispose()
        if not empty:
            run_steps(app, steps)
            return
        migrations = app.config["MIGRATIONS_DIR"]
        key = (
            url.get_backend_name(),
            url.set(database="").render_as_string(hide_password=False),
            collation,
            tree_digest(migrations),
            steps,
        )
        if key not in self.built:
            self.built[key] = self._build(url, collation, migrations, steps)
        template = self.built[key]
        if isinstance(template, MySQLTemplate):
            template.copy_to(url)
        else:
            shutil.copyfile(template, url.database)

    def _build(self, url: sa.URL, collation, migrations: str, steps) -> object:
        directory = Path(tempfile.mkdtemp(prefix="template-", dir=self.directory))
        if url.get_backend_name() == "sqlite":
            template_url = f"sqlite:///{directory / 'template.db'}"
        else:
            server = url.set(database=f"{url.database.rsplit('_', 1)[0]}_tpl")
            template_url = self.stack.enter_context(
                new_database("mysql", directory, server=server, collation=collation)
            )
        app = create_app(
            TestingConfig,
            SQLALCHEMY_DATABASE_URI=template_url,
            MIGRATIONS_DIR=migrations,
            JOB_OUTPUT_DIR=str(directory / "jobs"),
        )
        run_steps(app, steps)
        with app.app_context():
            db.engine.dispose()
        if url.get_backend_name() == "sqlite":
            return directory / "template.db"
        return MySQLTemplate(template_url)
