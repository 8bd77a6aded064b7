"""Headway's guards against the brownfield traps, in one place.

migrations/env.py calls `check_run` before every upgrade, downgrade and stamp
on the live database (from the CLI, a console job, a deploy script: every path
runs through it), before any DDL and before Alembic creates its version table.
The console and the API call the same functions before they start a job, so
that they can refuse at once with the same reason.

- An unversioned database that already has the first revision's tables is
  never upgraded from base (that would create them again): it is adopted.
- A stamp is proven first: the live schema must be the target's schema (the
  comparison of `flask db verify`), unless told not to (`--no-verify`).
- A step that drops a table with rows, or a column holding a value, runs only
  after an explicit yes (`--allow-data-loss`).

Every refusal writes nothing and names the next command.
"""

import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection, Engine

from app.dbadmin.cli_words import cli_ways
from app.dbadmin.core.adoption import (
    existing_first_revision_tables,
    stamped_revisions,
    unknown_revision_line,
    verify_every_revision,
    verify_revisions,
)
from app.dbadmin.core.alembic_env import describe, heads_after, steps_of_run
from app.dbadmin.core.catalog import Catalog, load_catalog
from app.dbadmin.core.ddl import batch_rebuilt, data_loss_by_sql, removes_rows_unparsed
from app.dbadmin.core.drift import model_differences
from app.dbadmin.core.journal import RUNS, PartialStep, read_partial
from app.dbadmin.core.plan import Plan, Step, plan_of_run, step_plan
from app.dbadmin.core.rehearsal import Rehearsal, rehearse
from app.dbadmin.core.scratch import ScratchUnavailable
from app.dbadmin.core.state import redundant_stamp_line, redundant_stamps
from app.dbadmin.core.ways import Ways
from app.errors import HeadwayError, error_line

# Above this many rows (by the server's statistics), counting exactly would
# scan a large table: the estimate is shown instead, marked "~".
EXACT_COUNT_LIMIT = 1_000_000

UNVERIFIED_STAMP = "stamp-unverified"  # the audit row's action


class Refused(HeadwayError):
    """A run a guard refused; nothing was written."""


# --- A step left half-way ---------------------------------------------------


def partial_line(partial: PartialStep, ways: Ways | None = None) -> str:
    """What a partial database is, and the two ways out (in `ways`' words:
    the CLI's by default, as for every function here that takes them)."""
    ways = ways or cli_ways()
    return (
        f"the database is partially applied: {partial.summary()} Two ways out: "
        f"{ways.rollback} undoes what the step applied; or fix the cause "
        f"and {ways.resume} runs the rest of the step, then stamps it."
    )


def check_not_partial(connection: Connection, ways: Ways | None = None) -> None:
    """Refuse any upgrade, downgrade or stamp while a step is half-way: no
    revision describes such a schema. `connection` holds the migration lock."""
    partial = read_partial_if_journaled(connection)
    if partial is not None:
        raise Refused(f"refusing: nothing was run; {partial_line(partial, ways)}")


def read_partial_if_journaled(connection: Connection) -> PartialStep | None:
    # Not state.unsettled_step: this caller holds the lock, and a journal it
    # cannot read must stop the run, where a page shows no partial step.
    if connection.dialect.name != "mysql":
        return None
    if not sa.inspect(connection).has_table(RUNS.name):
        return None
    return read_partial(connection, holding_lock=True)


# --- An unversioned database that already has tables ------------------------


UPGRADE_FROM_BASE = "an upgrade from base would create them again"


def unversioned_line(
    tables: list[str], why: str = UPGRADE_FROM_BASE, ways: Ways | None = None
) -> str:
    """The one-line refusal for an unversioned database with tables, with the
    way on in `ways`' words."""
    shown = ", ".join(tables[:3]) + (", …" if len(tables) > 3 else "")
    what = f"the database is unversioned but already has {shown}: {why}, so "
    return what + (ways or cli_ways()).adopt_unversioned


def check_unversioned(
    engine: Engine,
    catalog: Catalog,
    why: str = UPGRADE_FROM_BASE,
    ways: Ways | None = None,
) -> None:
    """Refuse when the database is unversioned and already has tables of the
    first revision's schema."""
    if stamped_revisions(engine):
        return
    tables = existing_first_revision_tables(engine, catalog)
    if tables:
        raise Refused(unversioned_line(tables, why, ways))


def check_known(
    current: tuple[str, ...], catalog: Catalog, ways: Ways | None = None
) -> None:
    unknown = tuple(rev for rev in current if rev not in catalog.by_id)
    if unknown:
        raise Refused(unknown_revision_line(unknown, ways, catalog))


def check_not_redundant(
    current: tuple[str, ...], catalog: Catalog, ways: Ways | None = None
) -> None:
    """Alembic fails on an ancestor stamped beside its descendant (the
    revisions overlap): say what it is and the way out instead."""
    redundant = redundant_stamps(catalog, current)
    if redundant:
        effective = tuple(c for c in current if c not in redundant)
        raise Refused(redundant_stamp_line(redundant, effective, ways))


def check_autogenerate(engine: Engine) -> None:
    """`flask db migrate` and `flask db check` compare the models with the
    database at head: say what to do first when it is not versioned yet."""
    catalog = load_catalog()
    current = stamped_revisions(engine)
    check_known(current, catalog)
    check_not_redundant(current, catalog)
    if catalog.heads:
        check_unversioned(
            engine,
            catalog,
            why="autogenerate compares the models with a database at head",
        )


# --- No silent data loss -----------------------------------------------------


@dataclass(frozen=True)
class AtRisk:
    """A table with rows, or a column holding values, that a step drops,
    empties (TRUNCATE, DELETE without WHERE) or overwrites (UPDATE without
    WHERE): `how` says which."""

    revision: str
    table: str
    column: str | None
    rows: int
    estimated: bool
    how: str = "drop"  # drop, truncate, delete, update

    @property
    def by(self) -> str:
        """'dropped by REV', or 'by REV' for what it empties or overwrites."""
        return f"{'dropped ' if self.how == 'drop' else ''}by {self.revision}"

    def __str__(self) -> str:
        count = f"~{self.rows:,}" if self.estimated else f"{self.rows:,}"
        if self.column is None:
            text = f"table {self.table}: {count} row{'s' if self.rows != 1 else ''}"
            return text if self.how == "drop" else f"{text} ({_HOW[self.how]})"
        if self.estimated:
            return f"column {self.table}.{self.column}: holds values ({count} rows)"
        plural = "s" if self.rows != 1 else ""
        return f"column {self.table}.{self.column}: {count} non-NULL value{plural}"


_HOW = {
    "truncate": "TRUNCATE empties it",
    "delete": "DELETE without WHERE empties it",
    "update": "UPDATE without WHERE overwrites every row",
}

# A revision file that says none of these drops, empties or overwrites
# nothing (in any operation or SQL the guards can see): its code need not run
# to know it.
_MENTIONS_DATA_LOSS = re.compile(
    r"drop|\btruncate\b|(?<!on )\bdelete\b|(?<!on )\bupdate\b", re.IGNORECASE
)


def dropped_objects(step: Step) -> list[tuple[str, str | None, str]]:
    """(table, None, how) for each table the step drops, empties or
    overwrites, (table, column, "drop") for each column it drops: from the
    operations recorded while it rendered offline, and from the statements
    a rehearsal saw it send (`op.get_bind().execute` included)."""
    rebuilt = {str(op.args[1]) for op in step.operations if op.name == "rename_table"}
    found: list[tuple[str, str | None, str]] = []
    for op in step.operations:
        if op.name == "drop_table":
            name = getattr(op.args[0], "name", str(op.args[0]))
            # A batch rebuild drops the table and renames its copy to it.
            if not name.startswith("_alembic_tmp_") and name not in rebuilt:
                found.append((name, None, "drop"))
        elif op.name == "drop_column":
            column = op.args[1]
            found.append((op.args[0], getattr(column, "name", str(column)), "drop"))
        elif op.name == "execute":
            found += data_loss_by_sql(str(op.args[0] if op.args else ""))
    rehearsed_rebuilds = {t for sql in step.statements for t in batch_rebuilt(sql)}
    for sql in step.statements:
        found += [
            item
            for item in data_loss_by_sql(sql)
            if not (
                item[2] == "drop" and item[1] is None and item[0] in rehearsed_rebuilds
            )
        ]
    unique = []
    for item in found:
        if item not in unique:
            unique.append(item)
    return unique


def _dropped_by_sql(sql: str) -> list[tuple[str, str | None]]:
    """(table, column) of what one statement drops (for a rollback's own DDL)."""
    return [(t, c) for t, c, how in data_loss_by_sql(sql) if how == "drop"]


def unparsed_removals(step: Step) -> list[str]:
    """The step's statements that may remove data in a way the data-loss
    guard cannot count (a DELETE with a join, REPLACE, ...): said, not
    guessed."""
    return [sql for sql in step.statements if removes_rows_unparsed(sql)]


def may_drop(catalog: Catalog, revision: str, direction: str) -> bool:
    """Whether the revision, run in `direction`, may drop something: its
    file says "drop" outside the function of the other direction (an upgrade
    that creates a table and a downgrade that drops it: only the downgrade
    needs rendering, and rendering runs the revision's code)."""
    path = catalog.versions_path / catalog.by_id[revision].filename
    try:
        source = path.read_text()
    except OSError:
        return True
    other = "downgrade" if direction == "upgrade" else "upgrade"
    source = re.sub(
        rf"^def {other}\(.*?(?=^\S|\Z)", "", source, flags=re.MULTILINE | re.DOTALL
    )
    return _MENTIONS_DATA_LOSS.search(source) is not None


def plan_of_drops(
    engine: Engine,
    catalog: Catalog,
    direction: str,
    revisions: list[str],
    *,
    start: tuple[str, ...] | None = None,
    target: str | None = None,
    rehearsal: Rehearsal | None = None,
) -> Plan:
    """The steps (of `revisions`, run in `direction`) that may drop, empty or
    overwrite data, each rendered offline alone: enough to know what their
    operations drop without running every revision's code (a request must
    not run a slow one). Given where the run starts and ends, the whole run
    is also rehearsed in a scratch copy of the live schema, so that the SQL a
    revision sends itself (`op.get_bind().execute`) is seen too; `rehearsal`
    is one already made of that run (preflight's), read instead."""
    steps: list[Step] = []
    for revision in revisions:
        if may_drop(catalog, revision, direction):
            steps += step_plan(engine, catalog, revision, direction).steps
    plan = Plan(target="", direction=direction, steps=steps, sql="")
    if steps and start is not None and rehearsal is None:
        try:
            rehearsal = rehearse(engine, catalog, start, target, direction)
        except ScratchUnavailable as exc:
            plan.error = (
                f"no rehearsal ({exc}): SQL a revision sends through "
                "op.get_bind() is not seen"
            )
            return plan
    if steps and rehearsal is not None:
        sent = {(r.revision, r.direction): r.statements for r in rehearsal.steps}
        for step in steps:
            step.statements = [
                st.sql for st in sent.get((step.revision.id, step.direction), [])
            ]
    return plan


def data_at_risk(engine: Engine, plan: Plan) -> list[AtRisk]:
    """What the plan's steps drop that holds data now, with counts. A table
    the database does not have yet (an earlier step makes it) holds none."""
    found: list[AtRisk] = []
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        tables = set(inspector.get_table_names())
        for step in plan.steps:
            for table, column, how in dropped_objects(step):
                if table not in tables:
                    continue
                if column is None:
                    rows, estimated = _row_count(conn, table)
                elif column in {c["name"] for c in inspector.get_columns(table)}:
                    rows, estimated = _values_count(conn, table, column)
                else:
                    continue
                if rows:
                    found.append(
                        AtRisk(step.revision.id, table, column, rows, estimated, how)
                    )
    return found


def _estimate(conn: Connection, table: str) -> int | None:
    if conn.dialect.name != "mysql":
        return None  # SQLite keeps no row statistics unless ANALYZEd
    return conn.execute(
        sa.text(
            "SELECT TABLE_ROWS FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t"
        ),
        {"t": table},
    ).scalar()


def _row_count(conn: Connection, table: str) -> tuple[int, bool]:
    estimate = _estimate(conn, table)
    if estimate is not None and estimate > EXACT_COUNT_LIMIT:
        return estimate, True
    quoted = conn.dialect.identifier_preparer.quote(table)
    return conn.exec_driver_sql(f"SELECT COUNT(*) FROM {quoted}").scalar(), False


def _values_count(conn: Connection, table: str, column: str) -> tuple[int, bool]:
    """Rows whose `column` is not NULL (0 when it holds only NULLs)."""
    quote = conn.dialect.identifier_preparer.quote
    where = f"FROM {quote(table)} WHERE {quote(column)} IS NOT NULL"
    if conn.exec_driver_sql(f"SELECT 1 {where} LIMIT 1").first() is None:
        return 0, False
    estimate = _estimate(conn, table)
    if estimate is not None and estimate > EXACT_COUNT_LIMIT:
        return estimate, True
    return conn.exec_driver_sql(f"SELECT COUNT(*) {where}").scalar(), False


def data_loss_refusal(
    direction: str, at_risk: list[AtRisk], ways: Ways | None = None
) -> str:
    lines = [f"refusing to {direction}: it would drop data; nothing was run."]
    lines += [f"  - {item} ({item.by})" for item in at_risk]
    lines.append(
        f"To drop them anyway: {(ways or cli_ways()).allow_data_loss} "
        "(back up first: see the README's Pitfalls)."
    )
    return "\n".join(lines)


# --- A verified stamp ----------------------------------------------------------


def prove_stamp(
    engine: Engine,
    catalog: Catalog,
    metadata: sa.MetaData,
    target: tuple[str, ...],
    ways: Ways | None = None,
) -> str:
    """Prove that the live schema is `target`'s schema, or refuse (Refused,
    with the differences and what to do). Returns how it was proven."""
    ways = ways or cli_ways()
    label = describe(target)
    try:
        result = verify_revisions(engine, target)
    except ScratchUnavailable as exc:
        if not set(target) <= set(catalog.heads):
            raise Refused(
                f"refusing to stamp {label} unverified: {exc}. Without that "
                "grant only a head can be proven (against the models). To "
                f"stamp anyway: {ways.stamp_unverified(label)}."
            ) from None
        differences = model_differences(engine, metadata)
        if differences:
            raise Refused(
                _stamp_refusal(label, differences, "the models", None, ways)
            ) from None
        return (
            f"verified: the live schema has what the models describe ({label}); "
            "compared with the models, as no scratch database can be made here"
        )
    if result.matches:
        return f"verified: the live schema is {label}'s"
    matching = [r.label for r in verify_every_revision(engine) if r.matches]
    raise Refused(
        _stamp_refusal(
            label,
            result.differences,
            f"{label}'s schema",
            matching[-1] if matching else None,
            ways,
            stamped=stamped_revisions(engine),
        )
    )


def _stamp_refusal(
    label: str,
    differences: list[str],
    against: str,
    matching: str | None,
    ways: Ways,
    stamped: tuple[str, ...] = (),
) -> str:
    lines = [
        f"refusing to stamp {label}: the live schema differs from {against}; "
        "nothing was written."
    ]
    lines += [f"  - {d}" for d in differences]
    if matching and not stamped:
        lines.append(f"The database matches {matching}: {ways.adopt_matching}")
    elif matching and matching == describe(stamped):
        lines.append(
            f"The database matches {matching}, the revision it is stamped with."
        )
    elif matching:
        lines.append(
            f"The database matches {matching}: {ways.restamp_matching(matching)}"
        )
    elif not stamped and ways.no_match and against != "the models":
        # (Compared with the models: no scratch database, which adopt needs.)
        lines.append(ways.no_match)
    lines.append(
        "To stamp anyway (the next autogenerate and upgrade trust it): "
        + ways.stamp_unverified(label)
        + "."
    )
    return "\n".join(lines)


# --- Every run, from migrations/env.py ---------------------------------------


@dataclass
class RunOptions:
    """What the caller said yes to (config.attributes of the Alembic run)."""

    allow_data_loss: bool = False
    no_verify: bool = False
    # Run the steps without preflight first (the audit trail records it).
    no_preflight: bool = False
    # Revisions the caller has just proven the schema is (an adoption).
    proven_stamp: tuple[str, ...] | None = None
    # The words of the surface that started the run (a console job passes
    # the console's); the CLI's otherwise.
    ways: Ways | None = None
    # Whether the CLI runs it (it prints the lint of every step).
    cli: bool = True
    # Table copies through pt-online-schema-change (core/online.py).
    online: bool = False

    @classmethod
    def of(cls, attributes: dict) -> "RunOptions":
        proven = attributes.get("proven_stamp")
        ways = attributes.get("ways")
        return cls(
            allow_data_loss=bool(attributes.get("allow_data_loss")),
            no_verify=bool(attributes.get("no_verify")),
            online=bool(attributes.get("online")),
            no_preflight=bool(attributes.get("no_preflight")),
            proven_stamp=tuple(proven) if proven is not None else None,
            ways=ways,
            cli=ways is None,
        )


@dataclass
class Checked:
    """A run the guards let through: what to tell the user first."""

    lint: list[str] = field(default_factory=list)  # the steps' lint warnings
    notes: list[str] = field(default_factory=list)
    unverified_stamp: bool = False
    # The run's preflight (core/preflight.py's Preflight) when it ran; None
    # for a stamp, an empty run, or when skipped (`preflight_skipped`).
    preflight: object | None = None
    preflight_skipped: bool = False


def check_run(
    engine: Engine,
    migration_context: MigrationContext,
    metadata: sa.MetaData,
    *,
    stamp: bool,
    purge: bool,
    destination: str,
    options: RunOptions,
) -> Checked:
    """Every guard, for the run `migration_context` is about to make; Refused
    when one refuses. `destination` is the target as Alembic was given it."""
    catalog = load_catalog()
    check_not_partial(migration_context.connection, options.ways)
    current = () if purge else migration_context.get_current_heads()
    check_known(current, catalog, options.ways)
    check_not_redundant(current, catalog, options.ways)
    steps = steps_of_run(migration_context, current)
    if stamp:
        return _check_stamp(engine, catalog, metadata, current, steps, options)
    if not steps:
        return Checked()
    direction = "upgrade" if steps[0].is_upgrade else "downgrade"
    if not current and direction == "upgrade":
        check_unversioned(engine, catalog)
    revisions = [step.revision.revision for step in steps]
    checked = Checked()
    rehearsal = None
    if options.no_preflight:
        checked.preflight_skipped = True
        checked.notes.append(
            "preflight skipped, as asked: the steps run without being checked "
            "first (the audit trail records it)"
        )
    else:
        rehearsal = _preflight(
            engine, catalog, current, destination, direction, revisions, checked
        )
        if checked.preflight.will_fail:
            from app.dbadmin.preflight_text import preflight_refusal

            refusal = Refused(
                preflight_refusal(
                    checked.preflight,
                    direction,
                    (options.ways or cli_ways()).skip_preflight,
                    cli=options.cli,
                )
            )
            # migrations/env.py keeps it for the console's plan page.
            refusal.preflight = checked.preflight
            raise refusal
    if options.cli:
        # The CLI prints the lint of every step, as the console's plan shows it.
        plan = plan_of_run(engine, catalog, current, destination, direction, revisions)
        checked.lint = [f"lint {w.revision}: {w.message}" for w in plan.warnings]
    drops = plan_of_drops(
        engine,
        catalog,
        direction,
        revisions,
        start=current,
        target=destination,
        rehearsal=rehearsal,
    )
    if drops.error:
        checked.notes.append(f"what the steps drop may not be complete: {drops.error}")
    for step in drops.steps:
        checked.lint += [
            f"lint {step.revision.id}: the data-loss guard cannot tell what this "
            f"statement removes, so it does not count it: {sql}"
            for sql in unparsed_removals(step)
        ]
    at_risk = data_at_risk(engine, drops)
    if at_risk and not options.allow_data_loss:
        raise Refused(data_loss_refusal(direction, at_risk, options.ways))
    checked.notes += [f"dropping data, as allowed: {item}" for item in at_risk]
    checked.notes += check_online(
        engine, catalog, current, destination, direction, options.online
    )
    return checked


def check_online(
    engine, catalog, current, destination, direction, asked: bool
) -> list[str]:
    """An online run (`asked`: --online): refused before anything runs where
    pt-osc cannot work (SQLite, not installed, a change it cannot make);
    otherwise what goes to it, as notes. Online by the row threshold
    (HEADWAY_ONLINE_MIN_ROWS) alone: what pt-osc cannot make runs on the
    server, and the notes say so."""
    from flask import current_app

    from app.dbadmin.core.online import (
        OnlineSettings,
        OnlineUnavailable,
        plan_online,
        refusal_text,
        require_online,
    )

    settings = OnlineSettings.from_config(current_app.config, enabled=asked)
    if not asked and (settings.min_rows is None or engine.dialect.name != "mysql"):
        return []
    try:
        require_online(engine.dialect.name, settings)
    except OnlineUnavailable as exc:
        if asked:
            raise
        return [f"online by row count: {exc}; the server runs every statement"]
    try:
        plan = plan_online(
            engine,
            catalog,
            current,
            destination,
            direction,
            min_rows=None if asked else settings.min_rows,
        )
    except ScratchUnavailable as exc:
        if not asked:
            return [f"online by row count: not checked ({exc})"]
        raise Refused(
            f"refusing to run online: {exc}; Headway asks the server on a "
            "scratch copy which statements copy a table. Nothing was run."
        ) from None
    if plan.refusals and not asked:
        return [
            f"online by row count: {r}; the server runs it (writes blocked)"
            for r in plan.refusals
        ] + [f"online: to pt-online-schema-change: {r}" for r in plan.routed]
    if plan.refusals:
        raise Refused(refusal_text(plan))
    if not plan.routed and asked:
        return [
            "online: no statement of this run copies a table or blocks "
            "writes: the server runs them all"
        ]
    return [f"online: to pt-online-schema-change: {r}" for r in plan.routed]


def _preflight(engine, catalog, current, destination, direction, revisions, checked):
    """Preflight of the run into `checked`; its rehearsal, for the data-loss
    guard to read (one rehearsal for both)."""
    # (Imported here: preflight is the largest module of the core, and a
    # stamp or `flask db current` needs none of it.)
    from app.dbadmin.core.preflight import preflight_of_run

    rehearsal, checked.preflight = preflight_of_run(
        engine, catalog, current, destination, direction, revisions
    )
    return rehearsal


def _check_stamp(engine, catalog, metadata, current, steps, options) -> Checked:
    target = heads_after(current, steps)
    if not target:
        return Checked()  # base: nothing to prove
    if options.proven_stamp is not None and set(options.proven_stamp) == set(target):
        # The proof is an adoption's: it holds for an unversioned database
        # only. Read again here, under the migration lock: another run may
        # have versioned (and upgraded) it since the comparison.
        if current:
            raise Refused(
                f"the database was versioned meanwhile (at {describe(current)}), "
                f"so it was not adopted at {describe(target)}; nothing was "
                "written. `flask db verify` checks it against its stamp."
            )
        return Checked()
    if options.no_verify:
        return Checked(
            notes=[f"stamping {describe(target)} without verifying the schema"],
            unverified_stamp=True,
        )
    return Checked(notes=[prove_stamp(engine, catalog, metadata, target, options.ways)])


# --- Offline scripts (`--sql`) -------------------------------------------------


def offline_warnings(
    engine: Engine, migration_context: MigrationContext, destination: str
) -> list[str]:
    """What the guards would say about the steps of an offline script
    (`flask db upgrade --sql`, `downgrade --sql FROM:TO`), as SQL comments
    for its head: nothing refuses a script that someone runs by hand later,
    so it carries the lint, the data it drops (counted on the live database
    now) and an unversioned database's trap."""
    try:
        lines = _offline_warnings(engine, migration_context, destination)
    except sa.exc.SQLAlchemyError as exc:
        lines = [f"could not read the live database to check it: {error_line(exc)}"]
    if not lines:
        return []
    # One comment line each, whatever a message holds.
    return ["-- Headway: read this before running the script"] + [
        "-- " + " ".join(line.split()) for line in lines
    ]


def _offline_warnings(
    engine: Engine, migration_context: MigrationContext, destination: str
) -> list[str]:
    catalog = load_catalog()
    current = migration_context.get_current_heads()
    steps = steps_of_run(migration_context, current)
    if not steps:
        return []
    direction = "upgrade" if steps[0].is_upgrade else "downgrade"
    revisions = [step.revision.revision for step in steps]
    lines: list[str] = []
    if not current and direction == "upgrade":
        stamped = stamped_revisions(engine)
        if stamped:
            lines.append(
                f"WARNING: this script starts from base, but the database is "
                f"at {describe(stamped)}: run on it, it would create every "
                f"table again. Give the start: `--sql {stamped[0]}:{destination}`."
            )
        else:
            tables = existing_first_revision_tables(engine, catalog)
            if tables:
                lines.append(
                    "WARNING: the database is unversioned but already has "
                    f"{', '.join(tables)}: this script would create them "
                    "again. Adopt it instead: `flask db adopt --dry-run`, "
                    "then `flask db adopt`."
                )
    plan = plan_of_run(engine, catalog, current, destination, direction, revisions)
    lines += [f"lint {w.revision}: {w.message}" for w in plan.warnings]
    at_risk = data_at_risk(engine, plan)
    if at_risk:
        lines.append(
            "WARNING: this script drops data (counted on the live database "
            "now; back up first):"
        )
        lines += [f"  - {item} (dropped by {item.revision})" for item in at_risk]
    return lines
