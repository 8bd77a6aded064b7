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
from alembic.runtime.migration import HeadMaintainer, MigrationContext
from sqlalchemy.engine import Connection, Engine

from app.dbadmin.core.adoption import (
    existing_first_revision_tables,
    stamped_revisions,
    unknown_revision_line,
    verify_every_revision,
    verify_revisions,
)
from app.dbadmin.core.alembic_env import describe
from app.dbadmin.core.catalog import Catalog, load_catalog
from app.dbadmin.core.drift import model_differences
from app.dbadmin.core.plan import Plan, Step, plan_of_run, step_plan
from app.dbadmin.core.scratch import ScratchUnavailable
from app.errors import HeadwayError

# Above this many rows (by the server's statistics), counting exactly would
# scan a large table: the estimate is shown instead, marked "~".
EXACT_COUNT_LIMIT = 1_000_000

# How each surface says yes to what a guard refuses.
OPT_INS = {
    "cli": {
        "data_loss": "--allow-data-loss",
        "no_verify": "`flask db stamp --no-verify {target}`",
    },
    "console": {
        "data_loss": (
            'type the target to confirm (console), or "allow_data_loss": true '
            'with "typed_target" (API)'
        ),
        "no_verify": (
            '"Stamp without verifying" (console), or "no_verify": true (API)'
        ),
    },
}

UNVERIFIED_STAMP = "stamp-unverified"  # the audit row's action


class Refused(HeadwayError):
    """A run a guard refused; nothing was written."""


# --- An unversioned database that already has tables ------------------------


UPGRADE_FROM_BASE = "an upgrade from base would create them again"


def unversioned_line(tables: list[str], why: str = UPGRADE_FROM_BASE) -> str:
    """The one-line refusal for an unversioned database with tables."""
    shown = ", ".join(tables[:3]) + (", …" if len(tables) > 3 else "")
    return (
        f"the database is unversioned but already has {shown}: {why}, so "
        "nothing was run. Adopt it instead: "
        "`flask db adopt --dry-run` shows the revision it matches, `flask db "
        "adopt` stamps it (`flask db upgrade --adopt` does both, then upgrades)."
    )


def check_unversioned(
    engine: Engine, catalog: Catalog, why: str = UPGRADE_FROM_BASE
) -> None:
    """Refuse when the database is unversioned and already has tables of the
    first revision's schema."""
    if stamped_revisions(engine):
        return
    tables = existing_first_revision_tables(engine, catalog)
    if tables:
        raise Refused(unversioned_line(tables, why))


def check_known(current: tuple[str, ...], catalog: Catalog) -> None:
    unknown = tuple(rev for rev in current if rev not in catalog.by_id)
    if unknown:
        raise Refused(unknown_revision_line(unknown))


def check_autogenerate(engine: Engine) -> None:
    """`flask db migrate` and `flask db check` compare the models with the
    database at head: say what to do first when it is not versioned yet."""
    catalog = load_catalog()
    check_known(stamped_revisions(engine), catalog)
    if catalog.heads:
        check_unversioned(
            engine,
            catalog,
            why="autogenerate compares the models with a database at head",
        )


# --- No silent data loss -----------------------------------------------------


@dataclass(frozen=True)
class AtRisk:
    """A table with rows, or a column holding values, that a step drops."""

    revision: str
    table: str
    column: str | None
    rows: int
    estimated: bool

    def __str__(self) -> str:
        count = f"~{self.rows:,}" if self.estimated else f"{self.rows:,}"
        if self.column is None:
            return f"table {self.table}: {count} row{'s' if self.rows != 1 else ''}"
        if self.estimated:
            return f"column {self.table}.{self.column}: holds values ({count} rows)"
        plural = "s" if self.rows != 1 else ""
        return f"column {self.table}.{self.column}: {count} non-NULL value{plural}"


# A revision file that never says "drop" drops nothing (in any operation or
# SQL the guards can see): its code need not run to know it.
_MENTIONS_DROP = re.compile(r"drop", re.IGNORECASE)
_NAME = r"[`\"\[]?(\w+)[`\"\]]?"
_SQL_DROP_TABLE = re.compile(
    rf"^\s*DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?((?:{_NAME}\s*,\s*)*{_NAME})",
    re.IGNORECASE,
)
_SQL_DROP_COLUMN = re.compile(
    rf"^\s*ALTER\s+TABLE\s+{_NAME}\s+DROP\s+(?:COLUMN\s+)?"
    rf"(?!(?:INDEX|KEY|FOREIGN|PRIMARY|CONSTRAINT|CHECK|PARTITION)\b){_NAME}",
    re.IGNORECASE,
)


def dropped_objects(step: Step) -> list[tuple[str, str | None]]:
    """(table, None) for each table the step drops, (table, column) for each
    column, from the operations recorded while it rendered (raw SQL included:
    `DROP TABLE a, b` and `ALTER TABLE t DROP [COLUMN] c`)."""
    rebuilt = {str(op.args[1]) for op in step.operations if op.name == "rename_table"}
    dropped: list[tuple[str, str | None]] = []
    for op in step.operations:
        if op.name == "drop_table":
            name = getattr(op.args[0], "name", str(op.args[0]))
            # A batch rebuild drops the table and renames its copy to it.
            if not name.startswith("_alembic_tmp_") and name not in rebuilt:
                dropped.append((name, None))
        elif op.name == "drop_column":
            column = op.args[1]
            dropped.append((op.args[0], getattr(column, "name", str(column))))
        elif op.name == "execute":
            dropped += _dropped_by_sql(str(op.args[0] if op.args else ""))
    return dropped


def _dropped_by_sql(sql: str) -> list[tuple[str, str | None]]:
    table = _SQL_DROP_TABLE.match(sql)
    if table:
        names = re.findall(_NAME, table.group(1))
        return [(name, None) for name in names]
    column = _SQL_DROP_COLUMN.match(sql)
    if column:
        return [(column.group(1), column.group(2))]
    return []


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
    return _MENTIONS_DROP.search(source) is not None


def plan_of_drops(
    engine: Engine, catalog: Catalog, direction: str, revisions: list[str]
) -> Plan:
    """The steps (of `revisions`, run in `direction`) that may drop
    something, each rendered alone: enough to know what they drop without
    running every revision's code (a request must not run a slow one)."""
    steps: list[Step] = []
    for revision in revisions:
        if may_drop(catalog, revision, direction):
            steps += step_plan(engine, catalog, revision, direction).steps
    return Plan(target="", direction=direction, steps=steps, sql="")


def data_at_risk(engine: Engine, plan: Plan) -> list[AtRisk]:
    """What the plan's steps drop that holds data now, with counts. A table
    the database does not have yet (an earlier step makes it) holds none."""
    found: list[AtRisk] = []
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        tables = set(inspector.get_table_names())
        for step in plan.steps:
            for table, column in dropped_objects(step):
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
                        AtRisk(step.revision.id, table, column, rows, estimated)
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
    direction: str, at_risk: list[AtRisk], surface: str = "cli"
) -> str:
    lines = [f"refusing to {direction}: it would drop data; nothing was run."]
    lines += [f"  - {item} (dropped by {item.revision})" for item in at_risk]
    lines.append(
        f"To drop them anyway: {OPT_INS[surface]['data_loss']} "
        "(back up first: see the README's Pitfalls)."
    )
    return "\n".join(lines)


# --- A verified stamp ----------------------------------------------------------


class _HeadsOnly(HeadMaintainer):
    """Alembic's own bookkeeping of a stamp's heads, without writing them."""

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


def prove_stamp(
    engine: Engine,
    catalog: Catalog,
    metadata: sa.MetaData,
    target: tuple[str, ...],
    surface: str = "cli",
) -> str:
    """Prove that the live schema is `target`'s schema, or refuse (Refused,
    with the differences and what to do). Returns how it was proven."""
    label = describe(target)
    try:
        result = verify_revisions(engine, target)
    except ScratchUnavailable as exc:
        if not set(target) <= set(catalog.heads):
            raise Refused(
                f"refusing to stamp {label} unverified: {exc}. Without that "
                "grant only a head can be proven (against the models). To "
                f"stamp anyway: {OPT_INS[surface]['no_verify'].format(target=label)}."
            ) from None
        differences = model_differences(engine, metadata)
        if differences:
            raise Refused(
                _stamp_refusal(label, differences, "the models", None, surface)
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
            surface,
            stamped=stamped_revisions(engine),
        )
    )


def _stamp_refusal(
    label: str,
    differences: list[str],
    against: str,
    matching: str | None,
    surface: str,
    stamped: tuple[str, ...] = (),
) -> str:
    lines = [
        f"refusing to stamp {label}: the live schema differs from {against}; "
        "nothing was written."
    ]
    lines += [f"  - {d}" for d in differences]
    if matching and not stamped:
        lines.append(f"The database matches {matching}: run `flask db adopt`.")
    elif matching and matching == describe(stamped):
        lines.append(
            f"The database matches {matching}, the revision it is stamped with."
        )
    elif matching:
        lines.append(
            f"The database matches {matching}: run `flask db stamp --purge "
            f"{matching}`, or `flask db stamp --purge base` then `flask db adopt`."
        )
    lines.append(
        "To stamp anyway (the next autogenerate and upgrade trust it): "
        + OPT_INS[surface]["no_verify"].format(target=label)
        + "."
    )
    return "\n".join(lines)


# --- Every run, from migrations/env.py ---------------------------------------


@dataclass
class RunOptions:
    """What the caller said yes to (config.attributes of the Alembic run)."""

    allow_data_loss: bool = False
    no_verify: bool = False
    # Revisions the caller has just proven the schema is (an adoption).
    proven_stamp: tuple[str, ...] | None = None
    surface: str = "cli"

    @classmethod
    def of(cls, attributes: dict) -> "RunOptions":
        proven = attributes.get("proven_stamp")
        surface = attributes.get("surface", "cli")
        return cls(
            allow_data_loss=bool(attributes.get("allow_data_loss")),
            no_verify=bool(attributes.get("no_verify")),
            proven_stamp=tuple(proven) if proven is not None else None,
            surface=surface if surface in OPT_INS else "cli",
        )


@dataclass
class Checked:
    """A run the guards let through: what to tell the user first."""

    lint: list[str] = field(default_factory=list)  # the steps' lint warnings
    notes: list[str] = field(default_factory=list)
    unverified_stamp: bool = False


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
    current = () if purge else migration_context.get_current_heads()
    check_known(current, catalog)
    steps = list(migration_context._migrations_fn(current, migration_context))
    if stamp:
        return _check_stamp(engine, catalog, metadata, current, steps, options)
    if not steps:
        return Checked()
    direction = "upgrade" if steps[0].is_upgrade else "downgrade"
    if not current and direction == "upgrade":
        check_unversioned(engine, catalog)
    revisions = [step.revision.revision for step in steps]
    checked = Checked()
    if options.surface == "cli":
        # The CLI prints the lint of every step, as the console's plan shows it.
        plan = plan_of_run(engine, catalog, current, destination, direction, revisions)
        checked.lint = [f"lint {w.revision}: {w.message}" for w in plan.warnings]
    else:
        plan = plan_of_drops(engine, catalog, direction, revisions)
    if plan.error:
        checked.notes.append(
            f"could not render every step offline ({plan.error}): what the "
            "steps after it drop is not known"
        )
    at_risk = data_at_risk(engine, plan)
    if at_risk and not options.allow_data_loss:
        raise Refused(data_loss_refusal(direction, at_risk, options.surface))
    checked.notes += [f"dropping data, as allowed: {item}" for item in at_risk]
    return checked


def _check_stamp(engine, catalog, metadata, current, steps, options) -> Checked:
    target = heads_after(current, steps)
    if not target:
        return Checked()  # base: nothing to prove
    if options.proven_stamp is not None and set(options.proven_stamp) == set(target):
        return Checked()
    if options.no_verify:
        return Checked(
            notes=[f"stamping {describe(target)} without verifying the schema"],
            unverified_stamp=True,
        )
    return Checked(
        notes=[prove_stamp(engine, catalog, metadata, target, options.surface)]
    )
