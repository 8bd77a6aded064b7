"""Alembic's side of the user's migrations: its config, the autogenerate
filter, the database's stamp. Read with Alembic's API directly (Flask-Migrate's
functions print and exit: wrong for callers that need data). The scripts
themselves are read by catalog.py."""

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import alembic.context
import alembic.op
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


# What autogenerate compares, for `flask db migrate/check` (migrations/env.py)
# and the console's drift check alike: types and server defaults too (Alembic
# leaves defaults out unless asked).
COMPARE_OPTIONS = {"compare_type": True, "compare_server_default": True}


class UnmodelledObjects:
    """Collects what include_user_schema leaves out because only the database
    has it, so that `flask db migrate` can say so: autogenerate would
    otherwise stay silent about a column removed from the models, or the old
    name of a renamed one."""

    def __init__(self) -> None:
        self.found: list[tuple[str, object]] = []

    def include_object(self, obj, name, type_, reflected, compare_to) -> bool:
        included = include_user_schema(obj, name, type_, reflected, compare_to)
        if not included and reflected and compare_to is None:
            if not (type_ == "table" and _not_users(name)):
                self.found.append((type_, obj))
        return included

    def notices(self) -> list[str]:
        return [_unmodelled_notice(type_, obj) for type_, obj in self.found]


def _not_users(table_name: str) -> bool:
    return table_name.startswith(TABLE_PREFIX) or table_name == USER_VERSION_TABLE


# How to drop (or rename) each kind of object in a hand-edited revision.
_DROP_HINTS = {
    "table": "If you meant to drop or rename it, edit the revision "
    "(op.drop_table / op.rename_table)",
    "column": "If you meant to drop or rename it, edit the revision "
    "(op.drop_column / op.alter_column(new_column_name=...))",
    "index": "If you meant to drop it, edit the revision (op.drop_index)",
    "unique_constraint": "If you meant to drop it, edit the revision "
    "(op.drop_constraint(..., type_='unique'))",
    "foreign_key_constraint": "If you meant to drop it, edit the revision "
    "(op.drop_constraint(..., type_='foreignkey'))",
}


def _unmodelled_notice(type_: str, obj) -> str:
    if type_ == "table":
        what = f"table {obj.name}"
    elif type_ == "column":
        what = f"{obj.table.name}.{obj.name}"
    else:
        columns = ", ".join(c.name for c in obj.columns)
        kind = {
            "index": "index",
            "unique_constraint": "unique key",
            "foreign_key_constraint": "foreign key",
        }.get(type_, type_)
        name = f" {obj.name}" if obj.name else ""
        what = f"{kind}{name} on {obj.table.name}({columns})"
    hint = _DROP_HINTS.get(type_, "If you meant to drop it, edit the revision")
    return (
        f"{what} is in the database but not in the models; it is not dropped. {hint}."
    )


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
    with quiet_alembic():  # a read, not a run: no "Context impl" lines
        return MigrationContext.configure(connection).get_current_heads()


def describe(revisions: Sequence[str]) -> str:
    return ", ".join(revisions) if revisions else "base"


@contextmanager
def inside_a_running_migration() -> Iterator[None]:
    """For an Alembic run started while another is running in this thread
    (Headway's guards in migrations/env.py render steps offline and build a
    revision's schema in a scratch database before the real run goes on).

    Alembic installs the running environment and operations as module-global
    proxies (`alembic.context`, `alembic.op`) and removes them when a run ends,
    which would leave the outer run without them: they are put back."""
    modules = (alembic.context, alembic.op)
    outer = [getattr(module, "_proxy", None) for module in modules]
    try:
        yield
    finally:
        for proxy in outer:
            if proxy is not None:
                proxy._install_proxy()


@contextmanager
def quiet_alembic() -> Iterator[None]:
    """Alembic's INFO lines off: for runs that are not the user's (a scratch
    database, a plan rendered offline), which must not read like one."""
    alembic_logger = logging.getLogger("alembic")
    level = alembic_logger.level
    alembic_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        alembic_logger.setLevel(level)
