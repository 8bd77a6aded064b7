"""A rehearsal: the pending steps run for real in a scratch database that
has the live schema (no rows), through the statement executor, to learn every
statement each step sends: Alembic's operations, `op.execute` and
`op.get_bind().execute` alike. Preflight, the data-loss guard and `flask db
resume` read a plan's statements from here.

What a rehearsal cannot know: a revision whose Python code reads rows (the
scratch tables are empty) may send other statements on the live database.
The lint names such revisions (`data_dependent`).
"""

import re
from dataclasses import dataclass

import sqlalchemy as sa
from alembic.runtime.environment import EnvironmentContext
from sqlalchemy.engine import Connection, Engine

from app.dbadmin.core.alembic_env import (
    ALEMBIC_LOCK,
    USER_VERSION_TABLE,
    alembic_config,
    downgrade_steps,
    inside_a_running_migration,
    quiet_alembic,
    upgrade_steps,
)
from app.dbadmin.core.catalog import Catalog
from app.dbadmin.core.executor import StatementExecutor
from app.dbadmin.core.journal import MemoryJournal
from app.dbadmin.core.scratch import scratch_engine
from app.errors import HeadwayError, error_line
from app.models.own import TABLE_PREFIX


@dataclass(frozen=True)
class Statement:
    sql: str
    params: tuple | dict | None = None


@dataclass
class RehearsedStep:
    revision: str
    direction: str  # "upgrade" | "downgrade"
    statements: list[Statement]


@dataclass
class Rehearsal:
    steps: list[RehearsedStep]
    # The step that failed in the scratch database too (it will fail live),
    # with the server's message; its statements up to the failing one are
    # in `steps`.
    error: str | None = None


def rehearse(
    engine: Engine,
    catalog: Catalog,
    start: tuple[str, ...],
    target: str,
    direction: str,
    *,
    tables: dict[str, str | None] | None = None,
) -> Rehearsal:
    """Run the steps from `start` to `target` in a scratch copy of the live
    schema, and return each step's statements. `tables` replaces the copy of
    some tables with the given CREATE TABLE statements (None: absent), e.g.
    a partial step's before-image."""
    with scratch_engine(engine) as scratch:
        with scratch.connect() as conn:
            copy_schema(engine, conn, tables or {})
            _stamp(conn, start)
            conn.commit()
            journal = MemoryJournal()
            executor = StatementExecutor(conn, journal)
            error = None
            try:
                with executor:
                    _run(conn, catalog, executor, target, direction)
            except HeadwayError:
                raise
            except Exception as exc:  # the revision fails here too
                error = error_line(exc, with_type=True)
            sent = {(s.revision, s.direction): s.statements for s in journal.steps}
            steps = []
            # Every planned step, those that send nothing included.
            for planned in executor.planned:
                info = planned.info
                key = (
                    info.up_revision_id or "",
                    "upgrade" if info.is_upgrade else "downgrade",
                )
                statements = [Statement(s.sql, s.params) for s in sent.get(key, [])]
                steps.append(RehearsedStep(*key, statements))
    return Rehearsal(steps, error)


def _run(conn, catalog, executor, target, direction) -> None:
    config = alembic_config(
        connection=conn,
        configure_logger=False,
        on_version_apply=executor.on_version_apply,
        attach_to_context=executor.attach,
    )
    script = catalog.script

    def steps(rev, context):
        if direction == "upgrade":
            return upgrade_steps(script, target, rev)
        return downgrade_steps(script, target, rev)

    with (
        ALEMBIC_LOCK,
        quiet_alembic(),
        inside_a_running_migration(),
        EnvironmentContext(
            config,
            script,
            fn=steps,
            destination_rev=target,
        ),
    ):
        script.run_env()
    conn.commit()


def _stamp(conn: Connection, revisions: tuple[str, ...]) -> None:
    if not revisions:
        return
    conn.exec_driver_sql(
        f"CREATE TABLE {USER_VERSION_TABLE} (version_num VARCHAR(32) NOT NULL, "
        f"CONSTRAINT {USER_VERSION_TABLE}_pkc PRIMARY KEY (version_num))"
    )
    for revision in revisions:
        conn.execute(
            sa.text(f"INSERT INTO {USER_VERSION_TABLE} VALUES (:r)"), {"r": revision}
        )


def _user_object(name: str) -> bool:
    return not (
        name.startswith(TABLE_PREFIX)
        or name == USER_VERSION_TABLE
        or name.startswith("sqlite_")
    )


_DEFINER = re.compile(
    r"^CREATE\s+(?:ALGORITHM=\w+\s+)?(?:DEFINER=\S+\s+)?(?:SQL SECURITY \w+\s+)?VIEW",
    re.IGNORECASE,
)


def copy_schema(live: Engine, scratch: Connection, tables: dict[str, str | None]):
    """The live schema's tables and views, without rows, in `scratch`
    (`tables` overrides some tables' definitions)."""
    with live.connect() as conn:
        if live.dialect.name == "mysql":
            objects = _mysql_objects(conn)
        else:
            objects = _sqlite_objects(conn)
    created = set()
    if scratch.dialect.name == "mysql":
        scratch.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
    views = []
    for kind, name, ddl in objects:
        if kind == "view":
            views.append(ddl)
            continue
        if kind == "table" and name in tables:
            ddl = tables[name]
            created.add(name)
            if ddl is None:
                continue
        scratch.exec_driver_sql(ddl)
    for name, ddl in tables.items():
        if name not in created and ddl is not None:
            scratch.exec_driver_sql(ddl)
    _create_views(scratch, views)
    if scratch.dialect.name == "mysql":
        scratch.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1")


def _create_views(scratch: Connection, views: list[str]) -> None:
    """Views in an order that works: a view over another view waits for it."""
    while views:
        postponed = []
        for ddl in views:
            try:  # (SQLite creates a view over a missing table: no retry)
                scratch.exec_driver_sql(ddl)
            except sa.exc.DBAPIError:
                postponed.append(ddl)
        if len(postponed) == len(views):
            scratch.exec_driver_sql(postponed[0])  # raises: the server says why
        views = postponed


def _mysql_objects(conn: Connection) -> list[tuple[str, str, str]]:
    rows = conn.exec_driver_sql("SHOW FULL TABLES").all()
    tables, views = [], []
    for name, kind in rows:
        if not _user_object(name):
            continue
        if kind == "VIEW":
            ddl = conn.exec_driver_sql(f"SHOW CREATE VIEW `{name}`").one()[1]
            views.append(("view", name, _DEFINER.sub("CREATE VIEW", ddl)))
        else:
            ddl = conn.exec_driver_sql(f"SHOW CREATE TABLE `{name}`").one()[1]
            tables.append(("table", name, ddl))
    return tables + views


def _sqlite_objects(conn: Connection) -> list[tuple[str, str, str]]:
    rows = conn.exec_driver_sql(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL"
    ).all()
    order = {"table": 0, "index": 1, "view": 2, "trigger": 3}
    found = [
        (kind, name, sql)
        for kind, name, sql in rows
        if _user_object(name) and kind in order
    ]
    # An index or trigger belongs to its table: named by the table's prefix.
    found = [
        f
        for f in found
        if f[0] in ("table", "view") or _user_object(_sqlite_table_of(conn, f[1]))
    ]
    return sorted(found, key=lambda f: order[f[0]])


def _sqlite_table_of(conn: Connection, name: str) -> str:
    return (
        conn.exec_driver_sql(
            "SELECT tbl_name FROM sqlite_master WHERE name = ?", (name,)
        ).scalar()
        or name
    )
