"""`flask headway release`: the one step a deploy runs before serving.

Headway's own tables, then the user's migrations to their heads (adopting an
unversioned legacy database first when asked), then a check that the schema
is what this code expects. Whole releases exclude each other through a lock
of their own per database (so two hosts deploying at once take turns), and
each migration still takes the migration lock in migrations/env.py (so a
console job and a release never migrate at once).
"""

import logging
from collections.abc import Callable
from contextlib import ExitStack

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from app.cli import database_error_line
from app.dbadmin.core.adoption import adopt_if_unversioned as adoption_of_legacy
from app.dbadmin.core.adoption import (
    existing_first_revision_tables,
    stamped_revisions,
)
from app.dbadmin.core.alembic_env import alembic_config, describe
from app.dbadmin.core.catalog import Catalog, load_catalog
from app.dbadmin.core.drift import run_drift_check
from app.dbadmin.core.lock import Deadline, shell_actor, take_release_lock
from app.errors import HeadwayError, error_line
from app.extensions import db
from app.own_tables.setup import init_own_tables


def release(
    engine: Engine,
    lock_wait: float,
    adopt_legacy: bool,
    say: Callable,
    online: bool = False,
    no_preflight: bool = False,
):
    """Run the release; `say` prints each step. Raises HeadwayError (one line)
    on anything wrong. `online`: table copies through pt-online-schema-change
    (core/online.py)."""
    deadline = Deadline.after(lock_wait)
    alembic_logger = logging.getLogger("alembic")
    level = alembic_logger.level
    with engine.connect() as lock_connection, ExitStack() as held:
        # A release prints its own steps; Alembic's INFO lines (a "Context
        # impl" for every connection it configures) would bury them.
        held.callback(alembic_logger.setLevel, level)
        alembic_logger.setLevel(logging.WARNING)
        take_release_lock(held, lock_connection, deadline, say, "--lock-wait")
        say(f"Headway tables at {describe(init_own_tables(engine))}")
        # The console sets a broken revision file aside; a release must not
        # deploy without it.
        catalog = load_catalog()
        catalog.refuse_broken_files("a release")
        if adopt_legacy:
            adopted = adopt_if_unversioned(engine)
            if adopted:
                say(f"adopted at {adopted}")
        else:
            refuse_unversioned_legacy(engine, catalog)
        upgrade_to_heads(engine, catalog, deadline, say, online, no_preflight)
        verify_release(engine, catalog, say)


def adopt_if_unversioned(engine: Engine) -> str | None:
    """Adopt an unversioned database that already has the first revision's
    tables (the verified adoption of `flask db adopt`, as `flask db upgrade
    --adopt` does); returns the revision, or None when there was nothing to
    adopt (versioned, or new: upgraded from base)."""
    # Its stamp leaves logging alone: the release prints its own lines.
    adoption = adoption_of_legacy(engine, run_attributes={"configure_logger": False})
    if adoption is None:
        return None
    result = adoption.verification
    if not result.matches:
        raise HeadwayError(
            f"no revision matches the database, nothing was written; closest is "
            f"{result.label} with {len(result.differences)} difference(s), first: "
            f"{result.differences[0]} (see `flask db adopt --dry-run`)"
        )
    return result.label


def refuse_unversioned_legacy(engine: Engine, catalog: Catalog) -> None:
    """migrations/env.py refuses such an upgrade too; the release says how to
    go on in its own terms."""
    if stamped_revisions(engine):
        return
    tables = sorted(existing_first_revision_tables(engine, catalog))
    if tables:
        shown = ", ".join(tables[:4]) + (", ..." if len(tables) > 4 else "")
        raise HeadwayError(
            f"the database is unversioned but already has tables ({shown}); "
            "`flask headway release --adopt` adopts it first "
            "(`flask db adopt --dry-run` shows what it would stamp)"
        )


def upgrade_to_heads(
    engine: Engine,
    catalog: Catalog,
    deadline: Deadline,
    say: Callable,
    online: bool = False,
    no_preflight: bool = False,
) -> None:
    before = stamped_revisions(engine)
    heads = catalog.heads
    refuse_unknown_revisions(catalog, before)
    if set(before) == set(heads):
        say(f"already at {describe(heads)}")
        return
    say(f"upgrading {describe(before)} -> {describe(heads)}")
    # migrations/env.py takes the migration lock, waiting what is left.
    # Preflight first, in migrations/env.py's guards, unless skipped.
    config = alembic_config(
        configure_logger=False, online=online, no_preflight=no_preflight
    )
    config.cmd_opts.x.append(f"lock_wait={deadline.left()}")
    try:
        command.upgrade(config, "heads")
    except HeadwayError:
        raise
    except Exception as exc:  # a revision's own error, whatever its type
        detail = (
            database_error_line(exc)
            if isinstance(exc, sa.exc.SQLAlchemyError)
            else error_line(exc, with_type=True)
        )
        now = describe(stamped_revisions(engine))
        raise HeadwayError(
            f"the upgrade to {describe(heads)} failed, the database is at {now}: "
            f"{detail}"
        ) from None
    say(f"upgraded: the database is at {describe(stamped_revisions(engine))}")


def refuse_unknown_revisions(catalog: Catalog, stamped: tuple[str, ...]) -> None:
    """A database stamped by newer code (a rollback of the code alone) or by a
    revision file since deleted: these scripts cannot move it anywhere."""
    unknown = [rev for rev in stamped if rev not in catalog.by_id]
    if unknown:
        raise HeadwayError(
            f"the database is at {describe(unknown)}, which these migration "
            "scripts do not have (newer code migrated it, or a revision file is "
            "missing): deploy the code that has it, or downgrade with that code "
            "first"
        )


def verify_release(engine: Engine, catalog: Catalog, say: Callable) -> None:
    """The database is at the scripts' heads, its schema is exactly theirs, and
    the models find everything they map (the check is kept as a drift check)."""
    current, heads = stamped_revisions(engine), catalog.heads
    if set(current) != set(heads):
        raise HeadwayError(
            f"the database is at {describe(current)}, the scripts' heads are "
            f"{describe(heads)}"
        )
    check = run_drift_check(db.session, catalog, db.metadata, shell_actor())
    if check.stamp_error:
        raise HeadwayError(f"cannot verify the schema: {check.stamp_error}")
    for label, differences in (
        (f"{describe(current)}'s schema", check.stamp_differences),
        ("the models", check.model_differences),
    ):
        if differences:
            found = differences.splitlines()
            raise HeadwayError(
                f"the schema differs from {label} ({len(found)} difference(s)): "
                + "; ".join(found)
            )
    say(f"verified: the schema is {describe(current)}'s and the models'")
