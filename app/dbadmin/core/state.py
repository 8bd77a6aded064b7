"""Where the database stands against the scripts: the console's read side,
shared by the pages, the JSON API and the probes."""

from dataclasses import dataclass, field
from enum import StrEnum

from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from app.dbadmin.cli_words import cli_ways
from app.dbadmin.core.alembic_env import (  # noqa: F401 (re-exported)
    SELECT_STAMPED,
    USER_VERSION_TABLE,
    current_heads,
    stamped_on,
    stamped_revisions,
)
from app.dbadmin.core.catalog import Catalog, Revision
from app.dbadmin.core.fingerprint import DRIFT, SchemaCheck, check_schema
from app.dbadmin.core.journal import PartialStep, read_partial
from app.dbadmin.core.ways import Ways
from app.errors import error_line


class State(StrEnum):
    """Where the database stands; the same words in pages, JSON and probes."""

    UP_TO_DATE = "up_to_date"
    BEHIND = "behind"
    UNVERSIONED = "unversioned"
    UNKNOWN_REVISION = "unknown_revision"
    DRIFT = "drift"
    REDUNDANT_STAMP = "redundant_stamp"
    PARTIAL = "partial"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class StateInfo:
    """How every surface shows a state: the navbar badge, the banners, home,
    the status JSON, /readyz and the CLI all render from STATES."""

    words: str  # the badge's words
    colour: str  # Bootstrap's contextual colour
    ready: bool  # /readyz answers 200
    reason: str  # /readyz's public reason (no revisions, no hosts)
    rank: int  # when several states hold, the highest rank is the one shown


# One row per state, highest rank first: unreachable > partial > unknown
# revision > drift > redundant stamp > unversioned > behind > up to date.
STATES: dict[State, StateInfo] = {
    State.UNREACHABLE: StateInfo(
        "unreachable", "danger", False, "the database does not answer", 80
    ),
    State.PARTIAL: StateInfo(
        "partially applied",
        "danger",
        False,
        "a migration step stopped half-way",
        70,
    ),
    State.UNKNOWN_REVISION: StateInfo(
        "unknown revision",
        "danger",
        False,
        "the database is at a revision the code does not know",
        60,
    ),
    # The live schema is not its stamped revision's (core/fingerprint.py):
    # outranks "behind" and "up to date" wherever it is known.
    State.DRIFT: StateInfo(
        "drift",
        "danger",
        False,
        "the live schema differs from its revision's",
        50,
    ),
    State.REDUNDANT_STAMP: StateInfo(
        "redundant stamp",
        "warning",
        False,
        "a revision is stamped beside its own descendant",
        40,
    ),
    State.UNVERSIONED: StateInfo(
        "unversioned", "info", False, "the database has no schema version", 30
    ),
    State.BEHIND: StateInfo(
        "behind", "warning", False, "the schema is behind the code", 20
    ),
    State.UP_TO_DATE: StateInfo(
        "up to date", "success", True, "the schema is at head", 10
    ),
}


@dataclass
class DatabaseState:
    kind: State
    current: tuple[str, ...] = ()
    heads: tuple[str, ...] = ()
    pending: list[Revision] = field(default_factory=list)
    unknown: tuple[str, ...] = ()
    # Stamped beside one of their own descendants (see redundant_stamps).
    redundant: tuple[str, ...] = ()
    error: str | None = None
    # A step that stopped half-way (State.PARTIAL), from the journal.
    partial: PartialStep | None = None
    # The cheap check of the live schema (core/fingerprint.py), when made.
    schema_check: SchemaCheck | None = None
    # The differences a drift check made since the last schema change found
    # (core/drift.py's with_drift_check), when the cheap check saw none.
    drift_found: tuple[str, ...] = ()

    @property
    def info(self) -> StateInfo:
        return STATES[self.kind]

    @property
    def reachable(self) -> bool:
        return self.kind != State.UNREACHABLE

    @property
    def multiple_heads(self) -> bool:
        return len(self.heads) > 1

    @property
    def effective(self) -> tuple[str, ...]:
        """The stamped revisions that say where the schema is: without the
        redundant ones (their descendants say it already)."""
        return tuple(c for c in self.current if c not in self.redundant)

    def applied(self, catalog: Catalog) -> frozenset[str]:
        """Every revision applied: the current ones and their ancestors."""
        known = tuple(c for c in self.effective if c in catalog.by_id)
        if not known:
            return frozenset()
        return catalog.memo(
            ("applied", known),
            lambda: frozenset(
                s.revision
                for s in catalog.script.revision_map.iterate_revisions(
                    known, "base", inclusive=True
                )
            ),
        )

    def summary(self) -> str:
        if self.kind == State.PARTIAL:
            return (
                f"Partially applied: {self.partial.summary()} Two ways out: "
                "rollback (undo what it applied) or resume (run the rest, "
                "once the cause is fixed)."
            )
        if self.kind == State.UP_TO_DATE:
            return f"Up to date at {', '.join(self.current)}."
        if self.kind == State.BEHIND:
            n = len(self.pending)
            return f"Behind: {n} revision{'s' if n != 1 else ''} pending."
        if self.kind == State.UNVERSIONED:
            return "Unversioned: the database has no revision stamped yet."
        if self.kind == State.DRIFT:
            found = (
                self.schema_check.differences
                if self.schema_check and self.schema_check.state == DRIFT
                else list(self.drift_found)
            )
            first = found[0] if found else "the schema is not its revision's"
            more = len(found) - 1
            pending = len(self.pending)
            return (
                f"Drift at {', '.join(self.current)}: {first}"
                + (f" (and {more} more)" if more > 0 else "")
                + "."
                + (
                    f" {pending} revision{'s' if pending != 1 else ''} pending too."
                    if pending
                    else ""
                )
            )
        if self.kind == State.REDUNDANT_STAMP:
            line = redundant_stamp_line(self.redundant, self.effective)
            return line[0].upper() + line[1:]
        if self.kind == State.UNKNOWN_REVISION:
            return (
                f"Stamped with {', '.join(self.unknown)}, which the scripts do "
                "not have (newer code rolled back, or a file deleted)."
            )
        return f"The database does not answer: {self.error}"


# The revisions a database is stamped with: one plain SELECT.
def read_state(engine: Engine, catalog: Catalog, metadata=None) -> DatabaseState:
    """Where the database stands; with the models' `metadata`, its live
    schema checked too (with_schema_check)."""
    try:
        current = stamped_revisions(engine)
        partial = unsettled_step(engine)
    except SQLAlchemyError as exc:
        return DatabaseState(
            State.UNREACHABLE, heads=catalog.heads, error=error_line(exc)
        )
    database = state_of(catalog, current, partial)
    if metadata is None:
        return database
    with engine.connect() as conn:
        return with_schema_check(database, conn, catalog, metadata)


def with_schema_check(
    database: DatabaseState, connection: Connection, catalog: Catalog, metadata
) -> DatabaseState:
    """`database` with the cheap check of its live schema made (four small
    reads): DRIFT when the schema is not its stamped revision's. Only a
    database stamped with known revisions is checked (the states that
    outrank drift say more)."""
    if database.kind not in (State.UP_TO_DATE, State.BEHIND):
        return database
    try:
        check = check_schema(connection, catalog, database.current, metadata)
    except SQLAlchemyError as exc:
        return DatabaseState(
            State.UNREACHABLE, heads=catalog.heads, error=error_line(exc)
        )
    database.schema_check = check
    if check.state == DRIFT:
        database.kind = State.DRIFT
    return database


def unsettled_step(engine_or_connection) -> PartialStep | None:
    """The journal's partial step, if any (none before `flask headway init`
    made the journal's table)."""
    if engine_or_connection.dialect.name != "mysql":
        return None  # SQLite runs a step in one transaction
    if isinstance(engine_or_connection, Engine):
        with engine_or_connection.connect() as conn:
            return unsettled_step(conn)
    try:
        # A failed read leaves a MySQL transaction usable: no rollback needed.
        return read_partial(engine_or_connection)
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise  # not "no journal": the state cannot be read at all
        return None


def state_of(
    catalog: Catalog, current: tuple[str, ...], partial: PartialStep | None = None
) -> DatabaseState:
    """Where a database stamped with `current` stands against the scripts."""
    heads = catalog.heads
    if partial is not None:
        return DatabaseState(
            State.PARTIAL,
            current,
            heads,
            pending_revisions(catalog, current)
            if all(c in catalog.by_id for c in current)
            else [],
            partial=partial,
        )
    if not current:
        return DatabaseState(
            State.UNVERSIONED, heads=heads, pending=pending_revisions(catalog, ())
        )
    unknown = tuple(c for c in current if c not in catalog.by_id)
    if unknown:
        return DatabaseState(State.UNKNOWN_REVISION, current, heads, unknown=unknown)
    redundant = redundant_stamps(catalog, current)
    if redundant:
        effective = tuple(c for c in current if c not in redundant)
        return DatabaseState(
            State.REDUNDANT_STAMP,
            current,
            heads,
            pending_revisions(catalog, effective),
            redundant=redundant,
        )
    pending = pending_revisions(catalog, current)
    return DatabaseState(
        State.BEHIND if pending else State.UP_TO_DATE, current, heads, pending
    )


def redundant_stamps(catalog: Catalog, current: tuple[str, ...]) -> tuple[str, ...]:
    """The stamped revisions that are ancestors of another stamped one (a
    stamp by hand, or a copied row, beside the revision that followed): Alembic
    refuses to move a database from overlapping revisions. Real branches,
    neither an ancestor of the other, are not redundant."""
    if len(current) < 2:
        return ()

    def compute() -> tuple[str, ...]:
        ancestors: set[str] = set()
        for rev in current:
            ancestors |= {
                s.revision
                for s in catalog.script.revision_map.iterate_revisions(
                    rev, "base", inclusive=False
                )
                if s.revision != rev
            }
        return tuple(c for c in current if c in ancestors)

    return catalog.memo(("redundant", current), compute)


def redundant_stamp_line(
    redundant: tuple[str, ...],
    effective: tuple[str, ...],
    ways: Ways | None = None,
) -> str:
    """What is wrong with a redundant stamp, and how to remove it: a stamp of
    the other revisions that purges the version table first (verified against
    their schema before it writes), in `ways`' words (the CLI's by
    default)."""
    what = (
        f"the database is stamped with {', '.join(redundant)} beside its "
        f"descendant {', '.join(effective)}: the {', '.join(redundant)} row is "
        "redundant, and no upgrade or downgrade runs until it is removed"
    )
    return what + (ways or cli_ways()).remove_redundant(effective)


def pending_revisions(catalog: Catalog, current: tuple[str, ...]) -> list[Revision]:
    """What `flask db upgrade heads` would apply, in apply order."""

    def compute() -> list[Revision]:
        try:
            steps = catalog.script.iterate_revisions("heads", current or "base")
            return list(reversed([catalog.by_id[s.revision] for s in steps]))
        except (CommandError, RevisionError):
            return []

    return catalog.memo(("pending", current), compute)
