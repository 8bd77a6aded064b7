"""The `flask headway` group: Headway's own tables and its first account."""

import os
import secrets

import click

from app.auth.accounts import create_user, has_active_admin
from app.cli import HeadwayGroup
from app.dbadmin.core.alembic_env import describe
from app.errors import HeadwayError
from app.extensions import db
from app.own_tables.setup import init_own_tables, own_revisions

headway_cli = HeadwayGroup("headway", help="Headway's own tables and accounts.")


@headway_cli.command("init")
def init_command() -> None:
    """Create or upgrade Headway's own tables (headway_*). Idempotent; touches
    nothing of the user's schema."""
    revisions = init_own_tables(db.engine)
    click.echo(f"Headway tables at {describe(revisions)}")


@headway_cli.command("ensure-admin")
@click.option("--username", default="admin", show_default=True)
def ensure_admin_command(username: str) -> None:
    """Create an admin account when there is no active one. The password comes
    from HEADWAY_ADMIN_PASSWORD, or is generated and printed once."""
    applied, heads = own_revisions(db.engine)
    if set(applied) != set(heads):
        raise HeadwayError("Headway's tables are not set up: run `flask headway init`")
    if has_active_admin():
        click.echo("An admin account exists; nothing to do.")
        return
    password = os.environ.get("HEADWAY_ADMIN_PASSWORD")
    generated = not password
    if generated:
        password = secrets.token_urlsafe(18)
    create_user(username, password, role="admin")
    click.echo(f"Created admin account {username!r}.")
    if generated:
        click.echo(f"Its password (shown once, not stored): {password}")


@headway_cli.command("release")
@click.option(
    "--lock-wait",
    type=click.FloatRange(min=0),
    default=60,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for another release or migration to finish.",
)
@click.option(
    "--adopt",
    "adopt_legacy",
    is_flag=True,
    help="Adopt an unversioned database that already has tables first "
    "(as `flask db adopt`; nothing is written when no revision matches).",
)
@click.option(
    "--online",
    is_flag=True,
    help="Run each statement that would copy a table, or rebuild it with "
    "writes blocked, through pt-online-schema-change (as `flask db upgrade "
    "--online`).",
)
def release_command(lock_wait: float, adopt_legacy: bool, online: bool) -> None:
    """The deploy step: create or upgrade Headway's tables, upgrade the schema
    to its heads under the migration lock, and verify it. Idempotent; exit 1
    with one line when anything is wrong."""
    # (Imported here: the migration core is not loaded by every command.)
    from app.dbadmin.cli import online_run
    from app.own_tables.release import release

    with online_run(online):
        release(db.engine, lock_wait, adopt_legacy, say=click.echo, online=online)
    click.echo("release ok")
