"""Headway's own tables live beside the user's schema, under their own history."""

import pytest
from alembic.script import ScriptDirectory

from app.demo.legacy import create_legacy
from app.own_tables.setup import OWN_VERSION_TABLE, own_tables_config
from tests.helpers import (
    data_fingerprint,
    migrations_head,
    table_names,
    version_rows,
)

# `flask` commands only: each test's app is built as the command builds it.
pytestmark = pytest.mark.cli

HEADWAY_TABLES = {
    "headway_users",
    "headway_api_tokens",
    "headway_login_failures",
    "headway_sessions",
    "headway_jobs",
    "headway_audit",
    "headway_drift_checks",
    "headway_preflights",
    "headway_schema_fingerprints",
    "headway_step_runs",
    "headway_step_statements",
    "headway_migration_lock",
    "headway_data_changes",
}
HEADWAY_HEAD = ScriptDirectory.from_config(own_tables_config()).get_current_head()


def test_each_history_has_exactly_one_head(app):
    """Revisions added side by side are rebased onto the current head before
    they land: Headway's own history and the user's each end in one head."""
    with app.app_context():
        own = ScriptDirectory.from_config(own_tables_config())
        assert len(own.get_heads()) == 1, own.get_heads()
    assert migrations_head()  # (raises on several heads)


def test_init_is_idempotent_and_touches_nothing_else(runner, engine):
    create_legacy(engine, scale=0.003)
    before = table_names(engine)
    data = data_fingerprint(engine)

    for _ in range(2):
        result = runner.invoke(args=["headway", "init"])
        assert result.exit_code == 0, result.output
        assert f"Headway tables at {HEADWAY_HEAD}" in result.output

    assert table_names(engine) - before == HEADWAY_TABLES | {OWN_VERSION_TABLE}
    assert version_rows(engine, OWN_VERSION_TABLE) == [HEADWAY_HEAD]
    # The user's schema stays unversioned and its data untouched.
    assert version_rows(engine) is None
    assert data_fingerprint(engine) == data


def test_user_schema_history_never_touches_headway_tables(runner, engine):
    assert runner.invoke(args=["headway", "init"]).exit_code == 0
    assert runner.invoke(args=["headway", "ensure-admin"]).exit_code == 0
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0

    result = runner.invoke(args=["db", "downgrade", "base"])
    assert result.exit_code == 0, result.output
    assert table_names(engine) == HEADWAY_TABLES | {
        OWN_VERSION_TABLE,
        "alembic_version",
    }
    with engine.connect() as conn:
        users = conn.exec_driver_sql("SELECT username FROM headway_users").all()
    assert users == [("admin",)]

    # The schema is gone: a stamp at head is refused (it is not head's)...
    result = runner.invoke(args=["db", "stamp", "head"])
    assert result.exit_code == 1
    assert f"refusing to stamp {migrations_head()}" in result.output
    assert version_rows(engine) == []
    # ...unless told not to verify; the own tables' version never moves.
    result = runner.invoke(args=["db", "stamp", "--no-verify", "head"])
    assert result.exit_code == 0, result.output
    assert version_rows(engine) == [migrations_head()]
    assert version_rows(engine, OWN_VERSION_TABLE) == [HEADWAY_HEAD]


def test_stamp_head_on_the_legacy_database(runner, engine):
    """`flask db stamp head` works as Flask-Migrate documents it: it writes the
    version and nothing else."""
    create_legacy(engine, scale=0.003)
    data = data_fingerprint(engine)
    before = table_names(engine)
    result = runner.invoke(args=["db", "stamp", "0001_baseline"])
    assert result.exit_code == 0, result.output
    assert table_names(engine) - before == {"alembic_version"}
    assert data_fingerprint(engine) == data


def test_ensure_admin(runner, engine, monkeypatch, tmp_path):
    kept = tmp_path / "first-admin-password"
    runner.app.config["FIRST_PASSWORD_FILE"] = str(kept)
    result = runner.invoke(args=["headway", "ensure-admin"])
    assert result.exit_code == 1
    assert "run `flask headway init`" in result.output
    assert runner.invoke(args=["headway", "init"]).exit_code == 0

    monkeypatch.setenv("HEADWAY_ADMIN_PASSWORD", "too-short")
    result = runner.invoke(args=["headway", "ensure-admin"])
    assert result.exit_code == 1
    assert "at least 12 characters" in result.output

    monkeypatch.delenv("HEADWAY_ADMIN_PASSWORD")
    result = runner.invoke(args=["headway", "ensure-admin"])
    assert result.exit_code == 0, result.output
    # The password last, in a framed block, and kept in instance/ for its
    # owner only.
    lines = result.output.strip().splitlines()
    assert lines[-1] == "#" * len(lines[-1]) and len(lines[-1]) > 20
    password = next(ln for ln in lines if "password:" in ln).split()[-2]
    assert len(password) >= 12
    assert kept.read_text().strip() == password
    assert kept.stat().st_mode & 0o777 == 0o600
    assert str(kept) in result.output

    result = runner.invoke(args=["headway", "ensure-admin"])
    assert result.exit_code == 0
    assert "An admin account exists" in result.output
    assert password not in result.output

    # Once the admin changes the password, the kept one goes.
    from app.auth.accounts import set_password
    from app.extensions import db
    from app.models.accounts import User

    with runner.app.app_context():
        admin = db.session.scalars(db.select(User)).one()
        set_password(admin, "a-new-password-123")
        db.session.commit()
    assert not kept.exists()

    with engine.connect() as conn:
        stored = conn.exec_driver_sql(
            "SELECT username, role, password_hash FROM headway_users"
        ).all()
    assert [(u, r) for u, r, _ in stored] == [("admin", "admin")]
    assert stored[0][2].startswith("$argon2id$")
    assert password not in stored[0][2]


def test_ensure_admin_takes_the_password_from_the_environment(app, runner, monkeypatch):
    from app.auth.passwords import verify_password
    from app.extensions import db
    from app.models import User

    assert runner.invoke(args=["headway", "init"]).exit_code == 0
    monkeypatch.setenv("HEADWAY_ADMIN_PASSWORD", "correct horse battery")
    result = runner.invoke(args=["headway", "ensure-admin"])
    assert result.exit_code == 0, result.output
    assert "correct horse battery" not in result.output
    with app.app_context():
        user = db.session.scalar(db.select(User))
        assert verify_password(user.password_hash, "correct horse battery")
        assert not verify_password(user.password_hash, "wrong password!!")


def test_own_tables_match_the_models(app, runner, engine):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from app.extensions import db
    from app.own_tables.setup import include_own_table

    assert runner.invoke(args=["headway", "init"]).exit_code == 0
    with app.app_context(), engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"include_object": include_own_table, "compare_type": True},
        )
        assert compare_metadata(context, db.metadata) == []


def test_0002_keeps_accounts_and_gives_old_tokens_an_expiry(app, engine):
    """From the first version of Headway's tables, with an account and a token,
    to sessions and token expiry; and back."""
    import datetime

    from alembic import command

    from app.own_tables.setup import own_tables_config

    with app.app_context():
        command.upgrade(own_tables_config(), "0001_headway_tables")
    created = datetime.datetime(2026, 1, 1, 12, 0)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO headway_users (id, username, password_hash, role, active, "
            "session_token, created_at, failed_logins) "
            "VALUES (1, 'alice', 'x', 'admin', 1, 'abc', '2026-01-01 12:00:00', 0)"
        )
        conn.exec_driver_sql(
            "INSERT INTO headway_api_tokens (id, user_id, name, token_hash, "
            "created_at) VALUES (7, 1, 'ci', 'h', '2026-01-01 12:00:00')"
        )
    with app.app_context():
        command.upgrade(own_tables_config(), "heads")
    with engine.connect() as conn:
        assert conn.exec_driver_sql(
            "SELECT username, role FROM headway_users"
        ).all() == [("alice", "admin")]
        expires = conn.exec_driver_sql(
            "SELECT expires_at FROM headway_api_tokens WHERE id = 7"
        ).scalar_one()
    if isinstance(expires, str):  # SQLite
        expires = datetime.datetime.fromisoformat(expires)
    assert expires == created + datetime.timedelta(days=90)
    assert "headway_sessions" in table_names(engine)

    with app.app_context():
        command.downgrade(own_tables_config(), "0001_headway_tables")
    assert "headway_sessions" not in table_names(engine)
    with engine.connect() as conn:
        assert (
            conn.exec_driver_sql("SELECT count(*) FROM headway_api_tokens").scalar_one()
            == 1
        )
