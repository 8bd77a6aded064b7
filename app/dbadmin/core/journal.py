"""The step journal (headway_step_runs, headway_step_statements): every step
run on the live database, its before-image and each statement, written by the
statement executor (core/executor.py) as they happen, and the partial state
read back from it.

On MySQL/MariaDB the journal is written on a connection of its own, committed
at once: a statement is on record before it is sent, and a killed process
leaves its record behind. On SQLite a step is one transaction, and a failed
one leaves nothing behind; its record is written with it (or after its
rollback), on the migrating connection (SQLite allows one writer).
"""

import json
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from app.clock import utcnow
from app.dbadmin.core.executor import RunningStep, RunStatement
from app.dbadmin.core.lock import mysql_lock_name
from app.errors import error_line
from app.models.console import StepRun, StepStatement

RUNS = StepRun.__table__
STATEMENTS = StepStatement.__table__

# A step run that left the database between two revisions.
UNSETTLED = ("partial", "running")  # also in app/dbadmin/cli.py (_ANY_UNSETTLED_RUN)


class Journal:
    """Writes one run's steps to Headway's tables (see the module's docstring)."""

    def __init__(
        self,
        engine: Engine,
        connection: Connection,
        actor: str,
        job_id: int | None = None,
        action: str | None = None,
    ) -> None:
        self.engine = engine
        self.connection = connection
        self.actor = actor
        self.job_id = job_id
        self.action = action  # None: the step's direction
        self.mysql = connection.dialect.name == "mysql"
        inspector = sa.inspect(connection)
        self.enabled = inspector.has_table(RUNS.name)
        # Before `flask headway init` reaches 0010, the column is not there.
        self.has_online_tool = self.enabled and "online_tool" in {
            c["name"] for c in inspector.get_columns(STATEMENTS.name)
        }
        self._side: Connection | None = None

    # --- where the rows go -----------------------------------------------------

    def _writer(self) -> Connection:
        if not self.mysql:
            return self.connection
        if self._side is None or self._side.closed:
            self._side = self.engine.connect()
        return self._side

    def _commit(self, conn: Connection) -> None:
        if conn is not self.connection:
            conn.commit()

    def close(self) -> None:
        if self._side is not None:
            self._side.close()
            self._side = None

    # --- the executor's calls ----------------------------------------------------

    def step_started(self, step: RunningStep, connection: Connection) -> None:
        if self.enabled and self.mysql:
            self._insert_run(step, "running")

    def statement_started(self, step: RunningStep, statement: RunStatement) -> None:
        if not (self.enabled and self.mysql):
            return
        conn = self._writer()
        # The before-image first: it must be on record before the statement.
        conn.execute(
            sa.update(RUNS)
            .where(RUNS.c.id == step.run_id)
            .values(before_image=json.dumps(step.before_image))
        )
        tool = {"online_tool": statement.online_tool} if self.has_online_tool else {}
        statement.record_id = conn.execute(
            sa.insert(STATEMENTS).values(
                step_run_id=step.run_id,
                position=statement.position,
                sql_text=statement.sql,
                outcome="running",
                started_at=utcnow(),
                **tool,
            )
        ).inserted_primary_key[0]
        self._commit(conn)

    def statement_ended(self, step: RunningStep, statement: RunStatement) -> None:
        if not (self.enabled and self.mysql):
            return
        conn = self._writer()
        self._update_statement(conn, statement)
        self._commit(conn)

    def step_applied(self, step: RunningStep, connection: Connection) -> None:
        if not self.enabled:
            return
        if self.mysql:
            conn = self._writer()
            conn.execute(
                sa.update(RUNS)
                .where(RUNS.c.id == step.run_id)
                .values(status="applied", ended_at=utcnow())
            )
            self._commit(conn)
        else:
            # Inside the step's transaction: committed with it.
            self._insert_run(step, "applied", ended=True)
            self._insert_statements(step)

    def step_failed(self, step: RunningStep, exc: BaseException) -> None:
        if not self.enabled:
            return
        applied = any(s.outcome == "ok" for s in step.statements)
        if not applied and self.mysql:
            # An online statement cut off may have left its triggers and
            # helper tables behind: the database is partial all the same.
            applied = bool(self._online_leftovers(step))
        # A failed rollback leaves the step it settles partial: a second one
        # starts again from what is there. A failed resume continues that
        # step's run, which had applied statements already: still partial.
        if self.action == "resume":
            status = "partial"
        else:
            status = "partial" if applied and self.action != "rollback" else "failed"
        error = error_line(exc, with_type=True)
        try:
            if self.mysql:
                conn = self._writer()
                for statement in step.statements:
                    self._update_statement(conn, statement)
                conn.execute(
                    sa.update(RUNS)
                    .where(RUNS.c.id == step.run_id)
                    .values(status=status, error=error, ended_at=utcnow())
                )
                conn.commit()
            else:
                self.connection.rollback()
                self._insert_run(step, status, ended=True, error=error)
                self._insert_statements(step)
                self.connection.commit()
        except sa.exc.SQLAlchemyError:
            pass  # the database is gone: the statement rows already say it

    def _online_leftovers(self, step: RunningStep) -> list[str]:
        cut_off = [
            JournalStatement(s.position, s.sql, s.outcome, s.error, s.online_tool)
            for s in step.statements
            if s.online_tool and s.outcome == "failed"
        ]
        if not cut_off:
            return []
        try:
            return online_leftovers(self._writer(), cut_off)
        except sa.exc.SQLAlchemyError:
            return []

    # --- rows ------------------------------------------------------------------

    def _insert_run(self, step: RunningStep, status: str, ended=False, error=None):
        conn = self._writer()
        now = utcnow()
        step.run_id = conn.execute(
            sa.insert(RUNS).values(
                action=self.action or step.direction,
                revision=step.revision,
                direction=step.direction,
                from_revisions=",".join(step.from_revisions),
                status=status,
                before_image=json.dumps(step.before_image),
                error=error,
                actor=self.actor,
                job_id=self.job_id,
                settles=step.settles,
                started_at=now,
                ended_at=now if ended else None,
            )
        ).inserted_primary_key[0]
        self._commit(conn)

    def _insert_statements(self, step: RunningStep) -> None:
        conn = self._writer()
        for statement in step.statements:
            conn.execute(
                sa.insert(STATEMENTS).values(
                    step_run_id=step.run_id,
                    position=statement.position,
                    sql_text=statement.sql,
                    outcome=statement.outcome,
                    error=statement.error,
                    started_at=utcnow(),
                    duration_ms=statement.duration_ms,
                )
            )

    def _update_statement(self, conn: Connection, statement: RunStatement) -> None:
        if statement.record_id is None:
            return
        conn.execute(
            sa.update(STATEMENTS)
            .where(STATEMENTS.c.id == statement.record_id)
            .values(
                outcome=statement.outcome,
                error=statement.error,
                duration_ms=statement.duration_ms,
            )
        )


class MemoryJournal:
    """A journal that keeps each step's statements in memory: a rehearsal's."""

    def __init__(self) -> None:
        self.steps: list[RunningStep] = []

    def step_started(self, step: RunningStep, connection: Connection) -> None:
        self.steps.append(step)

    def statement_started(self, step, statement) -> None:
        pass

    def statement_ended(self, step, statement) -> None:
        pass

    def step_applied(self, step, connection) -> None:
        pass

    def step_failed(self, step, exc) -> None:
        pass


# --- The partial state -----------------------------------------------------------


@dataclass
class JournalStatement:
    position: int
    sql: str
    outcome: str
    error: str | None
    online_tool: str | None = None  # the tool that ran it online


@dataclass
class PartialStep:
    """A step that stopped half-way: some statements applied, the rest not."""

    run_id: int
    revision: str
    direction: str
    from_revisions: tuple[str, ...]
    before_image: dict[str, str | None]
    statements: list[JournalStatement]
    error: str | None
    started_at: datetime
    actor: str
    job_id: int | None
    interrupted: bool = False  # the process died (no failure was recorded)
    # What an online run cut off left behind (core/online.py leftovers): the
    # statements that drop its triggers, then its helper tables.
    leftovers: list[str] = field(default_factory=list)

    @property
    def applied(self) -> list[JournalStatement]:
        return [s for s in self.statements if s.outcome == "ok"]

    @property
    def failed(self) -> JournalStatement | None:
        return next(
            (s for s in self.statements if s.outcome in ("failed", "running")), None
        )

    def summary(self) -> str:
        """'0900_x failed at statement 3; 1 and 2 applied: …; not applied: …'"""
        applied = self.applied
        numbers = [str(s.position) for s in applied]
        listed = (
            " and ".join(numbers)
            if len(numbers) <= 2
            else ", ".join(numbers[:-1]) + " and " + numbers[-1]
        )
        failed = self.failed
        if self.interrupted:
            where = (
                f"was interrupted at statement {failed.position}"
                if failed
                else f"was interrupted after statement {applied[-1].position}"
            )
        else:
            where = f"failed at statement {failed.position}" if failed else "failed"
        if failed is not None and failed.online_tool:
            where += f" (run online by {failed.online_tool})"
        text = f"{self.revision} ({self.direction}) {where}; " + (
            f"{listed} applied: " + "; ".join(short_sql(s.sql) for s in applied)
            if applied
            else "none of its statements applied"
        )
        if failed is not None:
            text += f". Not applied: {short_sql(failed.sql)}"
            if failed.error:
                text += f": {failed.error}"
        if self.leftovers:
            text += (
                f". The online run left its triggers and helper tables behind "
                f"({len(self.leftovers)} to drop, triggers first)"
            )
        return text + "."


def short_sql(sql: str, limit: int = 120) -> str:
    one_line = " ".join(sql.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


_UNSETTLED_RUN = (
    sa.select(RUNS)
    .where(RUNS.c.status.in_(UNSETTLED))
    .order_by(RUNS.c.id.desc())
    .limit(1)
)


def read_partial(conn: Connection, holding_lock: bool = False) -> PartialStep | None:
    """The step run that left the database between two revisions, if any:
    one that failed after some of its statements applied, or one whose
    process died while it ran (its run stays "running" with the migration
    lock free, or held by the caller: `holding_lock`). MySQL/MariaDB only:
    SQLite cannot be left half-way.
    Raises SQLAlchemyError when the journal's table does not exist."""
    if conn.dialect.name != "mysql":
        return None
    run = conn.execute(_UNSETTLED_RUN).first()
    if run is None:
        return None
    interrupted = run.status == "running"
    if interrupted and not holding_lock:
        name = mysql_lock_name(conn)
        free = conn.execute(sa.text("SELECT IS_FREE_LOCK(:n)"), {"n": name}).scalar()
        if free != 1:
            return None  # it is running now
    statements = [
        JournalStatement(r.position, r.sql_text, r.outcome, r.error, r.online_tool)
        for r in conn.execute(
            sa.select(STATEMENTS)
            .where(STATEMENTS.c.step_run_id == run.id)
            .order_by(STATEMENTS.c.position)
        )
    ]
    partial = PartialStep(
        run_id=run.id,
        revision=run.revision,
        direction=run.direction,
        from_revisions=tuple(r for r in run.from_revisions.split(",") if r),
        before_image=json.loads(run.before_image or "{}"),
        statements=statements,
        error=run.error,
        started_at=run.started_at,
        actor=run.actor,
        job_id=run.job_id,
        interrupted=interrupted,
    )
    partial.leftovers = online_leftovers(conn, statements)
    if not partial.applied and not partial.leftovers:
        return None  # it died before its first statement committed
    return partial


def online_leftovers(conn: Connection, statements: list[JournalStatement]) -> list[str]:
    """The statements that drop what an online statement cut off left behind
    (core/online.py): triggers that still copy writes, half-made tables."""
    from app.dbadmin.core.ddl import parse_statement
    from app.dbadmin.core.online_leftovers import leftovers

    found: list[str] = []
    for statement in statements:
        if statement.online_tool and statement.outcome in ("failed", "running"):
            table = parse_statement(statement.sql).table
            if table:
                found += [sql for sql in leftovers(conn, table) if sql not in found]
    return found


def retry_failed(journal: Journal, run_id: int) -> None:
    """A resume runs the failed statement again: the old failure is history."""
    if not (journal.enabled and journal.mysql):
        return
    conn = journal._writer()
    conn.execute(
        sa.update(STATEMENTS)
        .where(STATEMENTS.c.step_run_id == run_id)
        .where(STATEMENTS.c.outcome.in_(("failed", "running", "rolled_back")))
        .values(outcome="retried")
    )
    conn.commit()


def settle(conn: Connection, run_id: int, status: str) -> None:
    """Mark a partial run settled (rolled_back or resumed)."""
    conn.execute(
        sa.update(RUNS)
        .where(RUNS.c.id == run_id)
        .values(status=status, ended_at=utcnow())
    )
