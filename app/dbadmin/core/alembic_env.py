"""Alembic's side of the user's migrations: its config, the autogenerate
filter, the database's stamp. Read with Alembic's API directly (Flask-Migrate's
functions print and exit: wrong for callers that need data). The scripts
themselves are read by catalog.py.

Every use of a name Alembic keeps private (a leading underscore, or a method
it calls on itself) is here and nowhere else, each with the reason Alembic's
public API does not do it, and a test in tests/test_alembic_env.py that fails
when Alembic changes it: an upgrade of Alembic is checked in one place.
"""

import copy
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import alembic.context
import alembic.op
from alembic.config import Config as AlembicConfig
from alembic.operations.batch import BatchOperationsImpl
from alembic.runtime.migration import HeadMaintainer, MigrationContext
from alembic.script import Script, ScriptDirectory
from alembic.script.revision import RevisionMap
from flask import current_app
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

USER_VERSION_TABLE = "alembic_version"
# Headway's own tables' names begin with it (app.models.own takes it from
# here: importing app.models loads every model and the ORM, which `flask db
# current` does not need).
TABLE_PREFIX = "headway_"
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


SELECT_STAMPED = f"SELECT version_num FROM {USER_VERSION_TABLE}"


# Where the database is stamped, read here rather than in state.py, which
# `flask db current` does not load (it imports the models).
def stamped_on(conn: Connection) -> tuple[str, ...]:
    """The revisions the database is stamped with, read on `conn`: one plain
    SELECT of the version table (Alembic's own reading first asks whether the
    table exists and builds a migration context: ten times the cost, on every
    console page). Raises SQLAlchemyError when there is no version table."""
    return tuple(conn.exec_driver_sql(SELECT_STAMPED).scalars())


def stamped_revisions(engine: Engine) -> tuple[str, ...]:
    """The revisions the database is stamped with, read live (stamped_on);
    without the version table, Alembic's answer (unversioned)."""
    with engine.connect() as conn:
        try:
            return stamped_on(conn)
        except SQLAlchemyError:
            conn.rollback()
            return current_heads(conn)


def describe(revisions: Sequence[str]) -> str:
    return ", ".join(revisions) if revisions else "base"


@contextmanager
def inside_a_running_migration() -> Iterator[None]:
    """For an Alembic run started while another is running in this thread
    (Headway's guards in migrations/env.py render steps offline and build a
    revision's schema in a scratch database before the real run goes on).

    Alembic installs the running environment and operations as module-global
    proxies (`alembic.context`, `alembic.op`) and removes them when a run ends,
    which would leave the outer run without them: they are put back. Private:
    the modules' _proxy and its _install_proxy(); Alembic has no public way to
    nest runs."""
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


# --- Alembic's private names (see the module's docstring) --------------------


def running_context_opts() -> dict:
    """The options of the EnvironmentContext running now (env.py reads what
    the command asked for: its destination, `--sql`, a purge). Private:
    Alembic's `context` module exposes configure() but not what was passed to
    the command (alembic.context._proxy)."""
    return alembic.context._proxy.context_opts


def upgrade_steps(script: ScriptDirectory, destination, current) -> list:
    """The steps `alembic upgrade DESTINATION` runs from `current`, as the
    command computes them. Private: the public iterate_revisions() gives
    revisions, not the steps (with their direction and merge points) that a
    run's `fn=` must return (ScriptDirectory._upgrade_revs)."""
    return script._upgrade_revs(destination, current)


def downgrade_steps(script: ScriptDirectory, destination, current) -> list:
    """The steps `alembic downgrade DESTINATION` runs from `current`
    (ScriptDirectory._downgrade_revs; private for the reason of
    upgrade_steps)."""
    return script._downgrade_revs(destination, current)


def steps_of_run(migration_context: MigrationContext, current) -> list:
    """The steps the run configured on `migration_context` is about to make
    from `current`, before it makes them (the guards check them first).
    Private: the run's `fn=` is kept only as MigrationContext._migrations_fn."""
    return list(migration_context._migrations_fn(current, migration_context))


def watch_steps(
    migration_context: MigrationContext, seen: Callable[[list], None]
) -> None:
    """Call `seen` with the steps of the run when Alembic computes them (the
    audit trail and the executor name the step that runs). Private:
    MigrationContext._migrations_fn, for the reason of steps_of_run."""
    steps_of = migration_context._migrations_fn

    def planned_steps(heads, ctx):
        planned = list(steps_of(heads, ctx))
        seen(planned)
        return planned

    migration_context._migrations_fn = planned_steps


def record_impl_calls(
    migration_context: MigrationContext,
    names: Sequence[str],
    record: Callable[[str, tuple, dict], None],
) -> None:
    """Call `record(name, args, kwargs)` for each call of the impl methods
    `names` (drop_table, add_column, ...) of a run, then let it go on: the
    operations as Alembic performs them, after a revision's own logic. Alembic
    has no hook on operations; its dialect impl is the one place every
    operation passes (patched on this run's impl only)."""
    impl = migration_context.impl
    for name in names:
        original = getattr(impl, name)

        def recorder(*args, _name=name, _original=original, **kwargs):
            record(_name, args, kwargs)
            return _original(*args, **kwargs)

        setattr(impl, name, recorder)


@contextmanager
def offline_batch_rebuilds(
    rebuild: Callable[[MigrationContext, str, list[tuple[str, tuple, dict]]], None],
) -> Iterator[None]:
    """While it lasts, a batch rebuild (SQLite's way to drop or alter a
    column) in an offline run calls `rebuild(context, table, operations)`
    instead of reflecting its table, where Alembic stops. Private:
    BatchOperationsImpl.flush (patched) and _should_recreate(), which decides
    whether the batch is a rebuild; Alembic has no offline hook for batches."""
    original = BatchOperationsImpl.flush

    def flush(batch: BatchOperationsImpl) -> None:
        context = batch.operations.migration_context
        if not (context.as_sql and batch.copy_from is None):
            return original(batch)
        if not batch._should_recreate():
            return original(batch)
        rebuild(context, batch.table_name, list(batch.batch))

    BatchOperationsImpl.flush = flush
    try:
        yield
    finally:
        BatchOperationsImpl.flush = original


class _HeadsOnly(HeadMaintainer):
    """Alembic's own bookkeeping of a stamp's heads, without writing them.
    Private: HeadMaintainer writes through _insert_version, _delete_version
    and _update_version, overridden here to keep the heads in a set."""

    def __init__(self, heads: tuple[str, ...]) -> None:
        self.heads = set(heads)

    def _insert_version(self, version: str) -> None:
        self.heads.add(version)

    def _delete_version(self, version: str) -> None:
        self.heads.discard(version)

    def _update_version(self, from_: str, to_: str) -> None:
        self.heads.discard(from_)
        self.heads.add(to_)


def heads_after(current: tuple[str, ...], steps: list) -> tuple[str, ...]:
    """The revisions the database is stamped with after `steps`."""
    heads = _HeadsOnly(current)
    for step in steps:
        heads.update_to_step(step)
    return tuple(sorted(heads.heads))


def read_scripts(
    script_dir: ScriptDirectory,
) -> Iterator[tuple[Path, Script | None, Exception | None]]:
    """Each file of `script_dir`'s versions, imported on its own: (path,
    script or None when it is no revision, the error it raised). Private:
    Script._list_py_dir and Script._from_path; Alembic's public loading stops
    at the first file that fails to import."""
    for path in Script._list_py_dir(script_dir, Path(script_dir.versions)):
        try:
            yield path, Script._from_path(script_dir, path), None
        except Exception as exc:  # any error a revision file can raise
            yield path, None, exc


def lent_revision_map(scripts: Iterable[Script]) -> RevisionMap:
    """A RevisionMap over copies of `scripts`, revision files already
    imported, for a ScriptDirectory that would import them all again.
    Copies, because a map sets each revision's children and branch labels on
    it, and a run that writes a revision adds to them: the lender's stay as
    they were. Private: Revision.branch_labels is a set that maps update in
    place (the rest they assign anew)."""

    def copies() -> Iterator[Script]:
        for script in scripts:
            twin = copy.copy(script)
            twin.branch_labels = set(script.branch_labels)
            yield twin

    return RevisionMap(copies)


class ScriptDirectoryLoadingItsOwn(ScriptDirectory):
    """A ScriptDirectory whose revisions come from its load_revisions()
    (catalog.py skips broken files). Private: ScriptDirectory._load_revisions
    is where Alembic reads versions/ and the one place to change it."""

    def load_revisions(self) -> Iterator[Script]:
        raise NotImplementedError

    def _load_revisions(self) -> Iterator[Script]:
        return self.load_revisions()
