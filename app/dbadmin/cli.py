"""The `flask db` group: Flask-Migrate's commands, plus verify, adopt and
preflight, and upgrade, downgrade and stamp with Headway's guards' opt-ins (the guards
themselves run in migrations/env.py, whatever starts the run).

The migration core is imported by the commands that use it, not with this
module: every `flask` command loads this group, and `flask db current`
should start about as fast as `alembic current`."""

from __future__ import annotations

import functools
import os
import re
from contextlib import nullcontext
from typing import TYPE_CHECKING

import click
from alembic import command
from alembic.util import CommandError
from flask import current_app, g
from flask_migrate.cli import db as flask_migrate_db

from app.cli import HeadwayGroup, fail
from app.dbadmin.core.lock import Deadline, lock_wait_seconds, release_lock

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from app.dbadmin.core.adoption import Verification
    from app.dbadmin.core.executor import ExecutorSettings


class DbGroup(HeadwayGroup):
    """Alembic's own errors (an unknown revision, say) end in one line too."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CommandError as exc:
            fail(str(exc))


class TakesRelativeRevision(click.Command):
    """Reads `-2` as the REVISION (Alembic's relative revision, as in
    `alembic downgrade -2`), which click would refuse as an unknown option."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" not in args:
            valued = {
                name
                for p in self.params
                if isinstance(p, click.Option) and not p.is_flag
                for name in p.opts
            }
            relative = [
                i
                for i, arg in enumerate(args)
                if re.fullmatch(r"-\d+", arg) and (i == 0 or args[i - 1] not in valued)
            ]
            if relative:
                args = [a for i, a in enumerate(args) if i not in relative] + [
                    "--",
                    *(args[i] for i in relative),
                ]
        return super().parse_args(ctx, args)


db_cli = DbGroup(
    "db",
    help=flask_migrate_db.help,
    params=flask_migrate_db.params,
    callback=flask_migrate_db.callback,
)
for _name, _command in flask_migrate_db.commands.items():
    db_cli.add_command(_command, _name)


def database_engine() -> Engine:
    """The app's engine, as Flask-Migrate holds it: Flask-SQLAlchemy's, or
    the one `flask db` builds without the ORM (app/database.py)."""
    return current_app.extensions["migrate"].db.engine


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
ONLINE = click.option(
    "--online",
    is_flag=True,
    help="Run each statement that would copy a table, or rebuild it with "
    "writes blocked, through pt-online-schema-change (MySQL/MariaDB): writes "
    "go on meanwhile. Refused before anything runs where it cannot work.",
)


def online_run(online: bool, sql: bool = False):
    """--online: refused at once where it cannot work (an offline script,
    SQLite, pt-osc missing); its progress shown on stderr while it runs."""
    if not online:
        return nullcontext()
    if sql:
        fail(
            "--online runs on the database; an offline script (--sql) has no "
            "online form"
        )
    from app.dbadmin.core.online import OnlineSettings, require_online, showing_progress

    require_online(
        database_engine().dialect.name,
        OnlineSettings.from_config(current_app.config, enabled=True),
    )
    return showing_progress()


NO_PREFLIGHT = click.option(
    "--no-preflight",
    is_flag=True,
    help="Run the steps without preflight first (`flask db preflight`): a "
    "step that will fail is then not refused before it starts. The audit "
    "trail records it.",
)


@db_cli.command("upgrade")
@_directory_option
@_offline_options
@_x_arg_option
@ALLOW_DATA_LOSS
@ONLINE
@NO_PREFLIGHT
@click.option(
    "--adopt",
    "adopt_first",
    is_flag=True,
    help="An unversioned database that already has the tables: adopt it "
    "(verified) first, then upgrade. For deploys to new and legacy databases.",
)
@click.argument("revision", default="head")
def upgrade_command(
    directory,
    sql,
    tag,
    x_arg,
    allow_data_loss,
    online,
    no_preflight,
    adopt_first,
    revision,
) -> None:
    """Upgrade to a later version. Preflight runs first, and a step that will
    fail is refused before anything runs (unless --no-preflight). An
    unversioned database that already has tables is refused (adopt it, or
    use --adopt); so is a step that drops data, unless --allow-data-loss."""
    wait = lock_wait_of(x_arg)
    options = {
        "allow_data_loss": allow_data_loss,
        "online": online,
        "no_preflight": no_preflight,
    }
    if not adopt_first or sql:
        with online_run(online, sql):
            config = _alembic_config(directory, x_arg, **options)
            with _keeping_the_proof(sql):
                command.upgrade(config, revision, sql=sql, tag=tag)
        return
    from app.dbadmin.core.adoption import adopt_if_unversioned

    # The decision (is it unversioned? which revision does it match?), the
    # stamp and the upgrade, under the release lock: deploy scripts running
    # this at once take turns, and the later ones find it versioned.
    deadline = Deadline.after(wait)
    engine = database_engine()
    with release_lock(engine, deadline, click.echo, "-x lock_wait=SECONDS"):
        adoption = adopt_if_unversioned(engine)
        if adoption is not None and not adoption.stamped:
            _print_no_match(adoption.verification)
            raise SystemExit(1)
        if adoption is not None:
            click.echo(f"adopted at {adoption.verification.label}")
        # migrations/env.py's migration lock waits what is left of the wait.
        x_arg = _with_lock_wait(x_arg, deadline.left())
        config = _alembic_config(directory, x_arg, **options)
        with _keeping_the_proof(sql), online_run(online):
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


@db_cli.command("downgrade", cls=TakesRelativeRevision)
@_directory_option
@_offline_options
@_x_arg_option
@ALLOW_DATA_LOSS
@ONLINE
@NO_PREFLIGHT
@click.argument("revision", default="-1")
def downgrade_command(
    directory, sql, tag, x_arg, allow_data_loss, online, no_preflight, revision
) -> None:
    """Revert to a previous version (default -1: one step; -2: two).
    Preflight runs first, and a step that will fail is refused before
    anything runs (unless --no-preflight). A step that drops data is refused
    unless --allow-data-loss."""
    lock_wait_of(x_arg)
    config = _alembic_config(
        directory,
        x_arg,
        allow_data_loss=allow_data_loss,
        online=online,
        no_preflight=no_preflight,
    )
    if sql and revision == "-1":
        revision = "head:-1"
    with online_run(online, sql), _keeping_the_proof(sql):
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
    # The guard proves the live schema is REVISION's, unless --no-verify.
    with _keeping_the_proof(sql, proven=not no_verify):
        command.stamp(config, target, sql=sql, tag=tag, purge=purge)


def _keeping_the_proof(sql: bool, proven: bool = False):
    """keeping_the_proof() around a run on the database (not an offline
    script)."""
    if sql:
        return nullcontext()
    from app.dbadmin.core.adoption import keeping_the_proof

    return keeping_the_proof(database_engine(), proven)


def _print_differences(result: Verification) -> None:
    click.echo(f"does not match {result.label}:", err=True)
    for difference in result.differences:
        click.echo(f"  - {difference}", err=True)


# journal.py's unsettled statuses, read without the journal's module (and the
# models it loads): nearly always there is no such run.
_ANY_UNSETTLED_RUN = (
    "SELECT 1 FROM headway_step_runs WHERE status IN ('partial', 'running') LIMIT 1"
)


def _may_have_a_partial_step() -> bool:
    """False when the journal holds no unsettled run (or there is no journal,
    or the database is SQLite, which takes a whole step back)."""
    engine = database_engine()
    if engine.dialect.name != "mysql":
        return False
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql(_ANY_UNSETTLED_RUN).first() is not None
    except SQLAlchemyError:
        return False


def _echo_partial() -> bool:
    """Say so when a step was left half-way; True when one was."""
    if not _may_have_a_partial_step():
        return False
    from app.dbadmin.core.state import unsettled_step

    partial = unsettled_step(database_engine())
    if partial is None:
        return False
    from app.dbadmin.core.guards import partial_line

    click.echo(partial_line(partial), err=True)
    return True


@db_cli.command("current")
@_directory_option
@click.option("-v", "--verbose", is_flag=True, help="Use more verbose output")
def current_command(directory, verbose) -> None:
    """Display the current revision for each database, and a step left
    half-way (MySQL/MariaDB), if any."""
    command.current(_alembic_config(directory, ()), verbose=verbose)
    _echo_partial()


@db_cli.command("verify")
@click.argument("revision", required=False)
def verify_command(revision: str | None) -> None:
    """Check that the live schema is exactly REVISION's schema (default: the
    stamped revision; head when unversioned)."""
    if revision is None and _echo_partial():
        # No revision describes a half-applied schema: nothing to compare.
        raise SystemExit(1)
    from app.dbadmin.core.adoption import stamped_revisions
    from app.dbadmin.core.adoption import verify as verify_schema
    from app.dbadmin.core.catalog import load_catalog
    from app.dbadmin.core.state import redundant_stamp_line, redundant_stamps

    engine = database_engine()
    stamped = stamped_revisions(engine)
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
    result = verify_schema(engine, revision)
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


def _print_no_match(closest: Verification) -> None:
    """No revision matches: the closest, its differences, and the ways
    forward (each one works as written)."""
    rev = closest.label
    n = len(closest.differences)
    click.echo("no revision matches; nothing was written.", err=True)
    click.echo(f"closest: {rev}, with {n} difference{'s' if n != 1 else ''}:", err=True)
    for difference in closest.differences:
        click.echo(f"  - {difference}", err=True)
    from app.dbadmin.core.adoption import existing_first_revision_tables
    from app.dbadmin.core.catalog import load_catalog

    if not existing_first_revision_tables(database_engine(), load_catalog()):
        click.echo(
            "The database has none of the first revision's tables: nothing to "
            "adopt. `flask db upgrade` creates the schema.",
            err=True,
        )
        return
    click.echo(
        "Ways forward:\n"
        f"  - undo the differences in the database, then `flask db adopt`;\n"
        f"  - `flask db adopt --write-revision`: writes a revision on top of {rev} "
        "that turns its schema into this database's, for you to review; then "
        "`flask db adopt --to` that revision checks and stamps it;\n"
        f"  - `flask db adopt --accept-differences`: stamps {rev} all the same; the "
        "audit trail records the differences accepted.",
        err=True,
    )


@db_cli.command("adopt")
@click.option("--to", "to", metavar="REV", help="Check and stamp this revision.")
@click.option("--dry-run", is_flag=True, help="Find the revision; stamp nothing.")
@click.option(
    "--write-revision",
    is_flag=True,
    help="No revision matches: write one on top of the closest (or --to REV) "
    "that turns its schema into this database's, for review. Stamps nothing.",
)
@click.option(
    "--accept-differences",
    is_flag=True,
    help="No revision matches: stamp the closest (or --to REV) all the same; "
    "the audit trail records the differences accepted.",
)
@click.option(
    "--lock-wait",
    type=click.FloatRange(min=0),
    default=0,
    show_default=True,
    help="Seconds to wait for a release or adoption already running.",
)
def adopt_command(
    to: str | None,
    dry_run: bool,
    write_revision: bool,
    accept_differences: bool,
    lock_wait: float,
) -> None:
    """Put an unversioned database under migrations: find the newest revision
    whose schema it has exactly (or check --to REV) and stamp it."""
    from app.dbadmin.core.adoption import adopt

    chosen = [
        flag
        for flag, on in (
            ("--dry-run", dry_run),
            ("--write-revision", write_revision),
            ("--accept-differences", accept_differences),
        )
        if on
    ]
    if len(chosen) > 1:
        fail(f"{' and '.join(chosen)} do not go together: choose one")
    engine = database_engine()
    if dry_run or write_revision:
        adoption = adopt(engine, to=to, dry_run=True)
    else:
        # Decided under the release lock, like every adoption.
        deadline = Deadline.after(lock_wait)
        with release_lock(engine, deadline, click.echo, "--lock-wait"):
            adoption = adopt(engine, to=to, accept_differences=accept_differences)
    result = adoption.verification
    if write_revision:
        _write_revision(result)
        return
    if adoption.accepted:
        click.echo(
            f"adopted at {result.label} despite {len(result.differences)} "
            "difference(s), recorded in the audit trail:"
        )
        for difference in result.differences:
            click.echo(f"  - {difference}")
        return
    if not result.matches:
        _print_no_match(result)
        raise SystemExit(1)
    if adoption.stamped:
        click.echo(f"adopted at {result.label}")
    else:
        click.echo(f"would adopt at {result.label} (dry run: nothing written)")


def _write_revision(closest: Verification) -> None:
    if closest.matches:
        click.echo(
            f"the database matches {closest.label}: nothing to write; "
            "`flask db adopt` stamps it."
        )
        return
    from app.dbadmin.core.adoption import write_reconciling_revision

    written = write_reconciling_revision(database_engine(), closest.revisions[0])
    click.echo(
        f"wrote {written.path}: revision {written.revision}, on top of "
        f"{written.base}; its upgrade turns {written.base}'s schema into this "
        "database's. Nothing was stamped."
    )
    if written.remaining:
        click.echo(
            f"{written.base} plus this revision does not yet build the live schema "
            "(autogenerate does not render these; they are noted in the file): "
            "add them by hand:",
            err=True,
        )
        for difference in written.remaining:
            click.echo(f"  - {difference}", err=True)
        click.echo(
            f"Then `flask db verify {written.revision}` and "
            f"`flask db adopt --to {written.revision}`.",
            err=True,
        )
    else:
        click.echo(
            f"checked: {written.base} plus this revision builds exactly the live "
            f"schema. Review the file, then `flask db adopt --to {written.revision}` "
            "(checks the live schema against it again, then stamps it)."
        )
    if written.branches:
        click.echo(
            f"{written.base} is not a head: the scripts now have one head more. "
            'After adopting, `flask db merge heads -m "join the reconciled '
            'schema"` joins them before the next upgrade.',
            err=True,
        )
    if written.remaining:
        raise SystemExit(1)


# --- flask db preflight ---------------------------------------------------


@db_cli.command("preflight", cls=TakesRelativeRevision)
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Seconds each read-only data check may run before it is cut off "
    "(and reported as not checked); 5 unless given.",
)
@click.argument("target", default="head")
def preflight_command(time_limit: float, target: str) -> None:
    """What each pending step to TARGET (default: head; +N or -N: N steps up
    or down from here) will do, before it runs: each statement's lock
    impact, as the server answers it on an empty scratch copy; the table's
    size and, for a copy or an in-place rebuild, an estimated duration; the
    live data that will make it fail or that it changes silently; the
    transactions that would hold it up. Reads only.
    Exits 1 when a step will fail."""
    from app.dbadmin.core.alembic_env import stamped_revisions
    from app.dbadmin.core.catalog import load_catalog
    from app.dbadmin.core.plan import RELATIVE, relative_target
    from app.dbadmin.core.preflight import preflight_to
    from app.dbadmin.preflight_text import preflight_lines

    engine = database_engine()
    catalog = load_catalog()
    if RELATIVE.fullmatch(target):
        # What `flask db upgrade +1` or `downgrade -1` would run, as of now.
        current = tuple(stamped_revisions(engine))
        target = relative_target(catalog, current, target)
    limit = {} if time_limit is None else {"time_limit_s": time_limit}
    plan, result = preflight_to(engine, catalog, target, **limit)
    if not plan.steps:
        click.echo(f"nothing to run: the database is at {target}")
        return
    for line in preflight_lines(result, plan.direction, plan.target):
        click.echo(line)
    if result.will_fail:
        raise SystemExit(1)


def _settlement_sql(settlement) -> None:
    partial = settlement.partial
    click.echo(f"{settlement.action} of {partial.summary()}")
    for note in settlement.notes:
        click.echo(f"note: {note}")
    if settlement.statements:
        click.echo(f"-- the SQL of the {settlement.action}, in order:")
        for sql in settlement.statements:
            click.echo(f"{sql};")


def _executor_settings(x_arg: tuple) -> ExecutorSettings:
    from app.dbadmin.core.executor import ExecutorSettings

    arguments = dict(a.split("=", 1) if "=" in a else (a, "") for a in x_arg)
    return ExecutorSettings.from_x_arguments(arguments)


@db_cli.command("rollback")
@_x_arg_option
@ALLOW_DATA_LOSS
@click.option("--dry-run", is_flag=True, help="Show the SQL; run nothing.")
def rollback_command(x_arg, allow_data_loss, dry_run) -> None:
    """Undo what a step that failed half-way applied (MySQL/MariaDB): every
    table it touched back to its before-image, byte for byte, and the stamp
    back to where it was. The SQL is shown first."""
    from app.dbadmin.core import recovery
    from app.dbadmin.core.lock import shell_actor

    settlement = recovery.rollback(
        database_engine(),
        actor=shell_actor(),
        allow_data_loss=allow_data_loss,
        dry_run=dry_run,
        settings=_executor_settings(x_arg),
        show=_settlement_sql,
    )
    if dry_run:
        for item in settlement.at_risk:
            click.echo(f"drops data: {item} (needs --allow-data-loss)")
        click.echo("dry run: nothing was run")
        return
    click.echo(f"rolled back: {settlement.proof}")


@db_cli.command("resume")
@_x_arg_option
@click.option("--dry-run", is_flag=True, help="Show the SQL; run nothing.")
def resume_command(x_arg, dry_run) -> None:
    """Run the rest of a step that failed half-way (MySQL/MariaDB), once its
    cause is fixed, then stamp it. The SQL is shown first."""
    from app.dbadmin.core import recovery
    from app.dbadmin.core.adoption import verify_revisions
    from app.dbadmin.core.catalog import load_catalog
    from app.dbadmin.core.lock import shell_actor

    settlement = recovery.resume(
        database_engine(),
        load_catalog(),
        actor=shell_actor(),
        dry_run=dry_run,
        settings=_executor_settings(x_arg),
        show=_settlement_sql,
    )
    if dry_run:
        click.echo("dry run: nothing was run")
        return
    result = verify_revisions(database_engine(), settlement.stamped)
    if result.matches:
        click.echo(f"resumed: stamped {result.label}, and the schema verifies")
        return
    click.echo(f"resumed and stamped {result.label}, but verify finds:", err=True)
    for difference in result.differences:
        click.echo(f"  - {difference}", err=True)
    raise SystemExit(1)


def refuse_broken_files(directory: str | None, name: str) -> None:
    """Alembic loads every revision file, and a broken one (a syntax error, a
    down_revision that does not exist) would end in its traceback: name the
    file and its line first, in one line."""
    from app.dbadmin.core.catalog import load_catalog

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
        from app.dbadmin.core.alembic_env import stamped_revisions
        from app.dbadmin.core.catalog import load_catalog

        directory = kwargs.get("directory") or g.get("directory")
        catalog = load_catalog(os.path.abspath(directory) if directory else None)
        current = stamped_revisions(database_engine())
        if any(rev not in catalog.by_id for rev in current):
            # The guards (and the models they load) only for the refusal.
            from app.dbadmin.core.guards import check_known

            check_known(current, catalog)
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
