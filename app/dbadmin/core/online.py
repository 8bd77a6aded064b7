"""Online schema changes: the statements that would block writes to a table
for as long as MariaDB/MySQL copy or rebuild it run through
pt-online-schema-change (Percona Toolkit) instead.

The statement executor (core/executor.py) asks `OnlineRouter.decide` about
each DDL statement of a run with `--online` (or on a table at least
`HEADWAY_ONLINE_MIN_ROWS` rows large): preflight's lock impact, asked of the
server on an empty scratch copy of the table (core/preflight.py
`lock_impacts`), says whether the server would copy it or rebuild it with
writes blocked. Such a statement goes to pt-osc; every other one runs on the
server as usual.

pt-osc copies the table into `_<table>_new` in chunks while triggers on the
table carry every write over, then swaps the two by RENAME. What Headway adds
around it:

- the credentials in an option file (mode 0600, `F=` in its DSN), never on
  its command line, where `ps` and the job log would show the password;
- its progress (rows, percentage, time left) in the job log;
- throttling from configuration (`--max-load`, `--critical-load`) and
  replica lag checks when replicas are configured;
- a cancel sends it SIGTERM (it drops its triggers and copy and exits), and
  so does the death of the Headway process that started it;
- the foreign keys of the altered table come back with their own names (pt-osc
  renames them `_name`): dropped and added again under foreign_key_checks=0
  with ALGORITHM=INPLACE, LOCK=NONE, which changes metadata only;
- a run cut off half-way (pt-osc killed) leaves its triggers and helper
  tables: `leftovers` finds them, and a rollback drops the triggers first
  (they keep writing into the copy until then), then the helper tables.

What pt-osc cannot do is refused before the run starts (`refusal`): SQLite,
a table without a primary or unique key, a RENAME, a NOT NULL column added
without a default, a new unique key (its copy would drop duplicate rows
silently), a dropped primary key, a table with triggers of its own, and a
table that other tables' foreign keys reference (pt-osc would have to
rebuild or drop their keys).
"""

import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from app.dbadmin.core.ddl import ParsedStatement, parse_statement
from app.dbadmin.core.online_leftovers import leftovers
from app.errors import HeadwayError

logger = logging.getLogger("headway.executor.online")

TOOL = "pt-online-schema-change"
INSTALL = (
    "install Percona Toolkit: `apt-get install percona-toolkit` on Debian and "
    "Ubuntu (other systems: https://docs.percona.com/percona-toolkit/), or "
    "set HEADWAY_PT_OSC to the program's path"
)
# pt-osc's own defaults, made explicit (and configurable).
DEFAULT_MAX_LOAD = "Threads_running=25"
DEFAULT_CRITICAL_LOAD = "Threads_running=50"

# pt-osc's lines not worth a line of the job log: its retry table, and the
# replicas it did not look for (--recursion-method none).
_QUIET = ("  ", "Operation, tries", "No slaves found", "Not checking slave lag")
_PROGRESS = re.compile(r"Copying `[^`]+`\.`([^`]+)`:\s+(\d+)% (\S+) remain")


class OnlineUnavailable(HeadwayError):
    """--online cannot run here (SQLite, or pt-osc is not installed)."""


class OnlineRefused(HeadwayError):
    """pt-osc cannot make this change; nothing was run."""


class OnlineFailed(HeadwayError):
    """pt-osc stopped without making the change."""


@dataclass
class OnlineSettings:
    """How online runs go (configuration: config.py's HEADWAY_ONLINE_*)."""

    enabled: bool = False  # --online, a console choice, "online": true
    # Online without being asked, for a table with at least this many rows.
    min_rows: int | None = None
    max_load: str = DEFAULT_MAX_LOAD
    critical_load: str = DEFAULT_CRITICAL_LOAD
    # None: no replicas (pt-osc looks for none); "auto": pt-osc finds them
    # (processlist, hosts); else one replica's DSN (h=host,P=port) to watch.
    replicas: str | None = None
    max_lag: float = 1.0
    chunk_time: float = 0.5
    progress_seconds: int = 5
    path: str | None = None  # the program (default: found on PATH)

    @classmethod
    def from_config(cls, config, enabled: bool = False) -> "OnlineSettings":
        min_rows = config.get("ONLINE_MIN_ROWS")
        return cls(
            enabled=enabled,
            min_rows=int(min_rows) if min_rows not in (None, "") else None,
            max_load=config.get("ONLINE_MAX_LOAD") or DEFAULT_MAX_LOAD,
            critical_load=config.get("ONLINE_CRITICAL_LOAD") or DEFAULT_CRITICAL_LOAD,
            replicas=config.get("ONLINE_REPLICAS") or None,
            max_lag=float(config.get("ONLINE_MAX_LAG") or 1.0),
            chunk_time=float(config.get("ONLINE_CHUNK_TIME") or 0.5),
            progress_seconds=int(config.get("ONLINE_PROGRESS_SECONDS") or 5),
            path=config.get("PT_OSC") or None,
        )

    @property
    def active(self) -> bool:
        return self.enabled or self.min_rows is not None

    def program(self) -> str:
        """The path of pt-osc; OnlineUnavailable (how to install it) when
        it is missing."""
        found = shutil.which(self.path or TOOL)
        if found is None:
            where = f" ({self.path})" if self.path else ""
            raise OnlineUnavailable(
                f"an online change needs {TOOL}, which is not installed{where}: "
                f"{INSTALL}"
            )
        return found


def tool_label(program: str) -> str:
    """'pt-online-schema-change 3.2.1': what the journal and audit record."""
    try:
        out = subprocess.run(
            [program, "--version"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return TOOL
    found = re.search(r"(\d+\.\d+\.\d+)", out)
    return f"{TOOL} {found.group(1)}" if found else TOOL


def require_online(dialect: str, settings: OnlineSettings) -> str:
    """Refuse --online where it cannot work, before anything runs; the
    program's path otherwise."""
    if dialect != "mysql":
        raise OnlineUnavailable(
            "online changes work on MySQL/MariaDB only: SQLite rebuilds a table in "
            "one transaction that no other writer can share, and pt-osc does "
            "not drive SQLite; run the change plainly (not online)"
        )
    return settings.program()


# --- What pt-osc cannot do -------------------------------------------------------


def alter_clauses(parsed: ParsedStatement) -> str:
    """The statement as pt-osc's --alter (an ALTER TABLE's clauses without
    `ALTER TABLE name`; CREATE/DROP INDEX as the matching clause)."""
    clauses = []
    for action in parsed.actions:
        if action.kind == "option":
            continue  # ALGORITHM=/LOCK=: pt-osc chooses how it copies
        if action.text.upper().startswith(("CREATE", "DROP INDEX")):
            if action.kind == "drop_index":
                clauses.append(f"DROP INDEX {_quote(action.name)}")
                continue
            unique = "UNIQUE " if action.kind == "add_unique" else ""
            columns = ", ".join(
                _quote(c) + (f"({p})" if p else "")
                for c, p in zip(action.columns, action.prefixes, strict=True)
            )
            clauses.append(f"ADD {unique}INDEX {_quote(action.name)} ({columns})")
            continue
        clauses.append(action.text)
    return ", ".join(clauses)


def refusal(conn, parsed: ParsedStatement) -> str | None:
    """Why pt-osc cannot make this change (None: it can). `conn` reads the
    live table (information_schema)."""
    table = parsed.table
    for action in parsed.actions:
        if action.kind in ("rename_table", "rename_column") or (
            action.kind == "modify_column"
            and action.definition is not None
            and action.column is not None
            and action.definition.name.lower() != action.column.lower()
        ):
            return (
                f"{table}: it renames ({action.text}); pt-osc copies the "
                "columns by name, so a renamed column's values would be lost"
            )
        if (
            action.kind == "add_column"
            and action.definition is not None
            and action.definition.not_null
            and not action.definition.has_default
            and not action.definition.auto_increment
        ):
            return (
                f"{table}: it adds the NOT NULL column {action.definition.name} "
                "without a default; the triggers pt-osc copies writes with "
                "would fail every insert. Give the column a default"
            )
        if action.kind == "drop_primary_key":
            return (
                f"{table}: it drops the primary key, which pt-osc's triggers "
                "find the copied rows by"
            )
        if action.kind in ("add_unique", "add_primary_key"):
            return (
                f"{table}: it adds a unique key ({action.text}); pt-osc's copy "
                "(INSERT IGNORE) would drop duplicate rows silently"
            )
        if action.kind == "unknown":
            return f"{table}: a clause Headway cannot read ({action.text})"
    rows = conn.exec_driver_sql(
        "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE "
        "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND NON_UNIQUE = 0",
        (table,),
    ).scalar()
    if not rows:
        return (
            f"{table} has no primary or unique key; pt-osc needs one to copy "
            "it in chunks and to carry deletes over"
        )
    parents = [
        r[0]
        for r in conn.exec_driver_sql(
            "SELECT DISTINCT TABLE_NAME FROM information_schema.KEY_COLUMN_USAGE "
            "WHERE REFERENCED_TABLE_SCHEMA = DATABASE() "
            "AND REFERENCED_TABLE_NAME = %s AND TABLE_NAME <> %s "
            "ORDER BY TABLE_NAME",
            (table, table),
        )
    ]
    if parents:
        return (
            f"{table} is referenced by the foreign keys of {', '.join(parents)}; "
            "pt-osc would have to rebuild or drop their keys "
            "(--alter-foreign-keys-method), which Headway does not do. Run "
            "this step plainly (not online) in a quiet hour (writes to "
            f"{table} wait for the copy), or change the child tables' keys "
            "in a revision of their own"
        )
    triggers = conn.exec_driver_sql(
        "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE "
        "EVENT_OBJECT_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = %s",
        (table,),
    ).scalar()
    if triggers:
        return f"{table} has triggers of its own; pt-osc needs its own there"
    return None


# --- The run ------------------------------------------------------------------------


@dataclass
class Decision:
    """A statement the executor hands to pt-osc."""

    table: str
    alter: str  # pt-osc's --alter
    lock: str  # preflight's lock impact (copy, in_place_writes_blocked)
    rows: int | None  # the table's rows (the server's estimate)


class OnlineRouter:
    """The executor's hook (see the module's docstring)."""

    def __init__(self, engine, settings: OnlineSettings) -> None:
        self.engine = engine
        self.settings = settings
        self.program = settings.program() if settings.enabled else None
        self._label: str | None = None

    @property
    def label(self) -> str:
        if self._label is None:
            self._label = tool_label(self.program or self.settings.program())
        return self._label

    def decide(self, sql: str) -> Decision | None:
        """The statement goes to pt-osc (a Decision), or to the server."""
        parsed = parse_statement(sql)
        if parsed.kind != "alter" or not parsed.table:
            return None
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT TABLE_ROWS FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
                (parsed.table,),
            ).scalar()
            if rows == 0:  # the statistics' estimate: is it really empty?
                rows = int(_has_rows(conn, parsed.table, 0))
        if not rows:
            # Not there, or empty (a table the run made): nothing to copy,
            # no write to block; the server runs it.
            return None
        if not self.settings.enabled and rows < (self.settings.min_rows or 0):
            return None  # below the threshold: not asked for (no scratch copy)
        # (Imported here: preflight loads the rehearsal and the scratch
        # databases, which a run without --online never needs.)
        from app.dbadmin.core.preflight import BLOCKS_WRITES, lock_impacts

        impact = lock_impacts(self.engine, [sql])[0]
        if impact.kind not in BLOCKS_WRITES:
            return None
        with self.engine.connect() as conn:
            why = refusal(conn, parsed)
        if why and not self.settings.enabled:
            # Online by the row threshold, not asked for: the server runs it,
            # as it would without the threshold (the guards said so first).
            logger.warning("online: %s; the server runs it (writes blocked)", why)
            return None
        if why:
            raise OnlineRefused(
                f"refusing to run online: {why}; the statement was not run"
            )
        if self.program is None:
            try:
                self.program = self.settings.program()
            except OnlineUnavailable as exc:
                if self.settings.enabled:
                    raise
                logger.warning("online: %s; the server runs it (writes blocked)", exc)
                return None
        return Decision(parsed.table, alter_clauses(parsed), impact.kind, rows)

    def run(
        self,
        cursor,
        decision: Decision,
        cancel_requested: Callable[[], bool],
    ) -> None:
        """pt-osc makes the change; the table's foreign keys get their own
        names back. Raises OnlineFailed (or the executor's Cancelled, via
        `cancelled`) when it did not finish."""
        url = self.engine.url
        before_ddl = _create_table(cursor, decision.table)
        before = _foreign_keys(cursor, decision.table)
        logger.info(
            "online: %s changes %s (~%s rows) with `%s`: the server would %s",
            self.label,
            decision.table,
            f"{decision.rows:,}" if decision.rows is not None else "?",
            decision.alter,
            "copy it with writes blocked"
            if decision.lock == "copy"
            else "rebuild it in place with writes blocked",
        )
        with _option_file(url) as option_file:
            args = self._arguments(decision, option_file, url.database)
            process = subprocess.Popen(
                args,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                # pt-osc stops (and cleans up) when Headway dies.
                preexec_fn=_die_with_parent,
            )
            output: list[str] = []
            reader = threading.Thread(
                target=self._follow, args=(process, decision, output), daemon=True
            )
            reader.start()
            cancelled = False
            while process.poll() is None:
                if not cancelled and cancel_requested():
                    cancelled = True
                    logger.info("online: cancel: sending SIGTERM to %s", TOOL)
                    process.send_signal(signal.SIGTERM)
                time.sleep(0.2)
            reader.join(timeout=5)
            process.stdout.close()
        if cancelled:
            # pt-osc 3.2.1 leaves its triggers and copy behind when it is
            # interrupted ("Not dropping triggers because the tool was
            # interrupted"): a cancel is ours, so Headway drops them now,
            # the triggers first.
            dropped = drop_leftovers(cursor, decision.table)
            from app.dbadmin.core.executor import Cancelled

            if _create_table(cursor, decision.table) == before_ddl:
                raise Cancelled(
                    f"cancelled during the online change of {decision.table}: "
                    f"{TOOL} stopped, {len(dropped)} trigger(s) and helper "
                    "table(s) it left were dropped; the table is as it was"
                )
            # It had swapped the tables already: the change is made (the
            # executor stops before the next statement).
            logger.info("online: the change was made before the cancel")
        elif process.returncode != 0:
            last = next(
                (line for line in reversed(output) if line.strip()),
                f"exit {process.returncode}",
            )
            raise OnlineFailed(
                f"{TOOL} stopped (exit {process.returncode}) before the change "
                f"of {decision.table} was made: {last.strip()}"
            )
        renamed = restore_foreign_key_names(cursor, decision.table, before)
        if renamed:
            logger.info(
                "online: %s's foreign keys have their names back: %s",
                decision.table,
                ", ".join(renamed),
            )

    def _arguments(self, decision: Decision, option_file: str, database: str):
        settings = self.settings
        args = [
            self.program or settings.program(),
            "--alter",
            decision.alter,
            "--execute",
            "--max-load",
            settings.max_load,
            "--critical-load",
            settings.critical_load,
            "--chunk-time",
            str(settings.chunk_time),
            "--progress",
            f"time,{settings.progress_seconds}",
            # Its own DDL (triggers, swap) waits briefly for a metadata lock
            # and tries again, like the executor's.
            "--set-vars",
            "lock_wait_timeout=5",
        ]
        if settings.replicas is None:
            args += ["--recursion-method", "none"]
        elif settings.replicas != "auto":
            replica = settings.replicas
            if "F=" not in replica:
                replica += f",F={option_file}"
            args += ["--check-slave-lag", replica]
        if settings.replicas is not None:
            args += ["--max-lag", str(settings.max_lag)]
        args.append(f"F={option_file},D={database},t={decision.table}")
        return args

    def _follow(self, process, decision: Decision, output: list[str]) -> None:
        """pt-osc's lines into the log: the progress with rows and time left."""
        for line in process.stdout:
            line = line.rstrip()
            output.append(line)
            found = _PROGRESS.search(line)
            if found:
                percent = int(found.group(2))
                rows = (
                    f" (~{decision.rows * percent // 100:,} of ~{decision.rows:,} rows)"
                    if decision.rows
                    else ""
                )
                logger.info(
                    "online: copying %s: %d%%%s, %s left",
                    found.group(1),
                    percent,
                    rows,
                    found.group(3),
                )
            elif line.strip() and not line.startswith(_QUIET):
                logger.info("online: %s", re.sub(r"^\S+T\S+ ", "", line))


def _die_with_parent() -> None:
    """In pt-osc's process: SIGTERM when its parent dies (Linux)."""
    with contextlib.suppress(Exception):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@contextlib.contextmanager
def _option_file(url):
    """The connection's credentials in a [client] option file only this
    user can read, removed afterwards."""
    fd, path = tempfile.mkstemp(prefix="headway-ptosc-", suffix=".cnf")
    try:
        os.fchmod(fd, 0o600)
        lines = ["[client]"]
        if url.username:
            lines.append(f"user={_option_value(url.username)}")
        lines.append(f"password={_option_value(url.password or '')}")
        lines.append(f"host={url.host or 'localhost'}")
        if url.port:
            lines.append(f"port={url.port}")
        socket = url.query.get("unix_socket")
        if socket:
            lines.append(f"socket={socket}")
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines) + "\n")
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _option_value(value: str) -> str:
    # Option files read quoted values with backslash escapes.
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- Foreign key names ---------------------------------------------------------------

_FK_LINE = re.compile(r"^\s*CONSTRAINT `((?:[^`]|``)+)` (FOREIGN KEY .*?),?$", re.M)


def _create_table(cursor, table: str) -> str:
    reader = cursor.connection.cursor()
    try:
        reader.execute(f"SHOW CREATE TABLE {_quote(table)}")
        return re.sub(r" AUTO_INCREMENT=\d+", "", reader.fetchone()[1])
    finally:
        reader.close()


def drop_leftovers(cursor, table: str) -> list[str]:
    """Drop what a pt-osc run cut off left for `table` (triggers first)."""
    reader = cursor.connection.cursor()
    try:
        statements = leftovers(_RawConnection(reader), table)
        for sql in statements:
            reader.execute(sql)
        return statements
    finally:
        reader.close()


class _RawConnection:
    """exec_driver_sql over a DBAPI cursor (for `leftovers` inside the
    executor, which works at the driver's level)."""

    def __init__(self, cursor) -> None:
        self.cursor = cursor

    def exec_driver_sql(self, sql: str, params=None):
        self.cursor.execute(sql, params)
        return _Rows(self.cursor.fetchall())


class _Rows(list):
    def scalar(self):
        return self[0][0] if self else None


def _foreign_keys(cursor, table: str) -> dict[str, str]:
    """{name: 'FOREIGN KEY (...) REFERENCES ...'} of the table now."""
    ddl = _create_table(cursor, table)
    return {m.group(1).replace("``", "`"): m.group(2) for m in _FK_LINE.finditer(ddl)}


def restore_foreign_key_names(cursor, table: str, before: dict[str, str]) -> list[str]:
    """pt-osc names the copy's foreign keys `_name` (a constraint name is
    unique in a database): each gets its own name back, dropped and added
    again with the checks off, which MariaDB does in place without a copy
    and without blocking writes. Returns the names put back."""
    now = _foreign_keys(cursor, table)
    clauses, names = [], []
    for name, definition in now.items():
        original = name.lstrip("_")
        if name != original and original in before and original not in now:
            clauses.append(f"DROP FOREIGN KEY {_quote(name)}")
            clauses.append(f"ADD CONSTRAINT {_quote(original)} {definition}")
            names.append(original)
    if not clauses:
        return []
    cursor.execute("SET SESSION foreign_key_checks = 0")
    try:
        cursor.execute(
            f"ALTER TABLE {_quote(table)} {', '.join(clauses)}, "
            "ALGORITHM=INPLACE, LOCK=NONE"
        )
    finally:
        cursor.execute("SET SESSION foreign_key_checks = 1")
    return names


def _quote(name: str | None) -> str:
    return "`" + (name or "").replace("`", "``") + "`"


# --- Before the run ------------------------------------------------------------------


@dataclass
class OnlinePlan:
    """What an online run will hand to pt-osc, found before it starts."""

    routed: list[str]  # "REV statement N: ALTER ... (copy)", one per statement
    refusals: list[str]  # why pt-osc cannot make some of them


def plan_online(
    engine, catalog, start, target: str, direction: str, min_rows: int | None = None
) -> OnlinePlan:
    """The run's statements (from a rehearsal in a scratch copy of the
    schema), their lock impact as the server answers it, and for those
    that go to pt-osc (all, or with `min_rows`: those on tables at least
    that large), whether it can make them. Reads only."""
    from app.dbadmin.core.preflight import BLOCKS_WRITES, lock_impacts
    from app.dbadmin.core.rehearsal import rehearse

    rehearsal = rehearse(engine, catalog, tuple(start), target, direction)
    numbered = [
        (step.revision, i, statement.sql)
        for step in rehearsal.steps
        for i, statement in enumerate(step.statements, 1)
    ]
    impacts = lock_impacts(engine, [sql for _, _, sql in numbered])
    plan = OnlinePlan([], [])
    with engine.connect() as conn:
        existing = {
            r[0]: r[1] or 0
            for r in conn.exec_driver_sql(
                "SELECT TABLE_NAME, TABLE_ROWS FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = DATABASE()"
            )
        }
        for (revision, position, sql), impact in zip(numbered, impacts, strict=True):
            if impact.kind not in BLOCKS_WRITES:
                continue
            parsed = parse_statement(sql)
            if parsed.table not in existing or not _has_rows(
                conn, parsed.table, existing[parsed.table]
            ):
                continue  # new or empty: the server runs it (as decide() does)
            if min_rows is not None and existing[parsed.table] < min_rows:
                continue
            where = f"{revision} statement {position}"
            why = refusal(conn, parsed)
            if why:
                plan.refusals.append(f"{where}: {why}")
            else:
                plan.routed.append(
                    f"{where} ({parsed.table}, {impact.kind.replace('_', ' ')}): "
                    f"{' '.join(sql.split())}"
                )
    return plan


def _has_rows(conn, table: str, estimate: int) -> bool:
    if estimate:
        return True
    return bool(conn.exec_driver_sql(f"SELECT 1 FROM {_quote(table)} LIMIT 1").all())


def refusal_text(plan: OnlinePlan) -> str:
    lines = [
        "refusing to run online: pt-online-schema-change cannot make "
        "these changes; nothing was run."
    ]
    lines += [f"  - {r}" for r in plan.refusals]
    lines.append(
        "Run it plainly, not online (writes to those tables wait for the "
        "change), or change the revision."
    )
    return "\n".join(lines)


@contextlib.contextmanager
def showing_progress():
    """The CLI: the online run's lines (pt-osc's progress) on stderr."""
    import sys

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    # Once: not again through the root logger Alembic's logging.ini sets up.
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
