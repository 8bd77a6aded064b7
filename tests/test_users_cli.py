"""`flask users ...`: accounts and tokens from the shell."""

import pytest
import sqlalchemy as sa

from app.auth.accounts import find_user
from app.auth.passwords import verify_password
from app.auth.sessions import start_session
from app.auth.tokens import create_token
from app.extensions import db
from app.models import ApiToken, LoginSession, User

# `flask` commands only: each test's app is built as the command builds it.
pytestmark = pytest.mark.cli

LONG = "a long enough password"


@pytest.fixture
def cli(app, runner, prepare):
    """`flask users ARGS` on a database with Headway's tables (`flask headway
    init`: a copy of its template)."""
    prepare(app, (("flask", "headway", "init"),))

    def invoke(*args, input=None):
        return runner.invoke(args=["users", *args], input=input)

    return invoke


def user(app, name):
    with app.app_context():
        found = db.session.scalar(db.select(User).where(User.username == name))
        if found is not None:
            db.session.expunge(found)
        return found


def test_create_with_stdin_and_with_the_prompt(app, cli):
    result = cli(
        "create", "alice", "--role", "operator", "--password-stdin", input=LONG + "\n"
    )
    assert result.exit_code == 0, result.output
    assert "Created alice (operator)." in result.output
    with app.app_context():
        alice = db.session.scalar(db.select(User).where(User.username == "alice"))
        assert verify_password(alice.password_hash, LONG)

    # Without --password-stdin it asks twice; a mismatch asks again.
    result = cli(
        "create",
        "bob",
        "--role",
        "viewer",
        input=f"{LONG}\nother one here\n{LONG}\n{LONG}\n",
    )
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert result.output.count("Repeat for confirmation") == 2
    assert user(app, "bob").role == "viewer"


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (
            ["create", "x", "--role", "viewer", "--password-stdin"],
            "short\n",
            "at least 12 characters",
        ),
        (
            ["create", "x", "--role", "viewer", "--password-stdin"],
            "\n",
            "at least 12 characters",
        ),
        (
            ["create", "x", "--role", "boss", "--password-stdin"],
            LONG,
            "Invalid value for '--role'",
        ),
        (
            ["create", " ", "--role", "viewer", "--password-stdin"],
            LONG,
            "must not be empty",
        ),
        (["set-role", "ghost", "admin"], None, "no user named 'ghost'"),
        (["set-password", "ghost", "--password-stdin"], LONG, "no user named 'ghost'"),
        (["disable", "ghost"], None, "no user named 'ghost'"),
        (["token", "create", "ghost"], None, "no user named 'ghost'"),
        (["token", "revoke", "999"], None, "no API token with id 999"),
        (["token", "revoke", "abc"], None, "is not a valid integer"),
    ],
)
def test_clear_errors(cli, args, stdin, message):
    result = cli(*args, input=stdin)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_duplicate(cli):
    assert (
        cli(
            "create", "alice", "--role", "viewer", "--password-stdin", input=LONG
        ).exit_code
        == 0
    )
    result = cli("create", "alice", "--role", "admin", "--password-stdin", input=LONG)
    assert result.exit_code == 1
    assert "a user named 'alice' already exists" in result.output


def test_list_set_role_set_password_disable(app, cli):
    for name, role in (("alice", "admin"), ("bob", "viewer")):
        cli("create", name, "--role", role, "--password-stdin", input=LONG)
    result = cli("list")
    assert result.exit_code == 0
    assert "alice" in result.output and "bob" in result.output
    assert "$argon2" not in result.output

    assert cli("set-role", "bob", "operator").exit_code == 0
    assert user(app, "bob").role == "operator"

    with app.app_context():
        bob = find_user("bob")
        start_session(bob, "192.0.2.1", "a browser")
        create_token(bob, "ci")
    result = cli(
        "set-password", "bob", "--password-stdin", input="another good password"
    )
    assert result.exit_code == 0, result.output
    assert "1 session of bob ended and 1 API token revoked" in result.output
    bob = user(app, "bob")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(LoginSession.id))) == 0
        assert verify_password(bob.password_hash, "another good password")

    result = cli("disable", "bob")
    assert result.exit_code == 0
    assert "0 sessions of bob ended and 0 API tokens revoked" in result.output
    assert user(app, "bob").active is False

    # The last active admin cannot be demoted or disabled.
    result = cli("set-role", "alice", "viewer")
    assert result.exit_code == 1
    assert "last active admin" in result.output
    assert cli("disable", "alice").exit_code == 1
    assert user(app, "alice").active is True


def test_tokens(app, cli):
    cli("create", "alice", "--role", "operator", "--password-stdin", input=LONG)
    result = cli("token", "create", "alice", "--name", "deploy")
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("hw_") and " " not in token
    with app.app_context():
        stored = db.session.scalar(db.select(ApiToken))
        assert stored.token_hash != token and token not in stored.token_hash

    result = cli("token", "list")
    assert "deploy" in result.output and "active" in result.output
    assert token not in result.output

    assert cli("token", "revoke", str(stored.id)).exit_code == 0
    assert "revoked" in cli("token", "list").output
