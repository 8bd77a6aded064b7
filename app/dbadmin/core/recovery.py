"""The two ways out of a partial step (core/journal.py): `flask db rollback`
undoes what the step applied, `flask db resume` runs the rest of it and
stamps it. Both run under the migration lock, through the statement executor
(journalled, like any step), show their SQL first, and are audited.

- rollback works from the journal's before-image: the statements that turn
  each touched table's `SHOW CREATE TABLE` back into what it was
  (core/restore.py), then checks it byte for byte. It goes through the
  data-loss guard: a column or table the step added may hold data by now.
- resume rehearses the failed step from its before-image (core/rehearsal.py),
  checks that the statements already applied are the ones the rehearsal
  sends first, then runs the rest.

What neither can do, and says so: a revision whose Python code reads rows
between its operations (its statements depend on the data: only rollback);
data a statement changed (only the schema is restored); a column the step
dropped (its values are gone: rollback puts the column back, empty).
"""

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from app.dbadmin.core.alembic_env import (
    USER_VERSION_TABLE,
    describe,
    downgrade_steps,
    heads_after,
    upgrade_steps,
)
from app.dbadmin.core.audit import AuditTrail
from app.dbadmin.core.catalog import Catalog
from app.dbadmin.core.executor import (
    ExecutorSettings,
    RunningStep,
    StatementExecutor,
)
from app.dbadmin.core.guards import (
    AtRisk,
    Refused,
    _dropped_by_sql,
    _row_count,
    data_loss_refusal,
    read_partial_if_journaled,
)
from app.dbadmin.core.journal import Journal, PartialStep, retry_failed, settle
from app.dbadmin.core.lint import reads_database
from app.dbadmin.core.lock import holder_description, migration_lock
from app.dbadmin.core.rehearsal import rehearse
from app.dbadmin.core.restore import (
    Unrestorable,
    restore_tables,
    same_table,
    show_create,
)
from app.dbadmin.core.ways import Ways
from app.errors import HeadwayError


class NothingToSettle(HeadwayError):
    """The database is not partial."""


@dataclass
class Settlement:
    """What a rollback or resume will run (or ran), for the SQL shown first."""

    action: str  # rollback | resume
    partial: PartialStep
    statements: list[str]
    notes: list[str] = field(default_factory=list)
    at_risk: list[AtRisk] = field(default_factory=list)
    # resume: each statement's position in the step
    positions: list[int] = field(default_factory=list)
    refused: bool = False  # (a preview) it cannot run: notes say why
    # The statements that drop an online run's leftovers (not data at risk).
    cleanup: list[str] = field(default_factory=list)
    # After the run: the alembic_version rows, and how it was proven.
    stamped: tuple[str, ...] = ()
    proof: str = ""


def _partial(conn: Connection) -> PartialStep:
    partial = read_partial_if_journaled(conn)
    if partial is None:
        raise NothingToSettle(
            "nothing to settle: no migration step was left half-way "
            "(MySQL/MariaDB only: SQLite runs a step in one transaction)"
        )
    return partial


# --- rollback ---------------------------------------------------------------


def plan_rollback(conn: Connection, partial: PartialStep) -> Settlement:
    """The statements that restore every table the step touched."""
    now = {table: show_create(conn, table) for table in partial.before_image}
    try:
        plans = restore_tables(partial.before_image, now)
    except Unrestorable as exc:
        raise Refused(
            f"cannot roll {partial.revision} back exactly: {exc}. Nothing was "
            "run; restore the tables by hand from the journal's before-image "
            f"(the SHOW CREATE TABLE of each, in headway_step_runs.before_image "
            f"of run {partial.run_id})."
        ) from None
    statements = [sql for plan in plans for sql in plan.statements]
    notes = [note for plan in plans for note in plan.notes]
    if partial.leftovers:
        # The triggers first: until they go, they copy every write into the
        # helper table. The helper tables hold copies only: the table itself
        # has every row.
        notes.append(
            "an online run was cut off: its triggers and helper tables are "
            "dropped first (copies only; the table itself has every row)"
        )
    elif not statements:
        notes.append("every table the step touched is as it was: nothing to undo")
    settlement = Settlement("rollback", partial, partial.leftovers + statements, notes)
    settlement.cleanup = list(partial.leftovers)
    return settlement


def preview_rollback(engine: Engine, partial: PartialStep) -> Settlement:
    """What a rollback would run now, read-only (the console's page)."""
    with engine.connect() as conn:
        try:
            settlement = plan_rollback(conn, partial)
        except Refused as exc:
            settlement = Settlement("rollback", partial, [], notes=[str(exc)])
            settlement.refused = True
            return settlement
        settlement.at_risk = _at_risk(conn, partial, settlement)
        return settlement


def rollback(
    engine: Engine,
    *,
    actor: str,
    job_id: int | None = None,
    allow_data_loss: bool = False,
    dry_run: bool = False,
    ways: Ways | None = None,
    settings: ExecutorSettings | None = None,
    show=None,
    cancel_requested=None,
) -> Settlement:
    """Undo what the partial step applied (see the module's docstring).
    `show` sees the settlement (its SQL) before anything runs."""
    with engine.connect() as conn:
        with migration_lock(conn, holder=holder_description(actor, job_id)):
            partial = _partial(conn)
            settlement = plan_rollback(conn, partial)
            settlement.at_risk = _at_risk(conn, partial, settlement)
            if show is not None:
                show(settlement)
            if dry_run:
                return settlement
            if settlement.at_risk and not allow_data_loss:
                raise Refused(data_loss_refusal("roll back", settlement.at_risk, ways))
            _run(
                engine,
                conn,
                settlement,
                actor=actor,
                job_id=job_id,
                settings=settings,
                stamp=partial.from_revisions,
                cancel_requested=cancel_requested,
            )
            problems = [
                table
                for table, before in partial.before_image.items()
                if not same_table(show_create(conn, table), before)
            ]
            if problems:
                raise HeadwayError(
                    "the rollback ran, but "
                    + ", ".join(problems)
                    + " still differ from the before-image; the database stays "
                    "partial (`flask db rollback --dry-run` shows what is left)"
                )
            settlement.proof = (
                "every touched table's SHOW CREATE TABLE equals its before-image, "
                f"and the database is stamped {describe(partial.from_revisions)} "
                "again"
            )
            settle(conn, partial.run_id, "rolled_back")
            conn.commit()
            settlement.stamped = partial.from_revisions
            return settlement


def _at_risk(
    conn: Connection, partial: PartialStep, settlement: Settlement
) -> list[AtRisk]:
    """What the rollback's statements drop that holds data written since the
    step: a column or a table the step added may have been written to. The
    values the step itself filled in (the column's default, or MySQL's zero
    value for a NOT NULL column without one) are not counted, nor an online
    run's helper tables (copies)."""
    found = []
    tables = set(sa.inspect(conn).get_table_names())
    for sql in settlement.statements:
        if sql in settlement.cleanup:
            continue
        for table, column in _dropped_by_sql(sql.replace("`", "")):
            if table not in tables:
                continue
            if column is None:
                rows, estimated = _row_count(conn, table)
            else:
                rows, estimated = _written_values(conn, table, column), False
            if rows:
                found.append(AtRisk(partial.revision, table, column, rows, estimated))
    return found


_ZERO_VALUES = {
    "char": "''",
    "varchar": "''",
    "text": "''",
    "tinytext": "''",
    "mediumtext": "''",
    "longtext": "''",
    "enum": "''",
    "date": "'0000-00-00'",
    "datetime": "'0000-00-00 00:00:00'",
    "timestamp": "'0000-00-00 00:00:00'",
}


def _written_values(conn: Connection, table: str, column: str) -> int:
    """Rows whose `column` holds a value other than the one it was filled
    with when it was added."""
    info = conn.execute(
        sa.text(
            "SELECT COLUMN_DEFAULT, IS_NULLABLE, DATA_TYPE "
            "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME = :t AND COLUMN_NAME = :c"
        ),
        {"t": table, "c": column},
    ).first()
    quote = conn.dialect.identifier_preparer.quote
    where = f"{quote(column)} IS NOT NULL"
    if info is not None:
        default, nullable, data_type = info
        if default is not None and default != "NULL":
            where += f" AND {quote(column)} <> {default}"
        elif nullable == "NO":
            zero = _ZERO_VALUES.get(data_type.lower(), "0")
            where += f" AND {quote(column)} <> {zero}"
    return conn.exec_driver_sql(
        f"SELECT COUNT(*) FROM {quote(table)} WHERE {where}"
    ).scalar()


# --- resume -----------------------------------------------------------------


def plan_resume(engine: Engine, catalog: Catalog, partial: PartialStep) -> Settlement:
    """The statements of the failed step that have not run yet."""
    revision = catalog.by_id.get(partial.revision)
    if revision is None:
        raise Refused(
            f"cannot resume {partial.revision}: the scripts do not have it any "
            "more. Use rollback."
        )
    path = catalog.versions_path / revision.filename
    if reads_database(path, partial.direction):
        raise Refused(
            f"cannot resume {partial.revision}: its {partial.direction}() reads "
            "the database while it runs, so the statements it would send now "
            "cannot be known from a rehearsal. Use rollback, then fix the cause "
            "and upgrade again."
        )
    if partial.leftovers:
        raise Refused(
            f"cannot resume {partial.revision}: its online run was cut off and "
            "left triggers and helper tables behind. Use rollback (it drops "
            "them, triggers first), then run the step again."
        )
    target = _target_of(revision, partial)
    rehearsal = rehearse(
        engine,
        catalog,
        partial.from_revisions,
        target,
        partial.direction,
        tables=partial.before_image,
    )
    steps = [s for s in rehearsal.steps if s.revision == partial.revision]
    if not steps:
        raise Refused(
            f"cannot resume {partial.revision}: a rehearsal from its "
            f"before-image did not reach it ({rehearsal.error or 'no step'})"
        )
    rehearsed = steps[0].statements
    applied = {s.position: s for s in partial.applied}
    for position, statement in applied.items():
        if position > len(rehearsed) or _same(rehearsed[position - 1].sql) != _same(
            statement.sql
        ):
            raise Refused(
                f"cannot resume {partial.revision}: statement {position} as it "
                f"ran ({statement.sql}) is not the one the revision sends now "
                "(was the file changed?). Use rollback."
            )
    remaining = [
        (i, s.sql) for i, s in enumerate(rehearsed, start=1) if i not in applied
    ]
    settlement = Settlement("resume", partial, [sql for _, sql in remaining])
    settlement.positions = [i for i, _ in remaining]
    if rehearsal.error:
        settlement.notes.append(
            f"the rest of the step fails on an empty copy too: {rehearsal.error}"
        )
    return settlement


def resume(
    engine: Engine,
    catalog: Catalog,
    *,
    actor: str,
    job_id: int | None = None,
    dry_run: bool = False,
    settings: ExecutorSettings | None = None,
    show=None,
    cancel_requested=None,
) -> Settlement:
    """Run the rest of the partial step, then stamp it. `show` sees the
    settlement (its SQL) before anything runs."""
    with engine.connect() as conn:
        with migration_lock(conn, holder=holder_description(actor, job_id)):
            partial = _partial(conn)
            conn.commit()
            settlement = plan_resume(engine, catalog, partial)
            if show is not None:
                show(settlement)
            if dry_run:
                return settlement
            script = catalog.script
            revision = catalog.by_id[partial.revision]
            target = _target_of(revision, partial)
            if partial.direction == "upgrade":
                steps = upgrade_steps(script, target, partial.from_revisions)
            else:
                steps = downgrade_steps(script, target, partial.from_revisions)
            stamp = heads_after(partial.from_revisions, steps)
            _run(
                engine,
                conn,
                settlement,
                actor=actor,
                job_id=job_id,
                settings=settings,
                stamp=stamp,
                cancel_requested=cancel_requested,
            )
            settle(conn, partial.run_id, "resumed")
            conn.commit()
            settlement.stamped = stamp
            return settlement


def _target_of(revision, partial: PartialStep) -> str:
    if partial.direction == "upgrade":
        return revision.id
    parents = revision.down_revisions
    return parents[0] if len(parents) == 1 else "base"


def _same(sql: str) -> str:
    return " ".join(sql.split()).lower()


# --- running a settlement ---------------------------------------------------------


def _run(
    engine,
    conn,
    settlement: Settlement,
    *,
    actor,
    job_id,
    settings,
    stamp,
    cancel_requested=None,
):
    """The settlement's statements through the executor, the stamp, the audit
    row. A resume continues the partial step's own run in the journal (its
    statements keep their positions in the step); a rollback is a run of its
    own that settles it, and if it fails, the step stays partial and a second
    rollback starts again from what is there."""
    partial = settlement.partial
    resuming = settlement.action == "resume"
    journal = Journal(engine, conn, actor, job_id, action=settlement.action)
    executor = StatementExecutor(conn, journal, settings, cancel_requested)
    step = RunningStep(partial.revision, partial.direction, partial.from_revisions)
    step.settles = partial.run_id
    if resuming:
        step.run_id = partial.run_id
        step.before_image = dict(partial.before_image)
        step.positions = list(settlement.positions)
    audit = AuditTrail(conn, action=settlement.action, actor=actor, job_id=job_id)
    if conn.in_transaction():
        conn.commit()
    try:
        with executor:
            executor.step = step
            if resuming:
                retry_failed(journal, partial.run_id)
            else:
                journal.step_started(step, conn)
            try:
                for sql in settlement.statements:
                    conn.exec_driver_sql(sql)
                _write_stamp(conn, stamp)
                journal.step_applied(step, conn)
                audit.record(
                    revision=partial.revision,
                    from_revisions=partial.from_revisions,
                    to_revisions=stamp,
                )
                conn.commit()
            except Exception as exc:
                conn.rollback()
                executor.record_failure(exc)
                audit.record(
                    revision=partial.revision,
                    from_revisions=partial.from_revisions,
                    to_revisions=stamp,
                    error=exc,
                )
                conn.commit()
                raise
    finally:
        journal.close()


def _write_stamp(conn: Connection, revisions: tuple[str, ...]) -> None:
    table = sa.table(USER_VERSION_TABLE, sa.column("version_num"))
    conn.execute(sa.delete(table))
    for revision in revisions:
        conn.execute(sa.insert(table).values(version_num=revision))
