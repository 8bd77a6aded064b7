"""The `flask db` group: Flask-Migrate's commands, plus verify and adopt, and
upgrade, downgrade and stamp with Headway's guards' opt-ins (the guards
themselves run in migrations/env.py, whatever starts the run)."""

import functools
import os

import click
from alembic import command
from alembic.util import CommandError
from flask import current_app, g
from flask_migrate.cli import db as flask_migrate_db

from app.cli import HeadwayGroup, fail
from app.dbadmin.core.adoption import (
    Verification,
    adopt,
    adopt_if_unversioned,
    stamped_revisions,
)
from app.dbadmin.core.adoption import verify as verify_schema
from app.dbadmin.core.catalog import load_catalog
from app.dbadmin.core.guards import check_known
from app.dbadmin.core.lock import Deadline, lock_wait_seconds, release_lock
from app.dbadmin.core.state import redundant_stamp_line, redundant_stamps
from app.extensions import db


class DbGroup(HeadwayGroup):
    """Alembic's own errors (an unknown revision, say) end in one line too."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CommandError as exc:
            fail(str(exc))


db_cli = DbGroup(
    "db",
    help=flask_migrate_db.help,
    params=flask_migrate_db.params,
    callback=flask_migrate_db.callback,
)
for _name, _command in flask_migrate_db.commands.items():
    db_cli.add_command(_command, _name)


def _alembic_config(directory: str | None, x_arg: tuple, **attributes):
    """Flask-Migrate's config for this invocation (-d, -x), with `attributes`
    for migrations/env.py (the guards' opt-ins)."""
    migrate = current_app.extensions["migrate"].migrate
    config = migrate.get_config(directory or g.directory, x_arg=x_arg or None)
    config.attributes.update(attributes)
    return config


# Flask-Migrate's options of upgrade, downgrade and stamp, kept as they were.
def _directory_option(f):
    return click.option(
        "-d",
        "--directory",
        default=None,
        help='Migration script directory (default is "migrations")',
    )(f)


def _offline_options(f):
    f = click.option(
        "--sql",
        is_flag=True,
        help="Don't emit SQL to database - dump to standard output instead",
    )(f)
    return click.option(
        "--tag",
        default=None,
        help='Arbitrary "tag" name - can be used by custom env.py scripts',
    )(f)


def _x_arg_option(f):
    return click.option(
        "-x",
        "--x-arg",
        multiple=True,
        help="Additional arguments consumed by custom env.py scripts",
    )(f)


ALLOW_DATA_LOSS = click.option(
    "--allow-data-loss",
    is_flag=True,
    help="Run steps that drop tables with rows or columns holding values.",
)


@db_cli.command("upgrade")
@_directory_option
@_offline_options
@_x_arg_option
@ALLOW_DATA_LOSS
@click.option(
    "--adopt",
    "adopt_first",
    is_flag=True,
    help="An unversioned database that already has the tables: adopt it "
    "(verified) first, then upgrade. For deploys to new and legacy databases.",
)
@click.argument("revision", default="head")
def upgrade_command(
    directory, sql, tag, x_arg, allow_data_loss, adopt_first, revision
) -> None:
    """Upgrade to a later version. An unversioned database that already has
    tables is refused (adopt it, or use --adopt); so is a step that drops
    data, unless --allow-data-loss."""
    wait = lock_wait_of(x_arg)
    if not adopt_first or sql:
        config = _alembic_config(directory, x_arg, allow_data_loss=allow_data_loss)
        command.upgrade(config, revision, sql=sql, tag=tag)
        return
    # The decision (is it unversioned? which revision does it match?), the
    # stamp and the upgrade, under the release lock: deploy scripts running
    # this at once take turns, and the later ones find it versioned.
    deadline = Deadline.after(wait)
    with release_lock(db.engine, deadline, click.echo, "-x lock_wait=SECONDS"):
        adoption = adopt_if_unversioned(db.engine)
        if adoption is not None and not adoption.stamped:
            click.echo("no revision matches; nothing was written.", err=True)
            _print_differences(adoption.verification)
            raise SystemExit(1)
        if adoption is not None:
            click.echo(f"adopted at {adoption.verification.label}")
        # migrations/env.py's migration lock waits what is left of the wait.
        x_arg = _with_lock_wait(x_arg, deadline.left())
        config = _alembic_config(directory, x_arg, allow_data_loss=allow_data_loss)
        command.upgrade(config, revision, sql=sql, tag=tag)


def lock_wait_of(x_arg: tuple) -> float:
    """`-x lock_wait=SECONDS` (of the command, else of the group), checked
    before anything runs."""
    x_arg = x_arg or g.get("x_arg") or ()
    values = [arg.partition("=")[2] for arg in x_arg if arg.startswith("lock_wait=")]
    return lock_wait_seconds(values[-1] if values else None)


def _with_lock_wait(x_arg: tuple, seconds: float) -> tuple:
    return tuple(a for a in x_arg if not a.startswith("lock_wait=")) + (
        f"lock_wait={seconds:.3f}",
    )


@db_cli.command("downgrade")
@_directory_option
@_offline_options
@_x_arg_option
@ALLOW_DATA_LOSS
@click.argument("revision", default="-1")
def downgrade_command(directory, sql, tag, x_arg, allow_data_loss, revision) -> None:
    """Revert to a previous version (`flask db downgrade -- -1`: click reads a
    bare -1 as an option). A step that drops data is refused unless
    --allow-data-loss."""
    lock_wait_of(x_arg)
    config = _alembic_config(directory, x_arg, allow_data_loss=allow_data_loss)
    if sql and revision == "-1":
        revision = "head:-1"
    command.downgrade(config, revision, sql=sql, tag=tag)


@db_cli.command("stamp")
@_directory_option
@_offline_options
@click.option(
    "--purge",
    is_flag=True,
    help="Delete the version in the alembic_version table before stamping",
)
@click.option(
    "--no-verify",
    is_flag=True,
    help="Stamp without proving that the live schema is REVISION's schema "
    "(the audit trail says so).",
)
@click.argument("revisions", nargs=-1, metavar="[REVISION]...")
def stamp_command(directory, sql, tag, purge, no_verify, revisions) -> None:
    """'stamp' the revision table with the given revision (default: head;
    several for the heads of branches); don't run any migrations. The live
    schema must be REVISION's schema (as `flask db verify` compares them),
    unless --no-verify; base needs no proof."""
    config = _alembic_config(directory, (), no_verify=no_verify)
    target = list(revisions) if len(revisions) > 1 else (revisions or ("head",))[0]
    command.stamp(config, target, sql=sql, tag=tag, purge=purge)


def _print_differences(result: Verification) -> None:
    click.echo(f"does not match {result.label}:", err=True)
    for difference in result.differences:
        click.echo(f"  - {difference}", err=True)


@db_cli.command("verify")
@click.argument("revision", required=False)
def verify_command(revision: str | None) -> None:
    """Check that the live schema is exactly REVISION's schema (default: the
    stamped revision; head when unversioned)."""
    stamped = stamped_revisions(db.engine)
    unversioned = not stamped
    redundant = redundant_stamps(load_catalog(), stamped)
    if redundant and revision is None:
        effective = tuple(r for r in stamped if r not in redundant)
        click.echo(f"warning: {redundant_stamp_line(redundant, effective)}", err=True)
    if unversioned and revision is None:
        click.echo(
            "the database is unversioned: comparing it with head. `flask db adopt "
            "--dry-run` finds the revision it matches.",
            err=True,
        )
    result = verify_schema(db.engine, revision)
    if not result.matches:
        _print_differences(result)
        if not unversioned and revision is None:
            click.echo(
                "If the stamp is wrong (the schema is another revision's): "
                "`flask db stamp --purge base`, then `flask db adopt`.",
                err=True,
            )
        raise SystemExit(1)
    click.echo(f"matches {result.label}")


@db_cli.command("adopt")
@click.option("--to", "to", metavar="REV", help="Check and stamp this revision.")
@click.option("--dry-run", is_flag=True, help="Find the revision; stamp nothing.")
@click.option(
    "--lock-wait",
    type=click.FloatRange(min=0),
    default=0,
    show_default=True,
    help="Seconds to wait for a release or adoption already running.",
)
def adopt_command(to: str | None, dry_run: bool, lock_wait: float) -> None:
    """Put an unversioned database under migrations: find the newest revision
    whose schema it has exactly (or check --to REV) and stamp it."""
    if dry_run:
        adoption = adopt(db.engine, to=to, dry_run=True)
    else:
        # Decided under the release lock, like every adoption.
        deadline = Deadline.after(lock_wait)
        with release_lock(db.engine, deadline, click.echo, "--lock-wait"):
            adoption = adopt(db.engine, to=to)
    result = adoption.verification
    if not result.matches:
        click.echo("no revision matches; nothing was written.", err=True)
        _print_differences(result)
        raise SystemExit(1)
    if adoption.stamped:
        click.echo(f"adopted at {result.label}")
    else:
        click.echo(f"would adopt at {result.label} (dry run: nothing written)")


def refuse_broken_files(directory: str | None, name: str) -> None:
    """Alembic loads every revision file, and a broken one (a syntax error, a
    down_revision that does not exist) would end in its traceback: name the
    file and its line first, in one line."""
    directory = directory or g.get("directory")
    catalog = load_catalog(os.path.abspath(directory) if directory else None)
    catalog.refuse_broken_files(f"`flask db {name}`")


def _refusing_broken_files(cmd: click.Command) -> None:
    callback = cmd.callback

    @functools.wraps(callback)
    def checked(*args, **kwargs):
        refuse_broken_files(kwargs.get("directory"), cmd.name)
        return callback(*args, **kwargs)

    cmd.callback = checked


def _current_knows_whole_ids(cmd: click.Command) -> None:
    """Alembic's `current` resolves a stamped prefix of a revision's id that
    verify, the guards and the console call unknown (they read stamps as they
    are): it says the same as they do."""
    callback = cmd.callback

    @functools.wraps(callback)
    def checked(*args, **kwargs):
        directory = kwargs.get("directory") or g.get("directory")
        catalog = load_catalog(os.path.abspath(directory) if directory else None)
        check_known(stamped_revisions(db.engine), catalog)
        return callback(*args, **kwargs)

    cmd.callback = checked


def _init_says_what_to_do(cmd: click.Command) -> None:
    """Headway ships its migrations/ (a baseline of the legacy schema and the
    revisions after it): `flask db init` over it says how to go on instead of
    only that the directory exists."""
    callback = cmd.callback

    @functools.wraps(callback)
    def checked(*args, **kwargs):
        directory = kwargs.get("directory") or g.get("directory")
        path = os.path.abspath(directory or current_app.config["MIGRATIONS_DIR"])
        if os.path.isdir(path) and os.listdir(path):
            fail(
                f"{path} already exists: Headway's migrations are set up there "
                "(a baseline of the legacy schema, then the revisions after it), "
                "so there is nothing to initialise. Bring a database under them "
                "with `flask db adopt --dry-run` then `flask db adopt` (an existing "
                "one) or `flask db upgrade` (a new, empty one); write the next "
                "revision with `flask db migrate -m MESSAGE`."
            )
        return callback(*args, **kwargs)

    cmd.callback = checked


_init_says_what_to_do(db_cli.commands["init"])
_current_knows_whole_ids(db_cli.commands["current"])
# Every command that reads the scripts (all but init and list-templates).
for _name, _command in db_cli.commands.items():
    if _name not in ("init", "list-templates"):
        _refusing_broken_files(_command)
