"""A `flask db|users|headway|demo` command serves no page: it starts without
the web admin, the API's schemas, WTForms or Flask-Login (wsgi.py,
create_app's `web`)."""

import pytest
from alembic.script import ScriptDirectory

from tests.helpers import run_flask

WEB_MODULES = (
    "flask_admin",
    "wtforms",
    "flask_wtf",
    "pydantic",
    "flask_login",
    "app.admin",
)


@pytest.mark.parametrize(
    "command",
    [("db", "current"), ("users", "list"), ("headway", "--help"), ("demo", "--help")],
)
@pytest.mark.live
def test_a_shell_command_imports_no_web_module(database_url, command):
    result = run_flask(*command, DATABASE_URL=database_url, PYTHONPROFILEIMPORTTIME="1")
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert imported, result.stderr  # the import times were printed
    loaded = sorted(
        m for m in imported if any(m == w or m.startswith(w + ".") for w in WEB_MODULES)
    )
    assert not loaded, loaded


@pytest.mark.live
def test_flask_db_current_reads_the_version_without_the_models(database_url):
    """The models (and the guards, the journal, SQLAlchemy's ORM) are for
    runs that change or compare the schema; `flask db current` only reads the
    version table."""
    result = run_flask(
        "db", "current", DATABASE_URL=database_url, PYTHONPROFILEIMPORTTIME="1"
    )
    assert result.returncode == 0, result.stderr
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    heavy = (
        "app.models",
        "app.dbadmin.core.guards",
        "app.dbadmin.core.journal",
        "flask_sqlalchemy",
        "sqlalchemy.orm",
    )
    assert not [m for m in heavy if m in imported], sorted(imported)


@pytest.mark.live
def test_flask_routes_still_has_the_whole_app(database_url):
    result = run_flask("routes", DATABASE_URL=database_url)
    assert result.returncode == 0, result.stderr
    assert "migrations.index" in result.stdout and "api.me" in result.stdout


@pytest.mark.cli
def test_a_flask_db_run_imports_the_revision_files_once(runner, monkeypatch):
    """The catalog imports them (`flask db` names a broken one before
    Alembic would fail on it); the ScriptDirectory each Alembic command makes
    then borrows them (catalog.lend_scripts) instead of importing every one
    again."""
    loads = []
    own_loading = ScriptDirectory._load_revisions

    def counted(script):
        loads.append(script.dir)
        return own_loading(script)

    monkeypatch.setattr(ScriptDirectory, "_load_revisions", counted)
    for args in (
        ["db", "upgrade"],
        ["db", "current"],
        ["db", "check"],
        ["db", "downgrade", "-1"],
        ["db", "upgrade", "--sql"],
    ):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, (args, result.output)
    assert loads == []
