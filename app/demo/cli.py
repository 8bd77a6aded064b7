"""`flask demo ...`: a legacy database to try Headway on."""

import os
import time
from pathlib import Path

import click
import sqlalchemy as sa
from alembic import command
from flask import current_app

from app.cli import HeadwayGroup
from app.dbadmin.core.alembic_env import alembic_config
from app.demo.legacy import create_legacy
from app.errors import HeadwayError
from app.extensions import db
from app.own_tables.setup import init_own_tables

demo_cli = HeadwayGroup("demo", help="Demo data: a legacy database to try Headway on.")


@demo_cli.command("create-legacy")
@click.option(
    "--scale",
    type=click.FloatRange(min=0, min_open=True),
    default=1,
    show_default=True,
    help="Size: 1 is 10,000 employees, 30 about the real database.",
)
@click.option(
    "--seed", type=int, default=1, show_default=True, help="Seed of the data."
)
def create_legacy_command(scale: float, seed: int) -> None:
    """Create the legacy employees tables and views with their original DDL,
    no migrations, and fill them with synthetic data. The database must not
    have them yet."""
    _ensure_sqlite_directory(db.engine.url)
    _create_and_report(db.engine, scale, seed)


def _create_and_report(engine: sa.Engine, scale: float, seed: int) -> None:
    started = time.perf_counter()
    counts = create_legacy(engine, scale=scale, seed=seed)
    elapsed = time.perf_counter() - started

    width = max(map(len, counts))
    for table, rows in counts.items():
        click.echo(f"{table:<{width}}  {rows:>10,}")
    click.echo(f"{'total':<{width}}  {sum(counts.values()):>10,}")
    click.echo(f"Created the legacy database in {elapsed:.1f} s.")


@demo_cli.command("prepare")
@click.option("--scale", type=click.FloatRange(min=0, min_open=True), default=1)
def prepare_command(scale: float) -> None:
    """Set up the embedded SQLite demo (used by `make run`): create the legacy
    database when there is none, adopt it, upgrade it. A database named by
    DATABASE_URL is left exactly as it is."""
    config = current_app.config
    if config["SQLALCHEMY_DATABASE_URI"] != config["DEFAULT_DATABASE_URI"]:
        click.echo("DATABASE_URL names your own database: it is left as it is.")
        return
    path = Path(db.engine.url.database)
    if not path.exists():
        # Built aside and moved in whole: an interrupted run leaves no
        # half-made database behind to be mistaken for a real one.
        partial = path.with_name(path.name + ".partial")
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.unlink(missing_ok=True)
        engine = sa.create_engine(f"sqlite:///{partial}")
        try:
            _create_and_report(engine, scale, seed=1)
        finally:
            engine.dispose()
        os.replace(partial, path)
    # Headway's tables first, so that the adoption and upgrade are audited.
    init_own_tables(db.engine)
    # (Imported here: the migration core is not loaded by every command.)
    from app.dbadmin.core.adoption import adopt, stamped_revisions

    if not stamped_revisions(db.engine):
        adoption = adopt(db.engine)
        if not adoption.stamped:
            raise HeadwayError(
                f"{path} is not versioned and matches no revision; "
                "move it away to have a new demo database made"
            )
        click.echo(f"adopted at {adoption.verification.label}")
    command.upgrade(alembic_config(), "heads")


def _ensure_sqlite_directory(url: sa.URL) -> None:
    # The default database is a file under instance/, which may not exist yet.
    if url.get_backend_name() == "sqlite" and url.database not in (
        None,
        "",
        ":memory:",
    ):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
