"""The `flask headway` group: Headway's own tables and its first account."""

import os
import secrets
from pathlib import Path

import click

from app.auth.accounts import create_user, first_password_file, has_active_admin
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
    from HEADWAY_ADMIN_PASSWORD, or is generated, printed once in a framed
    block, and kept in instance/first-admin-password (readable by its owner
    only) until the admin changes it: `make run` prints a screenful after
    this, and gunicorn's start says where the file is (gunicorn.conf.py)."""
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
        kept = first_password_file()
        write_private(kept, password + "\n")
        click.echo(
            framed(
                [
                    "Headway's first admin account",
                    f"  username: {username}",
                    f"  password: {password}",
                    f"Also kept in {kept} (only you can read it), until",
                    "the password is changed on the Account page.",
                ]
            )
        )


def write_private(path: Path, text: str) -> None:
    """`text` in `path`, readable and writable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def framed(lines: list[str]) -> str:
    """`lines` in a box of # characters, to stand out of a screenful."""
    width = max(len(line) for line in lines)
    edge = "#" * (width + 4)
    return "\n".join(
        ["", edge, *(f"# {line.ljust(width)} #" for line in lines), edge, ""]
    )


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
@click.option(
    "--no-preflight",
    is_flag=True,
    help="Upgrade without preflight first: a step that will fail is then not "
    "refused before it starts. The audit trail records it.",
)
def release_command(
    lock_wait: float, adopt_legacy: bool, online: bool, no_preflight: bool
) -> None:
    """The deploy step: create or upgrade Headway's tables, upgrade the schema
    to its heads under the migration lock (preflight first: a step that will
    fail is refused before anything runs), and verify it. Idempotent; exit 1
    with one line when anything is wrong."""
    # (Imported here: the migration core is not loaded by every command.)
    from app.dbadmin.cli import online_run
    from app.release import release

    with online_run(online):
        release(
            db.engine,
            lock_wait,
            adopt_legacy,
            say=click.echo,
            online=online,
            no_preflight=no_preflight,
        )
    click.echo("release ok")
