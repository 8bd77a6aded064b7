"""Preflight: what each pending step will do, found before it runs, without
writing anything to the user's database.

For each statement of each step (as the rehearsal collected them):

- its lock impact, asked of the server itself: the statement is applied to an
  empty scratch copy of the tables it touches (built from the live `SHOW
  CREATE TABLE`, the parents of their foreign keys included, the plan's
  earlier statements applied first) with ALGORITHM=INSTANT, then NOCOPY
  (MariaDB), then INPLACE, each with LOCK=NONE and then LOCK=SHARED; the
  first the server accepts is the answer, and its refusals (errors
  1845/1846) say why;
- the table's rows and bytes, from the server's statistics (estimates);
- for a copy or an in-place rebuild, an estimated duration: the same ALTER
  timed on a second scratch copy holding a sample of the live rows, scaled
  to the table's rows;
- the live data that will make it fail, or that it changes silently, found
  with read-only queries each bounded by a time limit (a check cut off is
  "not checked", never "safe").

Plus the transactions open for more than a few seconds, which an ALTER's
metadata lock would wait for. Results are structured (kinds, tables,
columns, counts, examples); the CLI and the console word them.
"""

import itertools
import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from app.clock import utcnow
from app.dbadmin.core.catalog import Catalog
from app.dbadmin.core.ddl import (
    BATCH_TEMP,
    Action,
    ColumnDef,
    ColumnType,
    ParsedStatement,
    create_table_columns,
    parse_statement,
    parse_type,
    split_statements,
)
from app.dbadmin.core.plan import Plan, make_plan, plan_of_run
from app.dbadmin.core.rehearsal import (
    Rehearsal,
    RehearsedStep,
    Statement,
    rehearse,
)
from app.dbadmin.core.scratch import ScratchUnavailable, scratch_engine
from app.dbadmin.core.state import read_state
from app.errors import error_line
from app.models.console import PreflightResult

# Each data check may run this long on the live database before it is cut
# off (and reported as not checked).
DEFAULT_TIME_LIMIT_S = 5.0
# Transactions open longer than this are listed as possible blockers.
BLOCKER_AFTER_S = 5
# The rows copied into the sample table an ALTER is timed on: a sixteenth of
# the table, at least SAMPLE_ROWS and at most SAMPLE_ROWS_MAX. What an ALTER
# costs beyond its rows (more than the empty copy shows, on a busy server) is
# multiplied with the rest when the time is scaled to the table: a sample of
# a sixteenth keeps that small beside the time per row.
SAMPLE_ROWS = 40_000
SAMPLE_ROWS_MAX = 200_000
SAMPLE_FRACTION = 16
EXAMPLES = 5
# Threads running the data checks on the live tables, beside the thread that
# builds and times the scratch copies.
CHECKERS = 2

# Lock impact classes, best first.
INSTANT = "instant"
IN_PLACE_WRITES_ALLOWED = "in_place_writes_allowed"
IN_PLACE_WRITES_BLOCKED = "in_place_writes_blocked"
COPY = "copy"  # a table copy, writes blocked
ROWS = "rows"  # DML: row locks on the rows it changes
NONE = "none"  # touches no existing table's rows (a new table, a view)
UNKNOWN = "unknown"

BLOCKS_WRITES = (IN_PLACE_WRITES_BLOCKED, COPY)

# Finding severities.
FAILS = "fails"
WARNING = "warning"  # runs, but changes data silently
NOT_CHECKED = "not_checked"  # the check was cut off or could not run
NOT_ANALYSED = "not_analysed"  # preflight does not understand the statement

# The server refuses an ALGORITHM/LOCK it cannot honour with these.
_REFUSALS = (1845, 1846)
_NO_SUCH_TABLE = 1146
# Best first. (Verified on MariaDB 10.11 for 28 kinds of ALTER: skipping to
# the algorithm a refusal names finds the same first accepted one.)
_ALGORITHMS = ("INSTANT", "NOCOPY", "INPLACE", "COPY")
# A query cut off by max_statement_time (MariaDB) / MAX_EXECUTION_TIME (MySQL).
# A wait for a table lock held elsewhere, cut off by lock_wait_timeout.
_TIMEOUTS = (1969, 3024, 1317, 1205)


@dataclass(frozen=True)
class LockImpact:
    kind: str  # INSTANT … UNKNOWN
    algorithm: str | None = None  # what the server accepted: INSTANT, NOCOPY …
    lock: str | None = None  # NONE or SHARED (None for a copy)
    reason: str | None = None  # the server's last refusal, or why unknown

    @property
    def blocks_writes(self) -> bool:
        return self.kind in BLOCKS_WRITES


@dataclass(frozen=True)
class TableSize:
    table: str
    rows: int | None
    bytes: int | None
    estimated: bool  # from the server's statistics (shown with ~)


@dataclass(frozen=True)
class Finding:
    """Something about the data (or the statement) that matters before it
    runs. kind: duplicates, nulls, zero_filled, too_long, out_of_range,
    rounded, enum_values, orphans, check_violations, schema_error (the
    statement fails on the schema itself, `detail` holds the server's
    error), statement (a statement or clause not analysed)."""

    kind: str
    severity: str  # FAILS, WARNING, NOT_CHECKED, NOT_ANALYSED
    table: str | None = None
    columns: tuple[str, ...] = ()
    count: int | None = None  # rows (duplicate groups for duplicates)
    examples: tuple = ()  # up to EXAMPLES rows of values, one per row
    # What each example's values are (a duplicate group's example ends with
    # its row count, which has no column).
    example_columns: tuple[str, ...] = ()
    estimated: bool = False
    target: str | None = None  # new type, index, parent table, CHECK, fill value
    detail: str | None = None  # the server's message, or what was not done


@dataclass
class StatementPreflight:
    index: int  # 1-based, within its step
    sql: str
    kind: str  # the parsed statement's kind (alter, dml, …)
    tables: list[str]
    lock: LockImpact
    sizes: list[TableSize] = field(default_factory=list)
    estimate_s: float | None = None  # for a copy or an in-place rebuild
    findings: list[Finding] = field(default_factory=list)


@dataclass(frozen=True)
class BlockedWrites:
    table: str
    estimate_s: float | None
    lock: str  # IN_PLACE_WRITES_BLOCKED or COPY


@dataclass
class StepPreflight:
    revision: str
    direction: str
    statements: list[StatementPreflight]
    # The step failed in the rehearsal too (the server's message): it will
    # fail on the live database whatever its data.
    rehearsal_error: str | None = None

    @property
    def findings(self) -> list[Finding]:
        return [f for s in self.statements for f in s.findings]

    @property
    def failures(self) -> list[Finding]:
        failures = [f for f in self.findings if f.severity == FAILS]
        # The scratch copy names the statement the rehearsal failed on; the
        # rehearsal's own error says it when preflight could not.
        if self.rehearsal_error and not any(f.kind == "schema_error" for f in failures):
            failures.append(Finding("schema_error", FAILS, detail=self.rehearsal_error))
        return failures

    @property
    def blocked_writes(self) -> list[BlockedWrites]:
        blocked = []
        for s in self.statements:
            if s.lock.blocks_writes:
                # A table the plan creates has no rows to block; an unknown
                # count may be large.
                has_rows = any(size.rows != 0 for size in s.sizes)
                if has_rows:
                    blocked.append(
                        BlockedWrites(s.tables[0], s.estimate_s, s.lock.kind)
                    )
        return blocked

    @property
    def unknowns(self) -> list[Finding]:
        return [f for f in self.findings if f.severity in (NOT_CHECKED, NOT_ANALYSED)]

    @property
    def verdict(self) -> str:
        """fails, blocks_writes, unknown (something not checked or not
        analysed, or the lock impact unknown) or safe: the worst that holds.
        The lists above give the details of each."""
        if self.failures:
            return "fails"
        if self.blocked_writes:
            return "blocks_writes"
        if self.unknowns or any(s.lock.kind == UNKNOWN for s in self.statements):
            return "unknown"
        return "safe"


@dataclass(frozen=True)
class Blocker:
    """A transaction open long enough to hold a metadata lock an ALTER would
    wait for."""

    connection_id: int
    user: str | None
    host: str | None
    database: str | None
    seconds: int
    state: str | None
    query: str | None  # what it runs now (None when idle)
    tables: tuple[str, ...] | None  # None: cannot be named


@dataclass
class Preflight:
    dialect: str
    steps: list[StepPreflight]
    blockers: list[Blocker] = field(default_factory=list)
    # Why the tables a blocker holds cannot be named (performance_schema
    # off), or None when they can.
    blockers_unnamed_reason: str | None = None
    # Why the lock impact is unknown for every statement (no scratch grant).
    lock_unknown_reason: str | None = None
    time_limit_s: float = DEFAULT_TIME_LIMIT_S
    blocker_after_s: int = BLOCKER_AFTER_S
    elapsed_s: float = 0.0

    @property
    def will_fail(self) -> bool:
        return any(step.verdict == "fails" for step in self.steps)


# --- The statements of a plan ------------------------------------------------


def preflight_to(
    engine: Engine,
    catalog: Catalog,
    target: str,
    *,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
    blocker_after_s: int = BLOCKER_AFTER_S,
) -> tuple[Plan, Preflight]:
    """The plan from where the database stands to `target`, and its
    preflight. The statements come from a rehearsal of the steps in a scratch
    copy of the live schema; a login without the scratch grant gets them
    from Alembic's offline rendering instead (what a revision's Python
    decides from the data is then not seen), and the lock impact is
    unknown."""
    state = read_state(engine, catalog)
    plan = make_plan(engine, catalog, state, target, render=False)
    if not plan.steps:
        return plan, Preflight(engine.dialect.name, [], time_limit_s=time_limit_s)
    try:
        rehearsal = rehearse(
            engine, catalog, tuple(state.current), plan.target, plan.direction
        )
        steps, error = rehearsal.steps, rehearsal.error
        if not steps and not error:
            # A rehearsal that saw no step (a migrations/env.py without
            # Headway's hooks): the offline SQL rather than nothing.
            raise ScratchUnavailable("the rehearsal ran no step")
    except ScratchUnavailable:
        plan = make_plan(engine, catalog, state, target)
        steps, error = steps_from_plan(plan), plan.error
    result = preflight(
        engine, steps, time_limit_s=time_limit_s, blocker_after_s=blocker_after_s
    )
    if error and result.steps:
        result.steps[-1].rehearsal_error = error
    return plan, result


def preflight_of_run(
    engine: Engine,
    catalog: Catalog,
    start: tuple[str, ...],
    target: str,
    direction: str,
    revisions: list[str],
    *,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
) -> tuple[Rehearsal | None, Preflight]:
    """The preflight of a run Alembic is about to make (migrations/env.py's
    guards): the steps from `start` to `target`, and the rehearsal their
    statements came from, for the data-loss guard to read rather than
    rehearse again (None when no scratch database could be made: the
    statements then come from the offline rendering)."""
    rehearsal: Rehearsal | None
    try:
        rehearsal = rehearse(engine, catalog, start, target, direction)
        steps, error = rehearsal.steps, rehearsal.error
        if not steps and not error:
            raise ScratchUnavailable("the rehearsal ran no step")
    except ScratchUnavailable:
        rehearsal = None
        plan = plan_of_run(engine, catalog, start, target, direction, revisions)
        steps, error = steps_from_plan(plan), plan.error
    result = preflight(engine, steps, time_limit_s=time_limit_s)
    if error and result.steps:
        result.steps[-1].rehearsal_error = error
    return rehearsal, result


def steps_from_plan(plan: Plan) -> list[RehearsedStep]:
    """Each step's statements from its SQL as Alembic renders it offline
    (`core.plan`): what preflight reads when no rehearsal can run. Offline
    SQL misses what a revision's Python decides from the data, and a SQLite
    batch rebuild shows as one copy of its table."""
    steps = []
    for step in plan.steps:
        statements = []
        for sql in split_statements(step.sql):
            body = _strip_comments(sql)
            batch = re.search(r"^-- batch rebuild of (\S+):", sql, re.MULTILINE)
            if batch:
                table = batch.group(1)
                statements.append(
                    Statement(f"INSERT INTO {BATCH_TEMP}{table} SELECT * FROM {table}")
                )
            if not body or re.match(
                r"(?is)^(BEGIN|COMMIT|START TRANSACTION)\b|^.*\balembic_version\b",
                body,
            ):
                continue
            statements.append(Statement(body))
        steps.append(RehearsedStep(step.revision.id, step.direction, statements))
    return steps


def _strip_comments(sql: str) -> str:
    return "\n".join(
        line for line in sql.splitlines() if not line.lstrip().startswith("--")
    ).strip()


# --- Preflight -----------------------------------------------------------------


def preflight(
    engine: Engine,
    steps: list[RehearsedStep],
    *,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
    blocker_after_s: int = BLOCKER_AFTER_S,
) -> Preflight:
    """What each of `steps` will do on the database behind `engine`. Reads
    only; on MySQL/MariaDB it builds (and drops) two scratch databases, which
    needs an app context (their name prefix is configured)."""
    started = time.monotonic()
    result = Preflight(
        engine.dialect.name,
        [],
        time_limit_s=time_limit_s,
        blocker_after_s=blocker_after_s,
    )
    sqls = [statement.sql for step in steps for statement in step.statements]
    with ExitStack() as stack:
        live = stack.enter_context(_connect(engine))
        context = _Context(engine, live, time_limit_s)
        if context.mysql:
            try:
                context.open_scratch(stack)
            except ScratchUnavailable as exc:
                result.lock_unknown_reason = str(exc)
            # The data checks read the live tables while the scratch copies
            # are built and timed: CHECKERS threads, each on a connection of
            # its own, taking the statements in order as they come free (one
            # long scan does not hold up the checks of the next statements).
            findings = [Future() for _ in sqls]
            claim = _counter()
            for _ in range(min(CHECKERS, len(sqls))):
                checker_connection = stack.enter_context(_connect(engine))
                checker = _Context(engine, checker_connection, time_limit_s)
                thread = threading.Thread(
                    target=checker.check_all,
                    args=(sqls, findings, claim),
                    daemon=True,
                )
                thread.start()
                stack.callback(thread.join)
            context.quiet = lambda: _wait_for(findings)
        else:
            findings = None
        if context.sample is not None:
            context.deferred = []
        position = 0
        for step in steps:
            statements = []
            for i, statement in enumerate(step.statements, 1):
                found = findings[position] if findings else None
                statements.append(context.statement(i, statement.sql, found))
                position += 1
            result.steps.append(
                StepPreflight(step.revision, step.direction, statements)
            )
        context.run_sample_work()
        if context.mysql:
            result.blockers, result.blockers_unnamed_reason = possible_blockers(
                live, blocker_after_s
            )
    result.elapsed_s = time.monotonic() - started
    return result


def lock_impacts(engine: Engine, sqls: list[str]) -> list[LockImpact]:
    """Each statement's lock impact only (no sizes, durations or data
    checks), asked of the server on an empty scratch copy of the tables as
    the earlier statements leave them: what an online run (core/online.py)
    decides from, before it starts and again before each statement. On
    SQLite, from the statement's text. Raises ScratchUnavailable when no
    scratch database can be made (MySQL/MariaDB)."""
    impacts = []
    with ExitStack() as stack:
        live = stack.enter_context(_connect(engine))
        context = _Context(engine, live, DEFAULT_TIME_LIMIT_S)
        context.timing = False
        if context.mysql:
            shape = stack.enter_context(scratch_engine(engine))
            context.shape = stack.enter_context(
                shape.connect().execution_options(isolation_level="AUTOCOMMIT")
            )
        for i, sql in enumerate(sqls, 1):
            parsed = parse_statement(sql)
            tables = [t for t in parsed.tables if not t.startswith(BATCH_TEMP)]
            result = StatementPreflight(i, sql, parsed.kind, tables, LockImpact(NONE))
            if parsed.kind == "unknown":
                result.lock = LockImpact(UNKNOWN, reason="statement not analysed")
            elif context.mysql:
                context.mysql_lock(parsed, result, list)
            else:
                result.lock = _sqlite_lock(parsed)
            context.follow_schema(parsed, sql)
            impacts.append(result.lock)
    return impacts


class _Context:
    """What preflight knows while it walks the plan's statements in order."""

    def __init__(self, engine: Engine, live: Connection, time_limit_s: float):
        self.engine = engine
        self.live = live
        self.time_limit_s = time_limit_s
        self.mysql = engine.dialect.name == "mysql"
        self.mariadb = self.mysql and engine.dialect.is_mariadb
        self.quote = engine.dialect.identifier_preparer.quote
        self.shape: Connection | None = None  # empty copies, plan applied
        self.sample: Connection | None = None  # sampled rows, plan applied
        self.shape_tables: set[str] = set()  # made in the shape database
        self.sample_tables: set[str] = set()
        self.dropped: set[str] = set()  # dropped or renamed by the plan
        self.created: set[str] = set()  # created by the plan
        self.strict = True
        # Whether a rebuild is timed on a sample (lock_impacts: not).
        self.timing = True
        # Seconds per row of a rebuild timed on a sample, by (table,
        # algorithm): a later rebuild of the same table by the same algorithm
        # does the same work per row, and is not timed again.
        self.per_row: dict[tuple[str, str], float] = {}
        # Called before a timed ALTER: waits until the data checks' scans of
        # the live tables are done, so that the timing does not share the
        # server with them (the real run will not).
        self.quiet: Callable[[], None] = lambda: None
        # The work on the sample tables, in the plan's order, kept for
        # `run_sample_work` (None: done at once). Meanwhile only the samples
        # are filled, beside the data checks.
        self.deferred: list[Callable[[], None]] | None = None
        self.pending: set[str] = set()  # tables with work kept
        if self.mysql:
            # No read of preflight's waits long for a table lock held elsewhere.
            wait = max(1, math.ceil(time_limit_s))
            _exec(live, f"SET SESSION lock_wait_timeout = {wait}")
        self.live_tables = set(sa.inspect(live).get_table_names())
        if self.mysql:
            mode = _exec(live, "SELECT @@SESSION.sql_mode").scalar() or ""
            self.strict = "STRICT_" in mode
            self.live_name = _exec(live, "SELECT DATABASE()").scalar()
        self.sizes: dict[str, TableSize] = {}
        self.columns: dict[str, dict[str, ColumnDef]] = {}  # as the plan left them
        self.added: set[str] = set()  # "table.column" added by the plan

    def open_scratch(self, stack: ExitStack) -> None:
        shape = stack.enter_context(scratch_engine(self.engine))
        sample = stack.enter_context(scratch_engine(self.engine))
        self.shape = stack.enter_context(
            shape.connect().execution_options(isolation_level="AUTOCOMMIT")
        )
        self.sample = stack.enter_context(
            sample.connect().execution_options(isolation_level="AUTOCOMMIT")
        )
        # A table lock held elsewhere stops a scratch statement (the sample's
        # read of the live rows) as soon as a data check would be.
        wait = max(1, math.ceil(self.time_limit_s))
        for conn in (self.shape, self.sample):
            _exec(conn, f"SET SESSION lock_wait_timeout = {wait}")

    # -- one statement ---------------------------------------------------------

    def statement(
        self, index: int, sql: str, checked: Future | None = None
    ) -> StatementPreflight:
        """The statement's preflight; its data checks are `checked`'s result
        when another context ran them, else run here."""
        parsed = parse_statement(sql)
        tables = [t for t in parsed.tables if not t.startswith(BATCH_TEMP)]
        result = StatementPreflight(index, sql, parsed.kind, tables, LockImpact(NONE))
        result.sizes = [
            self.size(t)
            for t in tables
            if t in self.live_tables and t not in self.created
        ][:1]
        if parsed.kind == "unknown":
            result.lock = LockImpact(UNKNOWN, reason="statement not analysed")
            result.findings.append(Finding("statement", NOT_ANALYSED, detail=sql))
            if checked is not None:
                checked.result()
            return result
        gathered = []

        def gather() -> list[Finding]:
            """The data checks' findings, added to the result once (a
            statement that will fail is not timed: they are needed first)."""
            if not gathered:
                found = checked.result() if checked else self.checks(parsed, sql)
                result.findings += found
                gathered.append(True)
            return result.findings

        if self.mysql:
            self.mysql_lock(parsed, result, gather)
        else:
            result.lock = _sqlite_lock(parsed)
        gather()
        self.follow_schema(parsed, sql)
        return result

    def checks(self, parsed: ParsedStatement, sql: str) -> list[Finding]:
        """What the statement's clauses do to the live data, and the clauses
        not analysed."""
        if parsed.kind == "unknown":
            return []
        findings = [
            Finding("statement", NOT_ANALYSED, table=parsed.table, detail=a.text)
            for a in parsed.actions
            if a.kind == "unknown"
        ]
        if parsed.kind in ("alter", "batch_copy"):
            findings += self.data_checks(parsed, sql)
        return findings

    def check_all(self, sqls: list[str], results: list[Future], claim=None) -> None:
        """The data checks of the statements, in order (on a thread of its
        own): each result as soon as it is known. With `claim` (a function
        handing out positions, shared by several checkers), only the
        statements it hands this checker; the others' schema changes are
        followed all the same, for the checks of later statements."""
        position = 0
        try:
            while position < len(sqls):
                mine = claim() if claim is not None else position
                while position < min(mine, len(sqls)):
                    self.follow_schema(parse_statement(sqls[position]), sqls[position])
                    position += 1
                if position >= len(sqls):
                    return
                parsed = parse_statement(sqls[position])
                results[position].set_result(self.checks(parsed, sqls[position]))
                self.follow_schema(parsed, sqls[position])
                position += 1
        except BaseException as exc:  # handed to the waiting statements
            for pending in results:
                if not pending.done():
                    pending.set_exception(exc)

    # -- sizes -------------------------------------------------------------------

    def size(self, table: str) -> TableSize:
        if table not in self.sizes:
            if self.mysql:
                row = self.live.execute(
                    sa.text(
                        "SELECT TABLE_ROWS, DATA_LENGTH + INDEX_LENGTH "
                        "FROM information_schema.TABLES "
                        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t"
                    ),
                    {"t": table},
                ).first()
                rows, size = (row[0], row[1]) if row else (None, None)
                self.sizes[table] = TableSize(table, rows, size, True)
            else:
                rows = self.bounded_scalar(f"SELECT COUNT(*) FROM {self.quote(table)}")
                self.sizes[table] = TableSize(
                    table, rows if isinstance(rows, int) else None, None, False
                )
        return self.sizes[table]

    def has_rows(self, table: str) -> bool | None:
        """Whether the live table has a row (exact; None when cut off)."""
        if table not in self.live_tables or table in self.created:
            return False
        found = self.bounded_rows(f"SELECT 1 FROM {self.quote(table)} LIMIT 1")
        return None if found is None else bool(found)

    # -- lock impact (MySQL/MariaDB) ------------------------------------------

    def mysql_lock(
        self,
        parsed: ParsedStatement,
        result: StatementPreflight,
        findings: Callable[[], list[Finding]],
    ) -> None:
        if parsed.kind == "dml":
            result.lock = LockImpact(ROWS)
            return
        if parsed.kind in ("create_table", "other"):
            result.lock = LockImpact(NONE)
            if parsed.kind == "create_table":
                self.apply_to_shape(result.sql, parsed)
            return
        if parsed.kind in ("drop_table", "rename_table"):
            result.lock = LockImpact(INSTANT)
            self.apply_to_shape(result.sql, parsed)
            return
        # alter
        if self.shape is None:
            result.lock = LockImpact(UNKNOWN, reason="no scratch database")
            return
        table = parsed.table
        try:
            self.ensure_in_shape(table)
            for action in parsed.actions:
                self.ensure_in_shape(action.references)
        except sa.exc.DBAPIError as exc:
            result.lock = LockImpact(UNKNOWN, reason=_message(exc))
            return
        try:
            before = self.shape_ddl(table)
        except sa.exc.DBAPIError as exc:
            if _error_code(exc) != _NO_SUCH_TABLE:
                raise
            # Neither live nor made by an earlier statement of the plan.
            result.lock = LockImpact(UNKNOWN, reason="no such table")
            result.findings.append(
                Finding(
                    "schema_error",
                    FAILS,
                    table=table,
                    detail=f"there is no table {table}",
                )
            )
            return
        refusal = None
        # An instant change takes no lock beyond the brief metadata lock, so
        # INSTANT needs no second try with LOCK=SHARED.
        attempts = [("INSTANT", "NONE")]
        if self.mariadb:
            attempts += [("NOCOPY", "NONE"), ("NOCOPY", "SHARED")]
        attempts += [("INPLACE", "NONE"), ("INPLACE", "SHARED"), ("COPY", None)]
        statement = parsed.alter_form or result.sql
        # A refusal names the algorithm to try next ("Try ALGORITHM=COPY"):
        # the ones before it are refused too, and not asked.
        hinted = None
        for algorithm, lock in attempts:
            if hinted and _ALGORITHMS.index(algorithm) < _ALGORITHMS.index(hinted):
                continue
            options = f"ALGORITHM={algorithm}" + (f", LOCK={lock}" if lock else "")
            if parsed.option_separator == " ":
                options = options.replace(",", "")
            try:
                started = time.perf_counter()
                _exec(self.shape, f"{statement}{parsed.option_separator}{options}")
                fixed_cost = time.perf_counter() - started
            except sa.exc.DBAPIError as exc:
                code = _error_code(exc)
                if code in _REFUSALS:
                    refusal = _message(exc)
                    named = re.search(r"Try ALGORITHM=(\w+)", refusal)
                    if named and named.group(1).upper() in _ALGORITHMS:
                        hinted = named.group(1).upper()
                    continue
                # Refused on the schema itself, data or no data: it fails.
                self.on_sample(table, lambda: self.drop_sample(table))
                result.lock = LockImpact(UNKNOWN, reason=_message(exc))
                result.findings.append(
                    Finding("schema_error", FAILS, table=table, detail=_message(exc))
                )
                return
            result.lock = LockImpact(
                _lock_class(algorithm, lock), algorithm, lock, refusal
            )
            break
        if not self.timing:
            return
        if any(f.severity == FAILS for f in findings()):
            # It will fail on the live data: how long it would take does not
            # matter, and the sample no longer follows the plan.
            self.on_sample(table, lambda: self.drop_sample(table))
        elif result.lock.kind in (
            IN_PLACE_WRITES_ALLOWED,
            IN_PLACE_WRITES_BLOCKED,
            COPY,
        ):
            self.prefill_sample(table, before)

            def timed() -> None:
                result.estimate_s = self.time_on_sample(
                    table, before, result, fixed_cost
                )

            self.on_sample(table, timed, keep=True)
        else:
            self.on_sample(table, lambda: self.run_on_sample(table, result.sql))

    def on_sample(
        self, table: str, work: Callable[[], None], keep: bool = False
    ) -> None:
        """Work on `table`'s sample: kept (`deferred`) when it is a timing
        (`keep`) or the table has a sample or kept work, else done at once."""
        if self.deferred is None or not (
            keep or table in self.pending or table in self.sample_tables
        ):
            work()
        else:
            self.deferred.append(work)
            self.pending.add(table)

    def prefill_sample(self, table: str, ddl_before: str) -> None:
        """Fill the sample of `table` now, while the data checks run, when
        the work kept so far does not touch it (its first timing)."""
        if self.deferred is None or table in self.pending | self.sample_tables:
            return
        size = self.sizes.get(table)
        if not (size and size.rows) or table not in self.live_tables:
            return
        try:
            self.fill_sample(table, ddl_before, size.rows)
        except sa.exc.DBAPIError:
            self.drop_sample(table)  # tried again when timed

    def run_sample_work(self) -> None:
        """The work kept on the samples, in the plan's order, once the data
        checks are done."""
        work, self.deferred = self.deferred or [], None
        if work:
            self.quiet()
        for each in work:
            each()

    def shape_ddl(self, table: str) -> str:
        return _exec(self.shape, f"SHOW CREATE TABLE {self.quote(table)}").one()[1]

    def ensure_in_shape(self, table: str | None, seen: set | None = None) -> None:
        """An empty copy of the live table in the shape database, and of
        the parents of its foreign keys (recursively)."""
        if table is None or table in self.shape_tables:
            return
        if table not in self.live_tables or table in self.dropped | self.created:
            return  # made by the plan (or gone): the statement will say
        seen = seen if seen is not None else set()
        if table in seen:
            return
        seen.add(table)
        ddl = _exec(self.live, f"SHOW CREATE TABLE {self.quote(table)}").one()[1]
        parents = re.findall(r"REFERENCES `((?:[^`]|``)+)`", ddl)
        for parent in parents:
            self.ensure_in_shape(parent.replace("``", "`"), seen)
        _exec(self.shape, "SET SESSION foreign_key_checks = 0")
        try:
            _exec(self.shape, _without_auto_increment(ddl))
        finally:
            _exec(self.shape, "SET SESSION foreign_key_checks = 1")
        self.shape_tables.add(table)

    def apply_to_shape(self, sql: str, parsed: ParsedStatement) -> None:
        if self.shape is None:
            return
        for table in parsed.tables:
            self.ensure_in_shape(table)
        _exec(self.shape, "SET SESSION foreign_key_checks = 0")
        try:
            _exec(self.shape, sql)
        except sa.exc.DBAPIError:
            pass  # its failure is not a lock question; the run will say
        finally:
            _exec(self.shape, "SET SESSION foreign_key_checks = 1")
        for table in parsed.tables:
            if self.sample is not None:
                self.on_sample(table, lambda table=table: self.drop_sample(table))

    # -- duration, measured on a sample ------------------------------------------

    def time_on_sample(
        self,
        table: str,
        ddl_before: str,
        result: StatementPreflight,
        fixed_cost: float,
    ) -> float | None:
        """The ALTER timed on a copy of the table (as the plan leaves it
        before this statement) holding a sample of its live rows, scaled to
        the live rows; None when it cannot be measured. The time
        it took on the empty copy (`fixed_cost`: making and renaming the new
        table's files) is not scaled, only the time per row. A table already
        rebuilt by the same algorithm earlier in the plan costs what that
        timing found per row."""
        size = self.sizes.get(table)
        live_rows = size.rows if size else None
        if not live_rows or table not in self.live_tables:
            return 0.0 if live_rows == 0 else None
        algorithm = result.lock.algorithm or ""
        if (table, algorithm) in self.per_row:
            # Not run on the sample, which no longer follows the plan: the
            # next timing on this table starts a new one.
            self.drop_sample(table)
            return fixed_cost + self.per_row[(table, algorithm)] * live_rows
        sample = self.sample
        try:
            if table not in self.sample_tables:
                self.fill_sample(table, ddl_before, live_rows)
            sampled = _exec(
                sample, f"SELECT COUNT(*) FROM {self.quote(table)}"
            ).scalar()
            alter_options = f"ALGORITHM={algorithm}" + (
                f", LOCK={result.lock.lock}" if result.lock.lock else ""
            )
            options = alter_options
            parsed = parse_statement(result.sql)
            sep = parsed.option_separator
            if sep == " ":
                options = options.replace(",", "")
            rebuild = f"ALTER TABLE {self.quote(table)} FORCE, {alter_options}"
            self.quiet()
            started = time.perf_counter()
            _exec(sample, f"{parsed.alter_form or result.sql}{sep}{options}")
            elapsed = time.perf_counter() - started
            if algorithm in ("COPY", "INPLACE"):
                # The same work again (a rebuild by the same algorithm), on
                # the sample and on the empty copy, and the faster of each
                # pair: a busy server only ever adds time, and a fixed cost
                # counted too high takes the time per row with it.
                started = time.perf_counter()
                _exec(sample, rebuild)
                elapsed = min(elapsed, time.perf_counter() - started)
                fixed_cost = min(fixed_cost, self.timed_on_shape(rebuild))
        except sa.exc.DBAPIError:
            # The sample's data refused it (a duplicate, say): the data
            # checks say why; the duration is not measured.
            self.drop_sample(table)
            return None
        if not sampled:
            return None
        per_row = max(elapsed - fixed_cost, 0.0) / sampled
        if algorithm in ("COPY", "INPLACE"):
            self.per_row[(table, algorithm)] = per_row
        return fixed_cost + per_row * max(live_rows, sampled)

    def timed_on_shape(self, sql: str) -> float:
        """How long `sql` took on the empty copies (infinite if it failed)."""
        started = time.perf_counter()
        try:
            _exec(self.shape, sql)
        except sa.exc.DBAPIError:
            return math.inf
        return time.perf_counter() - started

    def fill_sample(self, table: str, ddl: str, live_rows: int) -> None:
        """A table made by `ddl` in the sample database, holding a sample of
        the live table's rows (`sample_rows`)."""
        sample = self.sample
        _exec(sample, f"DROP TABLE IF EXISTS {self.quote(table)}")
        _exec(sample, _without_foreign_keys(_without_auto_increment(ddl)))
        self.sample_tables.add(table)
        columns = self.common_columns(table)
        source = f"{self.quote(self.live_name)}.{self.quote(table)}"
        insert = (
            f"INSERT INTO {self.quote(table)} ({columns}) "
            f"SELECT {columns} FROM {source} LIMIT {sample_rows(live_rows)}"
        )
        # Columns the plan added get their implicit default. The read of the
        # live table is bounded like the data checks.
        _exec(sample, "SET SESSION sql_mode = ''")
        try:
            _exec(sample, self.bounded(insert))
        finally:
            _exec(sample, "SET SESSION sql_mode = DEFAULT")

    def drop_sample(self, table: str) -> None:
        """Forget the sample of `table`: it no longer follows the plan. The
        table itself stays until a new sample replaces it (`fill_sample`
        drops it first) or the scratch database goes: one DDL statement
        fewer, each as slow as a small ALTER on a busy server."""
        self.sample_tables.discard(table)

    def run_on_sample(self, table: str, sql: str) -> None:
        """Keep the sample table in step with the plan (an instant change)."""
        if table not in self.sample_tables:
            return
        try:
            _exec(self.sample, sql)
        except sa.exc.DBAPIError:
            self.drop_sample(table)

    def common_columns(self, table: str) -> str:
        live = {c["name"] for c in sa.inspect(self.live).get_columns(table)}
        sample = [
            r[0] for r in _exec(self.sample, f"SHOW COLUMNS FROM {self.quote(table)}")
        ]
        return ", ".join(self.quote(c) for c in sample if c in live)

    # -- the schema as the plan leaves it ----------------------------------------

    def column(self, table: str, name: str) -> ColumnDef | None:
        """The column as the plan's earlier statements left it (else live)."""
        if table not in self.columns:
            self.columns[table] = self.live_columns(table)
        return self.columns[table].get(name.lower())

    def live_columns(self, table: str) -> dict[str, ColumnDef]:
        if table not in self.live_tables or table in self.created:
            return {}
        if self.mysql:
            rows = self.live.execute(
                sa.text(
                    "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT "
                    "IS NOT NULL, EXTRA FROM information_schema.COLUMNS "
                    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t"
                ),
                {"t": table},
            ).all()
        else:
            rows = [
                (r[1], r[2], "NO" if r[3] else "YES", r[4] is not None, "")
                for r in _exec(self.live, f"PRAGMA table_info({self.quote(table)})")
            ]
        found = {}
        for name, type_text, nullable, has_default, extra in rows:
            type_ = parse_type(type_text) or ColumnType(str(type_text).upper())
            found[name.lower()] = ColumnDef(
                name,
                type_,
                nullable == "NO",
                bool(has_default),
                "auto_increment" in (extra or ""),
            )
        return found

    def follow_schema(self, parsed: ParsedStatement, sql: str) -> None:
        """Remember what the statement changes, for the checks of later
        statements."""
        if parsed.kind == "create_table":
            self.created.add(parsed.table)
            columns = create_table_columns(sql) or []
            self.columns[parsed.table] = {c.name.lower(): c for c in columns}
        elif parsed.kind == "drop_table":
            self.dropped.update(parsed.tables)
        elif parsed.kind == "rename_table":
            old, new = parsed.tables[0], parsed.tables[-1]
            if old.startswith(BATCH_TEMP):
                return
            self.dropped.add(old)
            self.created.add(new)
        elif parsed.kind == "alter":
            table = parsed.table
            for action in parsed.actions:
                if action.kind in ("add_column", "modify_column"):
                    self.column(table, action.column or "")
                    self.columns[table].pop((action.column or "").lower(), None)
                    definition = action.definition
                    self.columns[table][definition.name.lower()] = definition
                    if action.kind == "add_column":
                        self.added.add(f"{table}.{definition.name}".lower())

    def added_by_plan(self, table: str, column: str) -> bool:
        return f"{table}.{column}".lower() in self.added

    # -- data checks -----------------------------------------------------------

    def data_checks(self, parsed: ParsedStatement, sql: str) -> list[Finding]:
        table = parsed.table
        if table in self.created or table not in self.live_tables:
            return []
        findings: list[Finding] = []
        if parsed.kind == "batch_copy":
            return self.batch_checks(table, sql)
        for action in parsed.actions:
            check = getattr(self, f"check_{action.kind}", None)
            if check is not None:
                findings += check(table, action)
        return findings

    def check_add_unique(self, table: str, action: Action) -> list[Finding]:
        return self.duplicates(table, action, primary=False)

    def check_add_primary_key(self, table: str, action: Action) -> list[Finding]:
        return self.duplicates(table, action, primary=True)

    def duplicates(self, table: str, action: Action, primary: bool) -> list[Finding]:
        columns = action.columns
        if any(self.added_by_plan(table, c) for c in columns):
            return [
                self.not_checked(
                    "duplicates", table, columns, "column added by this plan"
                )
            ]
        keys = [
            f"SUBSTR({self.quote(c)}, 1, {p})" if p else self.quote(c)
            for c, p in zip(
                columns, action.prefixes or (None,) * len(columns), strict=True
            )
        ]
        key_list = ", ".join(keys)
        not_null = " AND ".join(f"{k} IS NOT NULL" for k in keys)
        sql = (
            f"SELECT {key_list}, COUNT(*) AS n, COUNT(*) OVER () AS groups_ "
            f"FROM {self.quote(table)} WHERE {not_null} GROUP BY {key_list} "
            f"HAVING COUNT(*) > 1 ORDER BY n DESC LIMIT {EXAMPLES}"
        )
        rows = self.bounded_rows(sql)
        target = action.name or "primary key"
        if rows is None:
            return [
                self.not_checked("duplicates", table, columns, self.last_error, target)
            ]
        findings = []
        if rows:
            findings.append(
                Finding(
                    "duplicates",
                    FAILS,
                    table,
                    columns,
                    count=int(rows[0][-1]),
                    examples=tuple(tuple(r[:-2]) + (int(r[-2]),) for r in rows),
                    example_columns=columns,
                    target=target,
                )
            )
        if primary:
            findings += self.null_rows(table, columns, target)
        return findings

    def null_rows(
        self, table: str, columns: tuple[str, ...], target: str | None = None
    ) -> list[Finding]:
        condition = " OR ".join(f"{self.quote(c)} IS NULL" for c in columns)
        found = self.count_with_examples(table, condition, ())
        return self.found("nulls", FAILS, table, columns, target, found)

    def check_add_column(self, table: str, action: Action) -> list[Finding]:
        definition = action.definition
        if not definition.not_null or definition.has_default:
            return []
        if definition.auto_increment:
            return []
        has_rows = self.has_rows(table)
        if has_rows is None:
            return [
                self.not_checked(
                    "zero_filled", table, (definition.name,), self.last_error
                )
            ]
        if not has_rows:
            return []
        if not self.mysql:
            # SQLite refuses a NOT NULL column without a default outright.
            return [
                Finding(
                    "zero_filled",
                    FAILS,
                    table,
                    (definition.name,),
                    detail="Cannot add a NOT NULL column with default value NULL",
                )
            ]
        size = self.sizes.get(table) or self.size(table)
        return [
            Finding(
                "zero_filled",
                WARNING,
                table,
                (definition.name,),
                count=size.rows,
                estimated=True,
                target=_zero_value(definition.type),
            )
        ]

    def check_modify_column(self, table: str, action: Action) -> list[Finding]:
        old = self.column(table, action.column)
        new = action.definition
        column = (action.column,)
        if old is None:
            return [
                Finding(
                    "statement",
                    NOT_ANALYSED,
                    table,
                    column,
                    detail=f"column {action.column} not found",
                )
            ]
        if self.added_by_plan(table, action.column):
            return [
                self.not_checked("nulls", table, column, "column added by this plan")
            ]
        findings = []
        if new.not_null and not old.not_null:
            findings += self.null_rows(table, column, target=str(new.type))
        if self.mysql:
            findings += self.narrowing(table, action.column, old.type, new.type)
        return findings

    def narrowing(
        self, table: str, column: str, old: ColumnType, new: ColumnType
    ) -> list[Finding]:
        """Values that do not fit the new type. Strict mode refuses them (the
        step fails); otherwise they are cut silently."""
        if old == new:
            return []
        severity = FAILS if self.strict else WARNING
        q = self.quote(column)
        target = str(new)
        condition, kind = None, None
        if new.name in _INT_RANGES and old.name in {*_INT_RANGES, "DECIMAL"}:
            low, high = _int_range(new)
            old_low, old_high = (
                _int_range(old) if old.name in _INT_RANGES else (-math.inf, math.inf)
            )
            if old_low < low or old_high > high:
                condition, kind = f"{q} < {low} OR {q} > {high}", "out_of_range"
            else:
                return []
        elif new.name in _STRING_LENGTHS and (
            old.name in _STRING_LENGTHS or old.name in _INT_RANGES
        ):
            new_length = _string_length(new)
            old_length = _string_length(old) if old.name in _STRING_LENGTHS else 20
            if new_length >= old_length:
                return []
            measure = "LENGTH" if new.name.endswith(("TEXT", "BLOB")) else "CHAR_LENGTH"
            condition, kind = f"{measure}({q}) > {new_length}", "too_long"
        elif new.name == "DECIMAL" and old.name in {*_INT_RANGES, "DECIMAL"}:
            p, s = _decimal(new)
            old_p, old_s = _decimal(old) if old.name == "DECIMAL" else (20, 0)
            findings = []
            if p - s < old_p - old_s:
                found = self.count_with_examples(
                    table, f"ABS({q}) >= POWER(10, {p - s})", (column,)
                )
                findings += self.found(
                    "out_of_range", severity, table, (column,), target, found
                )
            if s < old_s:
                found = self.count_with_examples(
                    table, f"{q} <> ROUND({q}, {s})", (column,)
                )
                findings += self.found(
                    "rounded", WARNING, table, (column,), target, found
                )
            return findings
        elif new.name in ("ENUM", "SET") and old.name == new.name:
            lost = [v for v in old.args if v not in new.args]
            if not lost:
                return []
            if new.name == "SET":
                return [
                    Finding(
                        "statement",
                        NOT_ANALYSED,
                        table,
                        (column,),
                        target=target,
                        detail="a SET losing values",
                    )
                ]
            values = ", ".join(_sql_string(v) for v in lost)
            condition, kind = f"{q} IN ({values})", "enum_values"
        elif _same_family(old, new):
            return []
        else:
            return [
                Finding(
                    "statement",
                    NOT_ANALYSED,
                    table,
                    (column,),
                    target=target,
                    detail=f"type change from {old} to {new}",
                )
            ]
        found = self.count_with_examples(table, condition, (column,))
        return self.found(kind, severity, table, (column,), target, found)

    def found(self, kind, severity, table, columns, target, found) -> list[Finding]:
        """What a count_with_examples found: a finding when rows would break
        the change, none when no row would, "not checked" when it could not
        count."""
        if found is None:
            return [self.not_checked(kind, table, columns, self.last_error, target)]
        count, examples, shown = found
        if not count:
            return []
        return [
            Finding(
                kind, severity, table, columns, count, examples, shown, target=target
            )
        ]

    def check_add_foreign_key(self, table: str, action: Action) -> list[Finding]:
        parent = action.references
        columns = action.columns
        target = f"{parent}({', '.join(action.referenced_columns)})"
        if parent in self.created or parent not in self.live_tables:
            return [
                self.not_checked(
                    "orphans", table, columns, "parent table made by this plan", target
                )
            ]
        pairs = " AND ".join(
            f"p.{self.quote(pc)} = c.{self.quote(cc)}"
            for cc, pc in zip(columns, action.referenced_columns, strict=False)
        )
        not_null = " AND ".join(f"c.{self.quote(c)} IS NOT NULL" for c in columns)
        condition = (
            f"{not_null} AND NOT EXISTS (SELECT 1 FROM {self.quote(parent)} p "
            f"WHERE {pairs})"
        )
        found = self.count_with_examples(table, condition, columns, alias="c")
        return self.found("orphans", FAILS, table, columns, target, found)

    def check_add_check(self, table: str, action: Action) -> list[Finding]:
        found = self.count_with_examples(table, f"NOT ({action.expression})", ())
        return self.found(
            "check_violations", FAILS, table, (), action.expression, found
        )

    def batch_checks(self, table: str, sql: str) -> list[Finding]:
        """A SQLite batch rebuild: the new table's definition is not in the
        copy statement; the rehearsal's CREATE TABLE of the copy gave it."""
        pending = self.columns.pop(f"{BATCH_TEMP}{table}", None)
        if pending is None:
            return [
                Finding(
                    "statement",
                    NOT_ANALYSED,
                    table,
                    detail="batch rebuild: its new definition is made when it runs",
                )
            ]
        findings = []
        for name, new in pending.items():
            old = self.column(table, name)
            if old is not None and new.not_null and not old.not_null:
                findings += self.null_rows(table, (old.name,), str(new.type))
        return findings

    def not_checked(self, kind, table, columns, why, target=None) -> Finding:
        return Finding(
            kind, NOT_CHECKED, table, tuple(columns), target=target, detail=why
        )

    # -- bounded reads on the live database -----------------------------------

    last_error: str | None = None

    def bounded_rows(self, sql: str) -> list | None:
        """The rows of a read-only query cut off after the time limit; None
        (and `last_error` says why) when cut off or refused."""
        self.last_error = None
        limit = self.time_limit_s
        sql = self.bounded(sql)
        try:
            with _sqlite_deadline(self.live, limit):
                return _exec(self.live, sql).all()
        except sa.exc.DBAPIError as exc:
            if _error_code(exc) in _TIMEOUTS or "interrupted" in str(exc.orig):
                self.last_error = f"cut off after {limit:g} s"
            else:
                self.last_error = _message(exc)
            if self.live.in_transaction():
                self.live.rollback()
            return None

    def bounded(self, sql: str) -> str:
        """`sql` cut off by the server after the time limit."""
        limit = self.time_limit_s
        if self.mariadb:
            return f"SET STATEMENT max_statement_time={limit:.3f} FOR {sql}"
        if self.mysql:
            return re.sub(
                r"^(INSERT\b.*?)?SELECT\b",
                lambda m: (
                    (m.group(1) or "")
                    + f"SELECT /*+ MAX_EXECUTION_TIME({int(limit * 1000)}) */"
                ),
                sql,
                count=1,
                flags=re.DOTALL,
            )
        return sql

    def bounded_scalar(self, sql: str):
        rows = self.bounded_rows(sql)
        return rows[0][0] if rows else None

    def count_with_examples(
        self,
        table: str,
        condition: str,
        columns: tuple[str, ...],
        alias: str | None = None,
    ) -> tuple[int, tuple, tuple[str, ...]] | None:
        """How many rows match, up to EXAMPLES of them (`columns` and the
        primary key), and those columns' names; each query bounded. The
        examples come first: fewer than EXAMPLES means the scan saw every
        match, and no count is needed."""
        shown = tuple(columns) + tuple(
            c for c in self.primary_key(table) if c not in columns
        )
        prefix = f"{alias}." if alias else ""
        select = ", ".join(prefix + self.quote(c) for c in shown) or "1"
        source = f"{self.quote(table)}{' ' + alias if alias else ''} WHERE {condition}"
        rows = self.bounded_rows(f"SELECT {select} FROM {source} LIMIT {EXAMPLES}")
        if rows is None:
            return None
        examples = tuple(tuple(r) for r in rows) if shown else ()
        if len(rows) < EXAMPLES:
            return len(rows), examples, shown
        count = self.bounded_rows(f"SELECT COUNT(*) FROM {source}")
        if count is None:
            return None
        return int(count[0][0]), examples, shown

    def primary_key(self, table: str) -> list[str]:
        try:
            return (
                sa.inspect(self.live).get_pk_constraint(table)["constrained_columns"]
                or []
            )
        except sa.exc.SQLAlchemyError:
            return []


_INT_RANGES = {
    "TINYINT": 8,
    "SMALLINT": 16,
    "MEDIUMINT": 24,
    "INT": 32,
    "BIGINT": 64,
}
_STRING_LENGTHS = {
    "CHAR": None,
    "VARCHAR": None,
    "BINARY": None,
    "VARBINARY": None,
    "TINYTEXT": 255,
    "TEXT": 65_535,
    "MEDIUMTEXT": 16_777_215,
    "LONGTEXT": 4_294_967_295,
    "TINYBLOB": 255,
    "BLOB": 65_535,
    "MEDIUMBLOB": 16_777_215,
    "LONGBLOB": 4_294_967_295,
}


def _int_range(type_: ColumnType) -> tuple[int, int]:
    bits = _INT_RANGES[type_.name]
    if type_.unsigned:
        return 0, 2**bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def _string_length(type_: ColumnType) -> int:
    fixed = _STRING_LENGTHS[type_.name]
    if fixed is not None:
        return fixed
    if type_.args and type_.args[0].isdigit():
        return int(type_.args[0])
    return 1  # CHAR without a length


def _decimal(type_: ColumnType) -> tuple[int, int]:
    args = [int(a) for a in type_.args if a.isdigit()]
    precision = args[0] if args else 10
    scale = args[1] if len(args) > 1 else 0
    return precision, scale


_FAMILIES = (
    {"DATE", "DATETIME", "TIMESTAMP"},
    {"FLOAT", "DOUBLE", "REAL"},
)


def _same_family(old: ColumnType, new: ColumnType) -> bool:
    """A change that cannot lose values: the same type with other options,
    a wider date/time or floating type."""
    if old.name == new.name and old.name not in ("ENUM", "SET", "DECIMAL"):
        return old.args == new.args or old.name in (
            "FLOAT",
            "DOUBLE",
            "DATETIME",
            "TIMESTAMP",
            "TIME",
        )
    if old.name == "DATE" and new.name in ("DATETIME", "TIMESTAMP"):
        return new.name == "DATETIME"
    if old.name == "FLOAT" and new.name == "DOUBLE":
        return True
    return False


def _zero_value(type_: ColumnType) -> str:
    """What MariaDB/MySQL fill in for a NOT NULL column added without a
    default (the type's implicit default)."""
    if type_.name in _INT_RANGES or type_.name in ("DECIMAL", "FLOAT", "DOUBLE", "BIT"):
        return "0"
    if type_.name == "ENUM" and type_.args:
        return _sql_string(type_.args[0])
    if type_.name == "DATE":
        return "'0000-00-00'"
    if type_.name in ("DATETIME", "TIMESTAMP"):
        return "'0000-00-00 00:00:00'"
    if type_.name == "TIME":
        return "'00:00:00'"
    if type_.name == "YEAR":
        return "0000"
    return "''"


def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _lock_class(algorithm: str, lock: str | None) -> str:
    if algorithm == "INSTANT":
        return INSTANT
    if algorithm == "COPY":
        return COPY
    return IN_PLACE_WRITES_ALLOWED if lock == "NONE" else IN_PLACE_WRITES_BLOCKED


def _sqlite_lock(parsed: ParsedStatement) -> LockImpact:
    """SQLite: adding a column or renaming changes only the schema; a
    batch rebuild copies the table; building an index reads it, and any
    write holds the database's one write lock until it commits."""
    if parsed.kind == "batch_copy":
        return LockImpact(COPY, "COPY")
    if parsed.kind == "dml":
        return LockImpact(ROWS)
    if parsed.kind in ("create_table", "other"):
        return LockImpact(NONE)
    if parsed.kind in ("drop_table", "rename_table"):
        return LockImpact(INSTANT)
    kinds = {a.kind for a in parsed.actions}
    if kinds <= {"add_column", "rename_column", "rename_table", "drop_index"}:
        return LockImpact(INSTANT)
    if kinds <= {"add_index", "add_unique"}:
        return LockImpact(IN_PLACE_WRITES_BLOCKED, "INPLACE")
    return LockImpact(UNKNOWN, reason="not a change SQLite makes in place")


def _counter() -> Callable[[], int]:
    """0, 1, 2, … to whichever thread asks first."""
    lock, numbers = threading.Lock(), itertools.count()

    def claim() -> int:
        with lock:
            return next(numbers)

    return claim


def _wait_for(futures: list[Future]) -> None:
    for future in futures:
        future.exception()  # waits; the error is the statement's to raise


def _connect(engine: Engine) -> Connection:
    # Autocommit: no read keeps a metadata lock while preflight goes on.
    return engine.connect().execution_options(isolation_level="AUTOCOMMIT")


def _exec(conn: Connection, sql: str):
    """Run SQL as written: a driver with the "format" paramstyle (PyMySQL)
    would read its % signs (LIKE 'a%') as placeholders."""
    if conn.dialect.paramstyle in ("format", "pyformat"):
        sql = sql.replace("%", "%%")
    return conn.exec_driver_sql(sql)


def _message(exc: sa.exc.SQLAlchemyError) -> str:
    """The server's own words for an error (PyMySQL's is a (code, text)
    pair)."""
    args = getattr(getattr(exc, "orig", None), "args", ())
    if len(args) == 2 and isinstance(args[0], int):
        return f"{args[1]} ({args[0]})"
    return error_line(exc)


def _error_code(exc: sa.exc.DBAPIError) -> int | None:
    args = getattr(exc.orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def sample_rows(live_rows: int) -> int:
    """How many of a table's rows its sample holds (see SAMPLE_ROWS)."""
    return min(max(SAMPLE_ROWS, live_rows // SAMPLE_FRACTION), SAMPLE_ROWS_MAX)


def _without_auto_increment(ddl: str) -> str:
    return re.sub(r" AUTO_INCREMENT=\d+", "", ddl)


def _without_foreign_keys(ddl: str) -> str:
    lines = ddl.splitlines()
    kept = [line for line in lines if "FOREIGN KEY" not in line]
    # The line before a removed last constraint may end with a comma now
    # followed by the closing parenthesis.
    text = "\n".join(kept)
    return re.sub(r",\n\)", "\n)", text)


@contextmanager
def _sqlite_deadline(conn: Connection, seconds: float) -> Iterator[None]:
    """SQLite has no statement time limit: interrupt the query from its
    progress handler once `seconds` have passed."""
    if conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.dbapi_connection
    deadline = time.monotonic() + seconds
    raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        yield
    finally:
        raw.set_progress_handler(None, 0)


# --- Metadata-lock blockers ------------------------------------------------------


def _open_transactions(conn: Connection, after_s: int) -> list:
    return conn.execute(
        sa.text(
            "SELECT t.trx_mysql_thread_id, p.USER, p.HOST, p.DB, "
            "TIMESTAMPDIFF(SECOND, t.trx_started, NOW()), p.STATE, p.INFO "
            "FROM information_schema.INNODB_TRX t "
            "LEFT JOIN information_schema.PROCESSLIST p "
            "ON p.ID = t.trx_mysql_thread_id "
            "WHERE t.trx_started < NOW() - INTERVAL :after SECOND "
            "AND t.trx_mysql_thread_id <> CONNECTION_ID() "
            "ORDER BY t.trx_started"
        ),
        {"after": after_s},
    ).all()


def possible_blockers(
    conn: Connection, after_s: int = BLOCKER_AFTER_S
) -> tuple[list[Blocker], str | None]:
    """Transactions open longer than `after_s` seconds (other than
    this connection's): an ALTER's metadata lock waits for them to end, and
    every later query on the table queues behind it. The tables they hold
    come from performance_schema.metadata_locks, which needs
    performance_schema on; otherwise the second value says why they cannot
    be named."""
    try:
        rows = _open_transactions(conn, after_s)
    except sa.exc.DBAPIError as exc:
        return [], f"open transactions cannot be listed ({_message(exc)})"
    tables: dict[int, tuple[str, ...]] | None = None
    why = None
    if _exec(conn, "SELECT @@performance_schema").scalar():
        try:
            held = _exec(
                conn,
                "SELECT OWNER_THREAD_ID, OBJECT_SCHEMA, OBJECT_NAME "
                "FROM performance_schema.metadata_locks "
                "WHERE OBJECT_TYPE = 'TABLE'",
            ).all()
            threads = dict(
                _exec(
                    conn,
                    "SELECT THREAD_ID, PROCESSLIST_ID FROM performance_schema.threads",
                ).all()
            )
            tables = {}
            for thread, schema, name in held:
                owner = threads.get(thread)
                if owner is not None:
                    tables[owner] = tables.get(owner, ()) + (f"{schema}.{name}",)
        except sa.exc.DBAPIError as exc:
            why = f"performance_schema.metadata_locks cannot be read ({_message(exc)})"
    else:
        why = (
            "performance_schema is off on this server, so the tables they hold "
            "cannot be named"
        )
    blockers = [
        Blocker(
            int(r[0]),
            r[1],
            r[2],
            r[3],
            int(r[4] or 0),
            r[5],
            r[6],
            tables.get(int(r[0]), ()) if tables is not None else None,
        )
        for r in rows
    ]
    return blockers, why


# --- Kept results (the console's plan page) ---------------------------------------


def result_json(result: Preflight) -> dict:
    """The preflight as JSON-ready data, each step with its verdict; the
    values of examples as text where JSON has no type for them (dates)."""
    data = asdict(result)
    for step_data, step in zip(data["steps"], result.steps, strict=True):
        step_data["verdict"] = step.verdict
    data["will_fail"] = result.will_fail
    return json.loads(json.dumps(data, default=str))


def result_from_json(data: dict) -> Preflight:
    """A kept preflight back as a Preflight (for its words)."""

    def finding(f: dict) -> Finding:
        fields = dict(f)
        for key in ("columns", "example_columns"):
            fields[key] = tuple(fields.get(key) or ())
        fields["examples"] = tuple(tuple(e) for e in fields.get("examples") or ())
        return Finding(**fields)

    steps = []
    for s in data.get("steps", []):
        statements = [
            StatementPreflight(
                st["index"],
                st["sql"],
                st["kind"],
                list(st["tables"]),
                LockImpact(**st["lock"]),
                [TableSize(**size) for size in st.get("sizes", [])],
                st.get("estimate_s"),
                [finding(f) for f in st.get("findings", [])],
            )
            for st in s["statements"]
        ]
        steps.append(
            StepPreflight(
                s["revision"], s["direction"], statements, s.get("rehearsal_error")
            )
        )
    blockers = [
        Blocker(**{**b, "tables": tuple(b["tables"]) if b["tables"] else b["tables"]})
        for b in data.get("blockers", [])
    ]
    return Preflight(
        data["dialect"],
        steps,
        blockers,
        data.get("blockers_unnamed_reason"),
        data.get("lock_unknown_reason"),
        data.get("time_limit_s", DEFAULT_TIME_LIMIT_S),
        data.get("blocker_after_s", BLOCKER_AFTER_S),
        data.get("elapsed_s", 0.0),
    )


def overall_verdict(result: Preflight) -> str:
    verdicts = {step.verdict for step in result.steps}
    for verdict in ("fails", "blocks_writes", "unknown"):
        if verdict in verdicts:
            return verdict
    return "safe"


def record_result(
    connection: Connection,
    result: Preflight,
    *,
    start: tuple[str, ...],
    target: str,
    direction: str,
    checked_by: str,
    job_id: int | None = None,
) -> None:
    """Keep the preflight of the plan from `start` for the plan page (in
    Headway's own tables, when they are set up; the caller commits)."""
    table = PreflightResult.__table__
    if not sa.inspect(connection).has_table(table.name):
        return
    connection.execute(
        sa.insert(table).values(
            checked_at=utcnow(),
            checked_by=checked_by[:255],
            job_id=job_id,
            # Sorted: the stamp's heads in any order are the same start.
            from_revisions=",".join(sorted(start)),
            target=target[:255],
            direction=direction,
            steps=",".join(step.revision for step in result.steps),
            verdict=overall_verdict(result),
            result=json.dumps(result_json(result)),
        )
    )


def newest_result(
    connection: Connection,
    start: tuple[str, ...],
    direction: str,
    revisions: list[str],
) -> PreflightResult | None:
    """The newest kept preflight of the plan from `start` through
    `revisions` (in `direction`); None when there is none (or no table)."""
    table = PreflightResult.__table__
    try:
        row = connection.execute(
            sa.select(table)
            .where(
                table.c.from_revisions == ",".join(sorted(start)),
                table.c.direction == direction,
                table.c.steps == ",".join(revisions),
            )
            .order_by(table.c.id.desc())
            .limit(1)
        ).first()
    except sa.exc.SQLAlchemyError:
        if connection.in_transaction():
            connection.rollback()
        return None
    if row is None:
        return None
    return PreflightResult(**row._asdict())
