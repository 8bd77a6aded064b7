"""Alembic's side of the user's migrations: its config, the autogenerate
filter, the database's stamp. Read with Alembic's API directly (Flask-Migrate's
functions print and exit: wrong for callers that need data). The scripts
themselves are read by catalog.py."""

import threading
from collections.abc import Sequence

from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from flask import current_app
from sqlalchemy.engine import Connection

from app.models.own import TABLE_PREFIX

USER_VERSION_TABLE = "alembic_version"
# Alembic keeps module-global state while a command runs: one at a time per
# process (the console may run several requests in threads).
ALEMBIC_LOCK = threading.RLock()


def include_user_schema(obj, name, type_, reflected, compare_to) -> bool:
    """Autogenerate filter for the user's schema (used by migrations/env.py).

    Never proposes dropping what the models don't know: a table, column, index
    or key that exists only in the database (legacy databases have many) is
    left out of the comparison. Dropping one is a decision for a hand-written
    revision, not for autogenerate.
    """
    if type_ == "table" and (
        name.startswith(TABLE_PREFIX) or name == USER_VERSION_TABLE
    ):
        return False
    return not (reflected and compare_to is None)


def alembic_config(**attributes) -> AlembicConfig:
    """The Alembic config of the user's migrations (needs an app context).

    `attributes` reach migrations/env.py, e.g. `connection=` to run on a
    connection of the caller's, `configure_logger=False` to leave logging alone.
    """
    config = current_app.extensions["migrate"].migrate.get_config()
    config.attributes.update(attributes)
    return config


def current_heads(connection: Connection) -> tuple[str, ...]:
    """The revisions the database is stamped with; () when unversioned."""
    return MigrationContext.configure(connection).get_current_heads()


def describe(revisions: Sequence[str]) -> str:
    return ", ".join(revisions) if revisions else "base"
