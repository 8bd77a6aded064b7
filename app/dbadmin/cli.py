"""The `flask db` group: Flask-Migrate's commands, plus verify, adopt and
preflight, and upgrade, downgrade and stamp with Headway's guards' opt-ins
(the guards themselves run in migrations/env.py, whatever starts the run)."""

import click
from alembic import command
from alembic.util import CommandError
from flask import current_app, g
from flask_migrate.cli import db as flask_migrate_db

from app.cli import HeadwayGroup, fail
from app.dbadmin.core import preflight as preflight_core
from app.dbadmin.core import recovery
from app.dbadmin.core.adoption import (
    Verification,
    adopt,
    adopt_if_unversioned,
    stamped_revisions,
    verify_revisions,
)
from app.dbadmin.core.adoption import verify as verify_schema
from app.dbadmin.core.catalog import load_catalog
from app.dbadmin.core.executor import ExecutorSettings
from app.dbadmin.core.guards import partial_line
from app.dbadmin.core.lock import shell_actor
from app.dbadmin.core.state import unsettled_step
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
    if adopt_first and not sql:
        adoption = adopt_if_unversioned(db.engine)
        if adoption is not None and not adoption.stamped:
            click.echo("no revision matches; nothing was written.", err=True)
            _print_differences(adoption.verification)
            raise SystemExit(1)
        if adoption is not None:
            click.echo(f"adopted at {adoption.verification.label}")
    config = _alembic_config(directory, x_arg, allow_data_loss=allow_data_loss)
    command.upgrade(config, revision, sql=sql, tag=tag)


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
@click.argument("revision", default="head")
def stamp_command(directory, sql, tag, purge, no_verify, revision) -> None:
    """'stamp' the revision table with the given revision; don't run any
    migrations. The live schema must be REVISION's schema (as `flask db
    verify` compares them), unless --no-verify; base needs no proof."""
    config = _alembic_config(directory, (), no_verify=no_verify)
    command.stamp(config, revision, sql=sql, tag=tag, purge=purge)


def _print_differences(result: Verification) -> None:
    click.echo(f"does not match {result.label}:", err=True)
    for difference in result.differences:
        click.echo(f"  - {difference}", err=True)


def _echo_partial() -> bool:
    """Say so when a step was left half-way; True when one was."""
    partial = unsettled_step(db.engine)
    if partial is None:
        return False
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
    unversioned = not stamped_revisions(db.engine)
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
def adopt_command(to: str | None, dry_run: bool) -> None:
    """Put an unversioned database under migrations: find the newest revision
    whose schema it has exactly (or check --to REV) and stamp it."""
    adoption = adopt(db.engine, to=to, dry_run=dry_run)
    result = adoption.verification
    if not result.matches:
        click.echo("no revision matches; nothing was written.", err=True)
        _print_differences(result)
        raise SystemExit(1)
    if adoption.stamped:
        click.echo(f"adopted at {result.label}")
    else:
        click.echo(f"would adopt at {result.label} (dry run: nothing written)")


# --- flask db preflight ----------------------------------------------------------

LOCK_WORDS = {
    preflight_core.INSTANT: "instant",
    preflight_core.IN_PLACE_WRITES_ALLOWED: "in place, writes allowed",
    preflight_core.IN_PLACE_WRITES_BLOCKED: "in place, writes blocked",
    preflight_core.COPY: "table copy, writes blocked",
    preflight_core.ROWS: "row locks (data change)",
    preflight_core.NONE: "none (no existing table)",
    preflight_core.UNKNOWN: "unknown",
}


@db_cli.command("preflight")
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0.1),
    default=preflight_core.DEFAULT_TIME_LIMIT_S,
    show_default=True,
    help="Seconds each read-only data check may run before it is cut off "
    "(and reported as not checked).",
)
@click.argument("target", default="head")
def preflight_command(time_limit: float, target: str) -> None:
    """What each pending step to TARGET (default: head) will do, before it
    runs: each statement's lock impact, as the server answers it on an empty
    scratch copy; the table's size and, for a copy or an in-place rebuild,
    an estimated duration; the live data that will make it fail or that it
    changes silently; the transactions that would hold it up. Reads only.
    Exits 1 when a step will fail."""
    plan, result = preflight_core.preflight_to(
        db.engine, load_catalog(), target, time_limit_s=time_limit
    )
    if not plan.steps:
        click.echo(f"nothing to run: the database is at {target}")
        return
    for line in preflight_lines(result, plan.direction, plan.target):
        click.echo(line)
    if result.will_fail:
        raise SystemExit(1)


def preflight_lines(result, direction: str, target: str) -> list[str]:
    """The preflight as the CLI prints it: per step a table of its
    statements, then what was found, then the verdict; the possible
    blockers last."""
    steps = result.steps
    lines = [
        f"Preflight of the {direction} to {target}: {len(steps)} "
        f"step{'s' if len(steps) != 1 else ''} ({result.elapsed_s:.1f} s)"
    ]
    if result.lock_unknown_reason:
        lines.append(f"lock impact unknown: {result.lock_unknown_reason}")
    for step in steps:
        lines.append("")
        lines.append(f"{step.revision} ({step.direction}): {_verdict_words(step)}")
        rows = [("#", "statement", "table", "rows", "size", "lock", "time")]
        for s in step.statements:
            size = s.sizes[0] if s.sizes else None
            rows.append(
                (
                    str(s.index),
                    _shorten(" ".join(s.sql.split()), 56),
                    ", ".join(s.tables) or "-",
                    _count(size.rows, size.estimated) if size else "-",
                    _bytes(size.bytes, size.estimated) if size else "-",
                    LOCK_WORDS[s.lock.kind],
                    _duration(s.estimate_s) if s.estimate_s is not None else "-",
                )
            )
        lines += _table(rows, indent="  ")
        notes = []
        for s in step.statements:
            for finding in s.findings:
                notes.append(f"  {s.index}  {_finding_words(finding)}")
            if s.lock.reason and s.lock.kind != preflight_core.INSTANT:
                what = "server" if s.lock.kind != preflight_core.UNKNOWN else "why"
                notes.append(f"  {s.index}  lock ({what}): {s.lock.reason}")
        if step.rehearsal_error and not any(
            f.kind == "schema_error" for f in step.findings
        ):
            notes.append(
                "     fails in the rehearsal (the steps run on an empty copy of "
                f"the schema): {step.rehearsal_error}"
            )
        lines += notes
    lines.append("")
    lines += _blocker_lines(result)
    return lines


def _verdict_words(step) -> str:
    if step.verdict == "fails":
        parts = [
            f.kind.replace("_", " ") + (f" on {f.table}" if f.table else "")
            for f in step.failures
        ]
        return "WILL FAIL (" + "; ".join(parts) + ")"
    words = []
    for blocked in step.blocked_writes:
        about = (
            f" for about {_duration(blocked.estimate_s)}"
            if blocked.estimate_s is not None
            else ""
        )
        words.append(f"will block writes on {blocked.table}{about}")
    if step.unknowns or any(
        s.lock.kind == preflight_core.UNKNOWN for s in step.statements
    ):
        words.append("not everything could be checked (see below)")
    return "; ".join(words) or "safe"


def _finding_words(f) -> str:
    label = {
        preflight_core.FAILS: "fails",
        preflight_core.WARNING: "warning",
        preflight_core.NOT_CHECKED: "not checked",
        preflight_core.NOT_ANALYSED: "not analysed",
    }[f.severity]
    where = f"{f.table}({', '.join(f.columns)})" if f.columns else f.table
    if f.severity == preflight_core.NOT_CHECKED:
        return f"{label}: {f.kind.replace('_', ' ')} in {where}: {f.detail}"
    if f.severity == preflight_core.NOT_ANALYSED:
        return f"{label}: {f.detail}"
    count = _count(f.count, f.estimated) if f.count is not None else ""
    what = {
        "duplicates": f"{count} groups of duplicate values in {where} for {f.target}",
        "nulls": f"{count} rows with NULL in {where}",
        "zero_filled": f"{count} rows get {f.target} in the new NOT NULL "
        f"column {where} (no default)",
        "too_long": f"{count} values in {where} longer than {f.target} allows",
        "out_of_range": f"{count} values in {where} outside {f.target}",
        "rounded": f"{count} values in {where} rounded to {f.target}",
        "enum_values": f"{count} rows in {where} use values {f.target} drops",
        "orphans": f"{count} rows in {where} with no parent in {f.target}",
        "check_violations": f"{count} rows of {f.table} violate CHECK ({f.target})",
        "schema_error": f"the server refuses it on the schema: {f.detail}",
    }.get(f.kind, f"{f.kind}: {f.detail}")
    if f.examples:
        what += "; e.g. " + ", ".join(_example(f, e) for e in f.examples[:3])
    return f"{label}: {what}"


def _example(f, example: tuple) -> str:
    if f.kind == "duplicates":
        values = ", ".join(repr(v) for v in example[:-1])
        return f"({values}) x{example[-1]}"
    pairs = zip(f.example_columns, example, strict=False)
    return "(" + ", ".join(f"{c}={v!r}" for c, v in pairs) + ")"


def _blocker_lines(result) -> list[str]:
    if result.dialect != "mysql":
        return []
    after = result.blocker_after_s
    if not result.blockers:
        return [f"Possible blockers: none (no transaction open longer than {after} s)"]
    lines = [
        f"Possible blockers: {len(result.blockers)} transaction(s) open longer "
        f"than {after} s; an ALTER waits for them, and queries on its table "
        "queue behind it:"
    ]
    for b in result.blockers:
        holds = ", ".join(b.tables) if b.tables else "tables unknown"
        query = _shorten(" ".join((b.query or "idle").split()), 60)
        lines.append(
            f"  connection {b.connection_id} ({b.user}@{b.host}, db {b.database}): "
            f"open {b.seconds} s, {holds}; {query}"
        )
    if result.blockers_unnamed_reason:
        lines.append(f"  ({result.blockers_unnamed_reason})")
    return lines


def _table(rows: list[tuple[str, ...]], indent: str = "") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        indent
        + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _count(n: int | None, estimated: bool) -> str:
    if n is None:
        return "?"
    return f"{'~' if estimated else ''}{n:,}"


def _bytes(n: int | None, estimated: bool) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            shown = f"{size:.0f}" if unit == "B" else f"{size:.1f}"
            return f"{'~' if estimated else ''}{shown} {unit}"
        size /= 1024
    return str(n)


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"~{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"~{seconds:.1f} s"
    return f"~{seconds / 60:.0f} min"


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
    settlement = recovery.rollback(
        db.engine,
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
    settlement = recovery.resume(
        db.engine,
        load_catalog(),
        actor=shell_actor(),
        dry_run=dry_run,
        settings=_executor_settings(x_arg),
        show=_settlement_sql,
    )
    if dry_run:
        click.echo("dry run: nothing was run")
        return
    result = verify_revisions(db.engine, settlement.stamped)
    if result.matches:
        click.echo(f"resumed: stamped {result.label}, and the schema verifies")
        return
    click.echo(f"resumed and stamped {result.label}, but verify finds:", err=True)
    for difference in result.differences:
        click.echo(f"  - {difference}", err=True)
    raise SystemExit(1)
