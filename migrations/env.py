"""Alembic environment for the user's schema (`flask db ...`).

Differences from Flask-Migrate's stock env.py, each for a reason:
- every run on the database takes Headway's migration lock on its connection,
  so the console, a shell and a deploy script never migrate at once
  (`flask db -x lock_wait=SECONDS upgrade` waits for it instead of failing);
- every step is recorded in Headway's audit trail (headway_audit), and each
  step runs in its own transaction, so a failure leaves the version at the
  last good revision;
- every statement of a step goes through Headway's statement executor
  (app/dbadmin/core/executor.py): journalled with the step's before-image,
  DDL under a short metadata-lock timeout (`-x ddl_lock_timeout=SECONDS`,
  `-x ddl_lock_retries=N`), cancellable between statements; a step that
  fails half-way on MySQL is recorded as partial;
- with `--online` (or on a table past HEADWAY_ONLINE_MIN_ROWS rows), a
  statement the server would run as a table copy, or in place with writes
  blocked, goes to pt-online-schema-change (app/dbadmin/core/online.py);
- the app's loggers stay alive after an in-process run (no silencing fileConfig);
- a caller may hand in its own connection (`config.attributes["connection"]`),
  which is how Headway builds a revision's schema in a scratch database;
- the revision files are imported once per process: the ScriptDirectory the
  command made borrows the ones Headway's catalog has imported
  (app/dbadmin/core/catalog.py, lend_scripts);
- `include_user_schema` never proposes dropping what the models don't know (legacy
  tables, views) and leaves Headway's own `headway_*` tables alone; autogenerate
  says what it left out that way, and compares server defaults too;
- batch mode on SQLite only, with foreign keys off while migrating, so a batch
  table rebuild cannot cascade-delete rows of the tables that reference it;
- Headway's guards (app/dbadmin/core/guards.py) check every upgrade, downgrade
  and stamp before it runs, and every autogenerate: an unversioned database
  with tables is adopted, not upgraded; a stamp is verified; a step that drops
  data needs an explicit yes; an upgrade or downgrade runs preflight first
  (core/preflight.py) and is refused, before any statement, when a step will
  fail (`--no-preflight` skips it, and the audit trail says so).
"""

from __future__ import annotations

import logging
from logging.config import fileConfig
from typing import TYPE_CHECKING

from alembic import context
from flask import current_app

from app.dbadmin.core.alembic_env import (
    COMPARE_OPTIONS,
    UnmodelledObjects,
    include_user_schema,
    running_context_opts,
)
from app.dbadmin.core.catalog import lend_scripts

# The guards, the executor, the journal, the lock and the models are imported
# by the runs that use them: `flask db current` reads the version table only,
# and should start about as fast as `alembic current`.
if TYPE_CHECKING:
    from app.dbadmin.core.audit import AuditTrail
    from app.dbadmin.core.executor import StatementExecutor
    from app.dbadmin.core.online import OnlineRouter

config = context.config

if config.attributes.get("configure_logger", True) and config.config_file_name:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

migrate_ext = current_app.extensions["migrate"]
target_metadata = migrate_ext.db.metadata


def load_models() -> None:
    """Every model on target_metadata, for the runs that compare with it or
    guard a change (a web app has them already; a shell command may not)."""
    import app.models  # noqa: F401


# What this run's autogenerate left out because only the database has it.
unmodelled = UnmodelledObjects()


def autogenerating() -> bool:
    """`flask db migrate` (or `revision --autogenerate`)."""
    return bool(getattr(config.cmd_opts, "autogenerate", False))


def process_revision_directives(context, revision, directives):
    if autogenerating():
        # An autogenerate that finds nothing writes no empty revision file.
        script = directives[0]
        if script.upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")
        report_unmodelled()


def report_unmodelled() -> None:
    """Nothing is dropped automatically: say what was kept, and how to drop
    or rename it by hand."""
    for notice in unmodelled.notices():
        logger.warning(notice)


def configure_args(dialect_name: str) -> dict:
    args = dict(migrate_ext.configure_args)
    args.setdefault("process_revision_directives", process_revision_directives)
    args["include_object"] = (
        unmodelled.include_object if autogenerating() else include_user_schema
    )
    args.update(COMPARE_OPTIONS)
    args["render_as_batch"] = dialect_name == "sqlite"
    # Headway's console follows each step (SQL preview, lint).
    if "on_version_apply" in config.attributes:
        args["on_version_apply"] = config.attributes["on_version_apply"]
    return args


def attach_callers_hooks() -> None:
    attach = config.attributes.get("attach_to_context")
    if attach is not None:
        attach(context.get_context())


def run_migrations_offline() -> None:
    from app.dbadmin.core.guards import offline_warnings

    load_models()
    engine = migrate_ext.db.engine
    context.configure(
        url=engine.url,
        target_metadata=target_metadata,
        literal_binds=True,
        **configure_args(engine.dialect.name),
    )
    attach_callers_hooks()
    opts = running_context_opts()
    # A user's script (`--sql`), not Headway's own rendering of a plan, and
    # not a stamp: it carries the guards' warnings as SQL comments.
    if (
        "attach_to_context" not in config.attributes
        and changes_the_database()
        and "purge" not in opts
    ):
        migration_context = context.get_context()
        lines = offline_warnings(engine, migration_context, opts["destination_rev"])
        if lines:
            migration_context.impl.static_output("\n".join(lines))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations(connection, audit: AuditTrail | None = None, executor=None) -> None:
    if connection.dialect.name == "sqlite":
        # Outside any transaction, or SQLite ignores it; committed at once so
        # that Alembic still begins (and commits) its own transaction.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    if connection.in_transaction():
        # Queries made so far (the lock, the audit table check) autobegan a
        # transaction; Alembic would take it for the caller's and never commit.
        connection.commit()
    args = configure_args(connection.dialect.name)
    if audit is not None:
        args["on_version_apply"] = each_step(executor, audit)
        args["transaction_per_migration"] = True
    context.configure(connection=connection, target_metadata=target_metadata, **args)
    try:
        if audit is not None:
            guard_the_run(connection, audit)
            audit.attach(context.get_context())
            executor.attach(context.get_context())
        else:
            attach_callers_hooks()
        try:
            with context.begin_transaction():
                context.run_migrations()
        except Exception as exc:
            if audit is not None:
                step = executor.record_failure(exc)
                audit.online_tool = step.online_tool if step else None
                applied = [s.position for s in step.applied] if step else []
                audit.record_failure(exc, applied)
                report_partial(step)
            raise
    finally:
        if connection.dialect.name == "sqlite" and not connection.invalidated:
            connection.rollback()
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()


def report_partial(step) -> None:
    """After a failed step: say plainly what it left applied."""
    from app.dbadmin.core.guards import (
        RunOptions,
        partial_line,
        read_partial_if_journaled,
    )

    if step is None or not (step.applied or step.online_tool):
        return  # nothing of it stayed (SQLite takes a whole step back)
    connection = context.get_context().connection
    try:
        partial = read_partial_if_journaled(connection)
    except Exception:  # noqa: BLE001 - the database is gone: the error says so
        partial = None
    if partial is not None:
        logger.error(partial_line(partial, RunOptions.of(config.attributes).ways))


def each_step(executor: StatementExecutor, audit: AuditTrail):
    """After each step: the journal, then the audit trail (both committed
    with the step's transaction)."""

    def on_version_apply(ctx, step, heads, run_args):
        running = executor.step
        audit.online_tool = running.online_tool if running is not None else None
        executor.on_version_apply(ctx, step, heads, run_args)
        audit.on_version_apply(ctx, step, heads, run_args)

    return on_version_apply


def guard_the_run(connection, audit: AuditTrail) -> None:
    """Headway's guards, before any DDL and before Alembic creates its version
    table; what they say first is logged (the CLI prints it, a job logs it)."""
    from app.dbadmin.core.guards import UNVERIFIED_STAMP, Refused, RunOptions, check_run

    opts = running_context_opts()
    try:
        checked = check_run(
            migrate_ext.db.engine,
            context.get_context(),
            target_metadata,
            # Only `alembic stamp` hands its EnvironmentContext a `purge`.
            stamp="purge" in opts,
            purge=bool(opts.get("purge")),
            destination=opts.get("destination_rev"),
            options=RunOptions.of(config.attributes),
        )
    except Refused as refusal:
        # A preflight that refuses the run is kept too (the plan page shows
        # why); nothing of the user's schema was touched.
        if getattr(refusal, "preflight", None) is not None:
            if connection.in_transaction():
                connection.commit()
            keep_preflight(connection, refusal.preflight, opts, audit)
            connection.commit()
        raise
    # The lint as warnings, the same the console shows for the plan.
    for warning in checked.lint:
        logger.warning(warning)
    for note in checked.notes:
        logger.info(note)
    if checked.unverified_stamp:
        audit.action = UNVERIFIED_STAMP
    if checked.preflight_skipped:
        audit.preflight = "skipped"
    elif checked.preflight is not None:
        audit.preflight = "passed"
        report_preflight(checked.preflight)
        keep_preflight(connection, checked.preflight, opts, audit)
    # The guards' reads began a transaction; Alembic begins its own.
    if connection.in_transaction():
        connection.commit()


def report_preflight(result) -> None:
    """What preflight found in steps it lets through: writes they block,
    what it could not check."""
    from app.dbadmin.preflight_text import verdict_words

    for step in result.steps:
        level = logging.INFO if step.verdict == "safe" else logging.WARNING
        logger.log(level, f"preflight {step.revision}: {verdict_words(step)}")


def keep_preflight(connection, result, opts, audit: AuditTrail) -> None:
    """The run's preflight, kept for the console's plan page."""
    from app.dbadmin.core.preflight import record_result

    if not result.steps:
        return
    record_result(
        connection,
        result,
        start=tuple(context.get_context().get_current_heads()),
        target=str(opts.get("destination_rev")),
        direction=result.steps[0].direction,
        checked_by=audit.actor,
        job_id=audit.job_id,
    )


def is_autogenerate() -> bool:
    """`flask db migrate`, `flask db check` (and `revision --autogenerate`)."""
    return running_context_opts().get("revision_context") is not None


def changes_the_database() -> bool:
    """upgrade, downgrade and stamp; not current, check, history, migrate."""
    opts = running_context_opts()
    return opts.get("destination_rev") is not None and not opts.get("dont_mutate")


def online_router(connection) -> OnlineRouter | None:
    """The executor's route to pt-online-schema-change, for a run with
    --online, or with a row threshold configured (MySQL/MariaDB only; the
    guards refuse --online on SQLite before this)."""
    from app.dbadmin.core.online import OnlineRouter, OnlineSettings

    settings = OnlineSettings.from_config(
        current_app.config, enabled=bool(config.attributes.get("online"))
    )
    if not settings.active or connection.dialect.name != "mysql":
        return None
    return OnlineRouter(migrate_ext.db.engine, settings)


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        # A caller's own (scratch) database: no lock, nothing to audit.
        run_migrations(connection)
        return
    if not changes_the_database():
        if is_autogenerate():
            from app.dbadmin.core.guards import check_autogenerate

            load_models()
            check_autogenerate(migrate_ext.db.engine)
        with migrate_ext.db.engine.connect() as connection:
            run_migrations(connection)
        return
    from app.dbadmin.core.audit import AuditTrail
    from app.dbadmin.core.executor import ExecutorSettings, StatementExecutor
    from app.dbadmin.core.journal import Journal
    from app.dbadmin.core.lock import (
        holder_description,
        lock_wait_seconds,
        migration_lock,
        shell_actor,
    )

    load_models()  # the guards compare the schema with them
    x_arguments = context.get_x_argument(as_dictionary=True)
    wait = lock_wait_seconds(x_arguments.get("lock_wait"))
    settings = ExecutorSettings.from_x_arguments(x_arguments)
    # A console job names its user and itself; a shell run is its OS user.
    actor = config.attributes.get("actor") or shell_actor()
    job_id = config.attributes.get("job_id")
    with migrate_ext.db.engine.connect() as connection:
        with migration_lock(
            connection, wait=wait, holder=holder_description(actor, job_id)
        ):
            audit = AuditTrail(
                connection,
                action=config.attributes.get("audit_action"),
                actor=actor,
                job_id=job_id,
                accepted_differences=config.attributes.get("accepted_differences"),
            )
            journal = Journal(migrate_ext.db.engine, connection, actor, job_id)
            executor = StatementExecutor(
                connection,
                journal,
                settings,
                cancel_requested=config.attributes.get("cancel_requested"),
                online=online_router(connection),
            )
            try:
                with executor:
                    run_migrations(connection, audit, executor)
            finally:
                journal.close()


# The revision files, imported once per process: the catalog has them
# (`flask db` checked them for broken files before this run).
lend_scripts(context.script)
if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
