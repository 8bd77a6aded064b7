"""The `flask db` group: Flask-Migrate's commands unchanged, plus verify and
adopt."""

import click
from flask_migrate.cli import db as flask_migrate_db

from app.cli import HeadwayGroup
from app.dbadmin.core.adoption import Verification, adopt, verify
from app.extensions import db

db_cli = HeadwayGroup(
    "db",
    help=flask_migrate_db.help,
    params=flask_migrate_db.params,
    callback=flask_migrate_db.callback,
)
for _name, _command in flask_migrate_db.commands.items():
    db_cli.add_command(_command, _name)


def _print_differences(result: Verification) -> None:
    click.echo(f"does not match {result.label}:", err=True)
    for difference in result.differences:
        click.echo(f"  - {difference}", err=True)


@db_cli.command("verify")
@click.argument("revision", required=False)
def verify_command(revision: str | None) -> None:
    """Check that the live schema is exactly REVISION's schema (default: the
    stamped revision; head when unversioned)."""
    result = verify(db.engine, revision)
    if not result.matches:
        _print_differences(result)
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
