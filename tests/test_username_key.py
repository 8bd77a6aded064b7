"""One canonical name per account (username_key): the case, width or blanks a
name is typed in neither makes a second account nor escapes the login
throttle. On MySQL/MariaDB too, whose usual collations compare names
case-insensitively and ignore trailing spaces while the rows are looked up
by exact strings elsewhere."""

import pytest
import sqlalchemy as sa
from alembic import command

from app.auth.accounts import create_user, username_key
from app.errors import HeadwayError
from app.extensions import db
from app.models.accounts import LoginFailures, User
from app.own_tables.setup import own_tables_config
from tests.helpers import PASSWORD, apps_on, client_from, csrf_token, login

WRONG = "wrong password!!"


@pytest.fixture
def make_app(database_url, accounts):
    """An app on the accounts' database with its own settings."""
    with apps_on(database_url) as make:
        yield make


def test_the_key_folds_case_width_and_blanks_but_not_accents():
    for variant in ("VICTIM", "victim ", " Victim\t", "ｖｉｃｔｉｍ", "ＶＩＣＴＩＭ"):
        assert username_key(variant) == "victim"
    assert username_key("Straße") == username_key("STRASSE") == "strasse"
    assert username_key("José") != username_key("jose")


def test_case_and_space_variants_share_the_account_throttle(make_app):
    """Guesses at `VICTIM`, `victim ` and `Viewer`-like variants from many
    addresses count against the one account: the delay comes, and the real
    owner typing the plain name meets the same delay, no other."""
    app = make_app(LOGIN_ACCOUNT_FREE_FAILURES=3, LOGIN_ACCOUNT_MAX_DELAY_SECONDS=30)
    for i, variant in enumerate(("VIEWER", "viewer ", "Ｖｉｅｗｅｒ")):
        response = login(client_from(app, f"203.0.113.{i}"), variant, WRONG)
        assert response.status_code == 200, variant
    for i, variant in enumerate(("VIEWER", "viewer ", "ViEwEr", "viewer")):
        response = login(client_from(app, f"198.51.100.{i}"), variant, WRONG)
        assert response.status_code == 429, variant
        assert response.headers["Retry-After"] == "1"
    # The owner, right password, own address: the same answer as everyone.
    response = login(client_from(app, "192.0.2.10"), "viewer", PASSWORD)
    assert response.status_code == 429
    with app.app_context():
        rows = db.session.scalars(
            sa.select(LoginFailures).where(LoginFailures.scope == "account")
        ).all()
    assert [(r.username, r.failures) for r in rows] == [("viewer", 3)]


def test_the_right_password_in_another_case_after_the_pair_lock_fails(make_app):
    app = make_app()
    attacker = client_from(app, "203.0.113.9")
    for variant in ("operator", "OPERATOR", "operator ", "Operator", "oPERATOR"):
        assert login(attacker, variant, WRONG).status_code == 200
    # The pair (operator, this address) is locked, however the name is typed.
    for variant in ("operator", "Operator", "operator ", "ＯＰＥＲＡＴＯＲ"):
        response = login(attacker, variant, PASSWORD)
        assert response.status_code == 200, variant
        assert "Wrong username or password" in response.get_data(as_text=True)
    # The owner, from elsewhere, logs in, in any case: one account.
    assert login(client_from(app, "192.0.2.10"), "Operator ").status_code == 302


def test_one_account_per_key_and_accents_stay_apart(app, accounts):
    """`José` and `jose` are two accounts (a binary key: MariaDB's
    utf8mb4_general_ci would call them equal); `JOSÉ ` is José's."""
    with app.app_context():
        create_user("José", PASSWORD, "viewer")
        create_user("jose", PASSWORD, "viewer")
        for taken in ("JOSÉ ", "ＪＯＳＥ", "VIEWER"):
            with pytest.raises(HeadwayError, match="already exists"):
                create_user(taken, PASSWORD, "viewer")
        keys = db.session.scalars(
            sa.select(User.username_key).order_by(User.username_key)
        ).all()
    assert keys == ["admin", "jose", "josé", "operator", "viewer"]


def test_the_migration_refuses_clashing_names_and_lists_them(app, runner, engine):
    with app.app_context():
        command.upgrade(own_tables_config(), "0005_login_failure_times")
    with engine.begin() as conn:
        for id_, name in enumerate(("bob", "ｂｏｂ", "Straße", "STRASSE", "amy"), 1):
            conn.execute(
                sa.text(
                    "INSERT INTO headway_users (id, username, password_hash, role, "
                    "active, created_at) VALUES (:id, :name, 'x', 'viewer', 1, "
                    "'2026-01-01 12:00:00')"
                ),
                {"id": id_, "name": name},
            )
    with app.app_context(), pytest.raises(HeadwayError) as refused:
        command.upgrade(own_tables_config(), "heads")
    message = str(refused.value)
    # As `flask headway init` says it: the list, no traceback.
    result = runner.invoke(args=["headway", "init"])
    assert result.exit_code == 1
    assert "clash:\n" in result.output
    assert "\n  'bob', 'ｂｏｂ' (differ only by case" in result.output
    assert "Traceback" not in result.output
    assert "'bob', 'ｂｏｂ'" in message
    assert "'STRASSE', 'Straße'" in message
    assert "amy" not in message
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("headway_users")}
    assert "username_key" not in columns  # nothing changed

    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM headway_users WHERE id IN (2, 4)")
    with app.app_context():
        command.upgrade(own_tables_config(), "heads")
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT username, username_key FROM headway_users ORDER BY id"
        ).all()
    assert rows == [("bob", "bob"), ("Straße", "strasse"), ("amy", "amy")]


def test_own_tables_are_utf8mb4_on_a_latin1_database(app, runner, engine):
    if engine.dialect.name != "mysql":
        pytest.skip("character sets are MySQL/MariaDB's")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "ALTER DATABASE CHARACTER SET latin1 COLLATE latin1_swedish_ci"
        )
    result = runner.invoke(args=["headway", "init"])
    assert result.exit_code == 0, result.output
    with engine.connect() as conn:
        tables = conn.exec_driver_sql(
            "SELECT TABLE_NAME, TABLE_COLLATION FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'headway\\_%%' "
            "AND TABLE_NAME != 'headway_alembic_version'"
        ).all()
        keys = dict(
            conn.exec_driver_sql(
                "SELECT CONCAT(TABLE_NAME, '.', COLUMN_NAME), COLLATION_NAME "
                "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
                "AND COLUMN_NAME IN ('username', 'username_key')"
            ).all()
        )
    own = {t.name for t in db.metadata.sorted_tables if t.name.startswith("headway_")}
    assert {name for name, _ in tables} == own
    assert all(collation.startswith("utf8mb4_") for _, collation in tables), tables
    assert keys == {
        "headway_users.username": "utf8mb4_bin",
        "headway_users.username_key": "utf8mb4_bin",
        "headway_login_failures.username": "utf8mb4_bin",
        # Who made a data change, as a record (not a key to look accounts up by).
        "headway_data_changes.username": "utf8mb4_unicode_ci",
    }
    with app.app_context():
        create_user("Zoë 🙂", PASSWORD, "viewer")
    assert login(app.test_client(), "ZOË 🙂").status_code == 302


def test_the_users_page_refuses_a_name_taken_in_another_case(app, logged_in):
    admin = logged_in("admin")
    response = admin.post(
        "/admin/users/new/",
        data={
            "csrf_token": csrf_token(admin, "/admin/users/"),
            "username": "Ｖｉｅｗｅｒ ",
            "role": "viewer",
            "active": "y",
            "new_password": "a long enough password",
        },
    )
    assert response.status_code == 200
    assert "The name is taken by &#39;viewer&#39;." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(User.id))) == 3
