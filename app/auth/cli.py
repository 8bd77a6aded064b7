"""The `flask users` group: accounts and API tokens from the shell."""

import sys

import click
import sqlalchemy as sa

from app.auth.accounts import (
    create_user,
    disable,
    find_user,
    log_out_everywhere,
    set_password,
    set_role,
)
from app.auth.tokens import MAX_TOKEN_DAYS, create_token, revoke_token
from app.cli import HeadwayGroup
from app.clock import utcnow
from app.extensions import db
from app.models.accounts import ROLES, ApiToken, User
from app.validation import MAX_ID

users_cli = HeadwayGroup("users", help="Login accounts and API tokens.")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


@users_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
def create_command(username: str, role: str, password_stdin: bool) -> None:
    """Create an account."""
    user = create_user(username, _read_password(password_stdin), role)
    click.echo(f"Created {user.username} ({user.role}).")


@users_cli.command("list")
def list_command() -> None:
    """List the accounts."""
    users = db.session.scalars(sa.select(User).order_by(User.username)).all()
    if not users:
        click.echo("No accounts.")
        return
    width = max(8, *(len(u.username) for u in users))
    click.echo(f"{'username':<{width}}  {'role':<8}  {'active':<6}  last login")
    for u in users:
        active = "yes" if u.active else "no"
        click.echo(
            f"{u.username:<{width}}  {u.role:<8}  {active:<6}  {_when(u.last_login_at)}"
        )


@users_cli.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(ROLES))
def set_role_command(username: str, role: str) -> None:
    """Change an account's role."""
    user = find_user(username)
    set_role(user, role)
    db.session.commit()
    click.echo(f"{user.username} is now {role}.")


@users_cli.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
def set_password_command(username: str, password_stdin: bool) -> None:
    """Set an account's password; its sessions end."""
    user = find_user(username)
    ended = set_password(user, _read_password(password_stdin))
    db.session.commit()
    click.echo(f"Password of {user.username} changed. {ended.describe(user.username)}")


@users_cli.command("disable")
@click.argument("username")
def disable_command(username: str) -> None:
    """Disable an account: it can no longer log in or use its tokens."""
    user = find_user(username)
    ended = disable(user)
    db.session.commit()
    click.echo(f"{user.username} is disabled. {ended.describe(user.username)}")


@users_cli.command("log-out-everywhere")
@click.argument("username")
def log_out_everywhere_command(username: str) -> None:
    """End every session of an account and revoke its API tokens."""
    user = find_user(username)
    ended = log_out_everywhere(user)
    db.session.commit()
    click.echo(ended.describe(user.username))


@users_cli.group("token")
def token_group() -> None:
    """API tokens (Authorization: Bearer ...)."""


@token_group.command("create")
@click.argument("username")
@click.option("--name", default="", help="A label for the token.")
@click.option(
    "--days",
    type=click.IntRange(1, MAX_TOKEN_DAYS),
    help="Days until it expires [default: HEADWAY_TOKEN_DAYS, or 90].",
)
def token_create_command(username: str, name: str, days: int | None) -> None:
    """Create a token; it is printed once, alone on the last line."""
    user = find_user(username)
    record, token = create_token(user, name, days)
    click.echo(
        f"Token {record.id} for {user.username}, expires {_when(record.expires_at)}. "
        "Store it now: it is not kept."
    )
    click.echo(token)


@token_group.command("list")
def token_list_command() -> None:
    """List the tokens (never their values)."""
    tokens = db.session.scalars(sa.select(ApiToken).order_by(ApiToken.id)).all()
    if not tokens:
        click.echo("No tokens.")
        return
    click.echo(
        f"{'id':>4}  {'user':<16}  {'name':<16}  {'created':<16}  "
        f"{'last used':<16}  {'expires':<16}  state"
    )
    now = utcnow()
    for t in tokens:
        state = "revoked" if t.revoked_at else "active" if t.is_live(now) else "expired"
        click.echo(
            f"{t.id:>4}  {t.user.username:<16}  {t.name:<16}  "
            f"{_when(t.created_at):<16}  {_when(t.last_used_at):<16}  "
            f"{_when(t.expires_at):<16}  {state}"
        )


@token_group.command("revoke")
@click.argument("token_id", type=click.IntRange(1, MAX_ID))
def token_revoke_command(token_id: int) -> None:
    """Revoke a token by its id."""
    record = revoke_token(token_id)
    click.echo(f"Token {record.id} is revoked.")
