"""`flask db` runs without Flask-SQLAlchemy's ORM (app/database.py,
create_app's `orm`): on an engine built as Flask-SQLAlchemy builds its own,
and on the MetaData the models fill."""

import json
import subprocess
import sys
import threading

import pytest
import sqlalchemy as sa

from app import create_app
from app.database import ShellDatabase
from app.extensions import db
from config import TestingConfig
from tests.flask_batch import OUTPUT_END
from tests.helpers import ROOT, migrations_chain, run_flask, subprocess_env

URLS = (
    "sqlite://",
    "sqlite:///relative.db",
    "sqlite:///{tmp}/absolute.db",
    "sqlite:///file:relative-uri.db?uri=true",
    "mysql+pymysql://user:secret@db.example/legacy",
    "mysql+pymysql://user:secret@db.example/legacy?charset=latin1",
    "mariadb+pymysql://user:secret@db.example:3307/legacy",
)
OPTIONS = ({}, {"pool_recycle": 60, "pool_pre_ping": False, "echo": True})


def both_engines(tmp_path, url: str, options: dict):
    """Flask-SQLAlchemy's engine and the shell's, from one configuration."""
    app = create_app(
        TestingConfig,
        web=False,
        SQLALCHEMY_DATABASE_URI=url.format(tmp=tmp_path),
        SQLALCHEMY_ENGINE_OPTIONS=options,
    )
    with app.app_context():
        return db.engine, ShellDatabase(app).engine


@pytest.mark.parametrize("options", OPTIONS, ids=("defaults", "given"))
@pytest.mark.parametrize("url", URLS)
def test_the_shell_engine_is_flask_sqlalchemys(tmp_path, url, options):
    theirs, ours = both_engines(tmp_path, url, options)
    assert ours.url.render_as_string(
        hide_password=False
    ) == theirs.url.render_as_string(hide_password=False)
    assert type(ours.pool) is type(theirs.pool)
    for setting in ("_recycle", "_pre_ping", "echo"):
        assert getattr(ours.pool, setting, None) == getattr(
            theirs.pool, setting, None
        ), setting
    assert ours.echo == theirs.echo


def test_an_in_memory_shell_engine_serves_every_thread(tmp_path):
    """Flask-SQLAlchemy shares one in-memory SQLite connection between
    threads (a StaticPool, without SQLite's same-thread check): so does
    the shell's engine."""
    for engine in both_engines(tmp_path, "sqlite://", {}):
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE seen (n INTEGER)")
            conn.exec_driver_sql("INSERT INTO seen VALUES (1)")
        found = []

        def read(engine=engine, found=found):
            with engine.connect() as conn:
                found.append(conn.exec_driver_sql("SELECT n FROM seen").scalar())

        thread = threading.Thread(target=read)
        thread.start()
        thread.join()
        assert found == [1]


def test_the_shell_database_has_the_models_metadata(tmp_path):
    app = create_app(TestingConfig, web=False, orm=False)
    assert "sqlalchemy" not in app.extensions
    assert app.extensions["migrate"].db.metadata is db.metadata


def test_the_web_app_needs_the_orm():
    with pytest.raises(ValueError, match="orm=False goes with web=False"):
        create_app(TestingConfig, web=True, orm=False)


def flask_batch(database_url: str, *commands: tuple[str, ...]) -> list[str]:
    """Each command's output, run as `flask ARGS` builds its app (wsgi.py:
    without the ORM for `flask db`), in one process."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.flask_batch"],
        cwd=ROOT,
        env=subprocess_env(DATABASE_URL=database_url),
        input=json.dumps([[list(c), None] for c in commands]),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.split(OUTPUT_END + "\n")[: len(commands)]


@pytest.mark.live
def test_flask_db_without_the_orm_upgrades_verifies_and_downgrades(database_url):
    *_, before_head, head = migrations_chain()
    out = flask_batch(
        database_url,
        ("db", "upgrade", before_head),
        ("db", "current"),
        ("db", "verify"),
        ("db", "preflight", "head"),
        ("db", "upgrade"),
        ("db", "verify"),
        ("db", "check"),
        ("db", "downgrade", before_head),
        ("db", "current"),
    )
    assert before_head in out[1]
    assert f"matches {before_head}" in out[2]
    assert f"matches {head}" in out[5]
    assert "No new upgrade operations detected" in out[6]
    assert before_head in out[8] and head not in out[8]


@pytest.mark.live
def test_flask_db_check_without_the_orm_compares_with_the_models(database_url):
    """The models fill the MetaData Flask-Migrate compares with: an index
    the models have and the database lost is found (an empty MetaData would
    find nothing to add)."""
    flask_batch(database_url, ("db", "upgrade"))
    engine = sa.create_engine(database_url)
    on_table = "" if engine.dialect.name == "sqlite" else " ON employees"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP INDEX ix_employees_last_name{on_table}")
    engine.dispose()
    result = run_flask("db", "check", database_url=database_url)
    assert result.returncode != 0
    assert "ix_employees_last_name" in result.stdout + result.stderr
