"""The home page, /admin/: which database this is, where its schema stands,
the last job, change and drift check, its tables' sizes, and the way to each
area. A handful of small reads: no table is counted at the real size."""

from dataclasses import dataclass

import sqlalchemy as sa
from flask_admin import expose

from app.auth.admin_views import SecureIndexView
from app.dbadmin.core.alembic_env import USER_VERSION_TABLE
from app.dbadmin.core.sqlite_file import sqlite_file_state
from app.dbadmin.web.overview import overview, recent_audit, recent_jobs
from app.employees.counting import SMALL_TABLE
from app.employees.history import recent_changes
from app.extensions import db
from app.models.own import TABLE_PREFIX
from app.navigation import database_name

# SQLite keeps no row statistics; counting every table of a file this small
# takes a few milliseconds (the 10,000-employee demo: 8 MB, 3 to 25 ms on a
# shared machine): done when the file has changed since the last count only.
SQLITE_COUNT_MAX_BYTES = 16 * 1024 * 1024
# The database file -> (its state when counted, the counts).
_sqlite_counts: dict[str, tuple[tuple, dict[str, int]]] = {}


@dataclass
class TableSize:
    name: str
    rows: int | None  # None: unknown
    estimated: bool


def server_description(engine: sa.Engine) -> tuple[str, str]:
    """(dialect, server version), from what the driver learnt on connecting."""
    dialect = engine.dialect
    name = "MariaDB" if getattr(dialect, "is_mariadb", False) else dialect.name
    name = {"mysql": "MySQL", "sqlite": "SQLite"}.get(name, name)
    info = dialect.server_version_info or ()
    return name, ".".join(str(part) for part in info if isinstance(part, int))


def _is_users(name: str) -> bool:
    return not (name.startswith(TABLE_PREFIX) or name == USER_VERSION_TABLE)


def table_sizes(engine: sa.Engine) -> list[TableSize]:
    """The user's tables and their rows: MySQL's statistics (estimates), or
    on SQLite an exact count when the file is small, else unknown."""
    with engine.connect() as conn:
        if engine.dialect.name == "mysql":
            rows = conn.execute(
                sa.text(
                    "SELECT TABLE_NAME, TABLE_ROWS FROM information_schema.TABLES "
                    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' "
                    "ORDER BY TABLE_NAME"
                )
            )
            sizes = [TableSize(n, r, True) for n, r in rows if _is_users(n)]
            # A small table is counted exactly ("9", not "~8" departments):
            # below SMALL_TABLE rows a count reads one index in milliseconds.
            small = [t.name for t in sizes if (t.rows or 0) < SMALL_TABLE]
            if small:
                exact = _count_rows(conn, engine, small)
                for size in sizes:
                    if size.name in exact:
                        size.rows, size.estimated = exact[size.name], False
            return sizes
        if engine.dialect.name != "sqlite":
            return []
        names = [
            n
            for n in conn.execute(
                sa.text(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ).scalars()
            if _is_users(n)
        ]
        size = conn.exec_driver_sql("PRAGMA page_count").scalar() * (
            conn.exec_driver_sql("PRAGMA page_size").scalar()
        )
        if size > SQLITE_COUNT_MAX_BYTES or not names:
            return [TableSize(n, None, False) for n in names]
        path = engine.url.database
        state = sqlite_file_state(path)
        kept = _sqlite_counts.get(path)
        if state is not None and kept is not None and kept[0] == state:
            counts = kept[1]
        else:
            counts = _count_rows(conn, engine, names)
            if state is not None:
                _sqlite_counts[path] = (state, counts)
        return [TableSize(n, counts.get(n), False) for n in names]


def _count_rows(conn, engine: sa.Engine, names: list[str]) -> dict[str, int]:
    quote = engine.dialect.identifier_preparer.quote
    return dict(
        conn.execute(
            sa.text(
                " UNION ALL ".join(
                    f"SELECT :n{i}, count(*) FROM {quote(n)}"
                    for i, n in enumerate(names)
                )
            ),
            {f"n{i}": n for i, n in enumerate(names)},
        ).all()
    )


class HomeView(SecureIndexView):
    @expose("/")
    def index(self):
        view = overview()
        database = view.database
        context = {"view": view, "database": database}
        if database.reachable:
            jobs, audit = recent_jobs(), recent_audit()
            last_change = audit[0] if audit else None
            context.update(
                last_job=jobs[0] if jobs else None,
                last_change=last_change,
                drift=view.drift_status.state,
                tables=table_sizes(db.engine),
                recent_changes=recent_changes(),
            )
        dialect, version = server_description(db.engine)
        return self.render(
            "admin/index.html",
            database_name=database_name(),
            dialect=dialect,
            server_version=version,
            **context,
        ), (200 if database.reachable else 503)
