"""What a pt-online-schema-change run cut off half-way leaves behind: its
triggers (they keep writing into the copy until they are dropped) and its
helper tables.

A leaf module apart from core/online.py, which runs pt-osc with preflight's
lock impact: the journal reads these leftovers when it reports a partial
step, and the journal sits below preflight.
"""


def helper_names(database: str, table: str) -> tuple[list[str], list[str]]:
    """The triggers and tables pt-osc makes for `table` (3.x naming)."""
    triggers = [f"pt_osc_{database}_{table}_{op}" for op in ("ins", "upd", "del")]
    return triggers, [f"_{table}_new", f"_{table}_old"]


def leftovers(conn, table: str) -> list[str]:
    """The statements that drop what a pt-osc run cut off left behind for
    `table`: its triggers first (they keep writing into the copy until they
    go), then its helper tables. Empty when nothing was left."""
    database = conn.exec_driver_sql("SELECT DATABASE()").scalar()
    triggers, tables = helper_names(database, table)
    found_triggers = {
        r[0]
        for r in conn.exec_driver_sql(
            "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS "
            "WHERE TRIGGER_SCHEMA = DATABASE()"
        )
    }
    found_tables = {
        r[0]
        for r in conn.exec_driver_sql(
            "SELECT TABLE_NAME FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE()"
        )
    }
    return [
        f"DROP TRIGGER IF EXISTS {_quote(t)}" for t in triggers if t in found_triggers
    ] + [f"DROP TABLE IF EXISTS {_quote(t)}" for t in tables if t in found_tables]


def _quote(name: str | None) -> str:
    return "`" + (name or "").replace("`", "``") + "`"
