"""The statement executor: the one path every statement of a migration step
takes, on the live database and in a rehearsal alike.

Alembic and a revision's own code (`op.execute`, `op.get_bind().execute`)
send their statements through SQLAlchemy; the executor sits where SQLAlchemy
hands a statement to the driver (the `do_execute` dialect events), for the
migrating connection only, and for each statement that changes the schema or
the data:

- checks the cancel checkpoint first (a cancelled run stops between
  statements, never inside one);
- keeps the before-image of each table the step touches (`SHOW CREATE
  TABLE`, or the SQLite schema row) before the step's first statement on it;
- records the statement in the journal before it is sent and when it ends;
- on MySQL/MariaDB, runs DDL under a short `lock_wait_timeout` and retries a
  bounded number of times, so that an ALTER waiting for a metadata lock
  behind an open transaction gives up instead of queueing every other query
  on the table behind it for as long as that transaction lasts;
- in an online run (`--online`, core/online.py), hands a statement that the
  server would run as a table copy, or in place with writes blocked, to
  pt-online-schema-change instead of the server; the journal records which
  tool ran it.

Reads (SELECT, SHOW, PRAGMA, ...) and the bookkeeping of Alembic and Headway
(`alembic_version`, `headway_*`) pass straight through.

MySQL/MariaDB commit each DDL statement on its own: a step that fails after
one of them leaves the database between two revisions. The journal says
exactly which statements ran, and the step run is recorded as partial
(core/journal.py), which every surface shows until `flask db rollback` or
`flask db resume` settles it. SQLite runs a step in one transaction: a failed
step leaves nothing behind.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import event
from sqlalchemy.engine import Connection

from app.dbadmin.core.alembic_env import watch_steps
from app.dbadmin.core.ddl import changes_something, is_ddl, tables_touched
from app.dbadmin.core.restore import strip_auto_increment
from app.errors import HeadwayError

logger = logging.getLogger("headway.executor")

# MySQL's "Lock wait timeout exceeded": here, a DDL statement that waited
# lock_wait_timeout seconds for a metadata lock.
LOCK_WAIT_TIMEOUT = 1205


class Cancelled(HeadwayError):
    """The run was cancelled; it stopped between two statements."""


@dataclass
class ExecutorSettings:
    """How DDL waits for a metadata lock on MySQL/MariaDB (`flask db -x
    ddl_lock_timeout=SECONDS -x ddl_lock_retries=N upgrade`). Not to be
    confused with `lock_wait`: the wait for Headway's own migration lock."""

    ddl_lock_timeout: int = 5
    ddl_lock_retries: int = 3

    @classmethod
    def from_x_arguments(cls, arguments: dict[str, str]) -> "ExecutorSettings":
        settings = cls()
        for name in ("ddl_lock_timeout", "ddl_lock_retries"):
            if name not in arguments:
                continue
            value = arguments[name]
            if not value.isdigit():
                raise HeadwayError(
                    f"-x {name}={value}: expected a whole number of "
                    + ("seconds (1 or more)" if name == "ddl_lock_timeout" else "tries")
                )
            setattr(settings, name, int(value))
        if settings.ddl_lock_timeout < 1:
            raise HeadwayError("-x ddl_lock_timeout must be 1 second or more")
        return settings


@dataclass
class RunStatement:
    """A statement of the step running now, as the journal records it."""

    position: int
    sql: str
    params: object = None  # as the driver got them (None: none)
    outcome: str = "running"  # ok, failed, rolled_back
    error: str | None = None
    duration_ms: int | None = None
    ddl: bool = False
    record_id: int | None = None  # the journal's row, once written
    online_tool: str | None = None  # the tool that ran it online, if one did


@dataclass
class RunningStep:
    """The step whose statements are going through the executor."""

    revision: str
    direction: str
    from_revisions: tuple[str, ...]
    before_image: dict[str, str | None] = field(default_factory=dict)
    statements: list[RunStatement] = field(default_factory=list)
    run_id: int | None = None  # the journal's row, once written
    # The partial run a rollback or resume settles.
    settles: int | None = None
    # The positions in the step of the statements to come (a resume's: the
    # rest of the step); by default 1, 2, ...
    positions: list[int] | None = None

    @property
    def applied(self) -> list[RunStatement]:
        return [s for s in self.statements if s.outcome == "ok"]

    @property
    def online_tool(self) -> str | None:
        """The tool that ran some of the step's statements online."""
        return next((s.online_tool for s in self.statements if s.online_tool), None)


class StatementExecutor:
    """Follows one Alembic run on `connection` (see the module's docstring).

    `journal` receives the steps and statements (core/journal.py writes them
    to Headway's tables; a rehearsal keeps them in memory). `cancel_requested`
    is the cancel checkpoint, asked before every statement."""

    def __init__(
        self,
        connection: Connection,
        journal,
        settings: ExecutorSettings | None = None,
        cancel_requested: Callable[[], bool] | None = None,
        online=None,
    ) -> None:
        self.connection = connection
        self.journal = journal
        self.settings = settings or ExecutorSettings()
        self.cancel_requested = cancel_requested or (lambda: False)
        self.mysql = connection.dialect.name == "mysql"
        # core/online.py's OnlineRouter, for a run that may go online.
        self.online = online if self.mysql else None
        self.planned: list = []
        self.done = 0
        self.step: RunningStep | None = None
        self._saved_lock_wait_timeout: int | None = None

    # --- wiring --------------------------------------------------------------

    def attach(self, migration_context) -> None:
        """Learn the run's steps from Alembic (to name the one running)."""
        watch_steps(migration_context, self._planned)

    def _planned(self, steps: list) -> None:
        self.planned = steps

    def __enter__(self) -> "StatementExecutor":
        engine = self.connection.engine
        event.listen(engine, "do_execute", self._do_execute)
        event.listen(engine, "do_execute_no_params", self._do_execute_no_params)
        if self.mysql:
            self._saved_lock_wait_timeout = self.connection.exec_driver_sql(
                "SELECT @@SESSION.lock_wait_timeout"
            ).scalar()
            self.connection.exec_driver_sql(
                f"SET SESSION lock_wait_timeout = {int(self.settings.ddl_lock_timeout)}"
            )
        return self

    def __exit__(self, *exc_info) -> None:
        engine = self.connection.engine
        event.remove(engine, "do_execute", self._do_execute)
        event.remove(engine, "do_execute_no_params", self._do_execute_no_params)
        if (
            self._saved_lock_wait_timeout is not None
            and not self.connection.invalidated
        ):
            try:
                self.connection.exec_driver_sql(
                    f"SET SESSION lock_wait_timeout = {self._saved_lock_wait_timeout}"
                )
            except Exception:  # noqa: BLE001 - the connection is gone: so is the setting
                pass

    # --- Alembic's hooks -------------------------------------------------------

    def on_version_apply(self, ctx, step, heads, run_args) -> None:
        """A step ended well (inside its transaction, before the commit)."""
        if self.step is not None:
            self.journal.step_applied(self.step, self.connection)
        self.step = None
        self.done += 1

    def record_failure(self, exc: BaseException) -> RunningStep | None:
        """After a step failed and Alembic rolled its transaction back: what
        it left applied. Returns the step (None when none had begun)."""
        step, self.step = self.step, None
        if step is None:
            return None
        if not self.mysql:
            # SQLite: the step's transaction took all of it back.
            for statement in step.statements:
                if statement.outcome == "ok":
                    statement.outcome = "rolled_back"
        else:
            # MySQL commits before and after each DDL statement: the data
            # statements after the last DDL one were rolled back.
            last_ddl = max((s.position for s in step.statements if s.ddl), default=0)
            for statement in step.statements:
                if statement.outcome == "ok" and statement.position > last_ddl:
                    statement.outcome = "rolled_back"
        self.journal.step_failed(step, exc)
        return step

    # --- the statements --------------------------------------------------------

    def _do_execute(self, cursor, statement, parameters, context):
        return self._run(cursor, statement, parameters, context)

    def _do_execute_no_params(self, cursor, statement, context):
        return self._run(cursor, statement, None, context)

    def _run(self, cursor, sql, parameters, context) -> bool:
        """True when the statement ran here; False to let SQLAlchemy run it."""
        if context.root_connection is not self.connection:
            return False
        if not changes_something(sql):
            return False
        if self.cancel_requested():
            raise Cancelled("cancelled before the next statement; nothing more was run")
        step = self._running_step(cursor)
        decision = None
        if self.online is not None and is_ddl(sql):
            # Before the statement is on record: a refusal runs nothing.
            decision = self.online.decide(sql)
        position = step.positions.pop(0) if step.positions else len(step.statements) + 1
        statement = RunStatement(position, sql, parameters, ddl=is_ddl(sql))
        if decision is not None:
            statement.online_tool = self.online.label
        for table in tables_touched(sql):
            if table not in step.before_image:
                step.before_image[table] = self._table_image(cursor, table)
        step.statements.append(statement)
        if not self.mysql and not cursor.connection.in_transaction:
            # pysqlite begins a transaction only before INSERT, UPDATE and
            # DELETE: DDL would commit on its own, and a failed step leave
            # its first statements applied. Begun here, the step's whole
            # transaction takes them back.
            cursor.execute("BEGIN")
        self.journal.statement_started(step, statement)
        started = time.monotonic()
        try:
            if decision is not None:
                # The server commits the open transaction before DDL; pt-osc
                # works on connections of its own, so commit it here (and
                # release the step's own metadata locks, which its swap
                # would wait for).
                cursor.execute("COMMIT")
                self.online.run(cursor, decision, self.cancel_requested)
            else:
                self._execute_with_retry(cursor, sql, parameters, statement)
        except Exception as exc:
            statement.outcome = "failed"
            statement.error = _driver_message(exc)
            statement.duration_ms = int((time.monotonic() - started) * 1000)
            self.journal.statement_ended(step, statement)
            raise
        statement.outcome = "ok"
        statement.duration_ms = int((time.monotonic() - started) * 1000)
        self.journal.statement_ended(step, statement)
        return True

    def _execute_with_retry(self, cursor, sql, parameters, statement) -> None:
        tries = 1 + (self.settings.ddl_lock_retries if statement.ddl else 0)
        for attempt in range(1, tries + 1):
            try:
                if parameters is None:
                    cursor.execute(sql)
                else:
                    cursor.execute(sql, parameters)
                return
            except Exception as exc:
                if not (
                    self.mysql and statement.ddl and _code(exc) == LOCK_WAIT_TIMEOUT
                ):
                    raise
                if attempt == tries:
                    raise DdlLockTimeout(
                        f"statement {statement.position} waited "
                        f"{self.settings.ddl_lock_timeout} s for a metadata lock "
                        f"{tries} time(s) and gave up: a transaction holds the "
                        "table open (see `flask db preflight` for long-open "
                        "transactions)"
                    ) from exc
                logger.warning(
                    "statement %d waited %d s for a metadata lock (a transaction "
                    "holds the table open); trying again (%d of %d)",
                    statement.position,
                    self.settings.ddl_lock_timeout,
                    attempt + 1,
                    tries,
                )
                time.sleep(min(attempt, 3))

    def _running_step(self, cursor) -> RunningStep:
        if self.step is None:
            planned = self.planned[self.done] if self.done < len(self.planned) else None
            info = getattr(planned, "info", None) if planned is not None else None
            if info is not None:
                revision = info.up_revision_id or ""
                direction = "upgrade" if info.is_upgrade else "downgrade"
            else:
                revision, direction = "", "upgrade"
            self.step = RunningStep(revision, direction, self._stamped(cursor))
            self.journal.step_started(self.step, self.connection)
        return self.step

    def _stamped(self, cursor) -> tuple[str, ...]:
        reader = cursor.connection.cursor()
        try:
            reader.execute("SELECT version_num FROM alembic_version")
            return tuple(sorted(row[0] for row in reader.fetchall()))
        except Exception:  # noqa: BLE001 - no version table yet: base
            return ()
        finally:
            reader.close()

    def _table_image(self, cursor, table: str) -> str | None:
        """The table as it is now (None when it does not exist)."""
        reader = cursor.connection.cursor()
        try:
            if self.mysql:
                try:
                    reader.execute(f"SHOW CREATE TABLE `{table}`")
                except Exception:  # noqa: BLE001 - 1146: not there (yet)
                    return None
                row = reader.fetchone()
                return strip_auto_increment(row[1]) if row else None
            reader.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                (table,),
            )
            row = reader.fetchone()
            return row[0] if row else None
        finally:
            reader.close()


class DdlLockTimeout(HeadwayError):
    """A DDL statement gave up waiting for a metadata lock."""


def _code(exc: BaseException) -> int | None:
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _driver_message(exc: BaseException) -> str:
    args = getattr(exc, "args", ())
    if len(args) == 2 and isinstance(args[0], int):
        return f"({args[0]}) {args[1]}"
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
