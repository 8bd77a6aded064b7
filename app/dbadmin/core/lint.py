"""Destructive-change lint: what in a step can lose data or fail on a real
table, found in the operations Alembic performs (recorded while the step is
rendered offline) and in the revision's source."""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class Operation:
    name: str
    args: tuple
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class LintWarning:
    """One finding: its kind (`code`), the table and column it is about when
    it is about one, and a sentence for people. Code that needs to know what a
    warning is about reads the fields, never the sentence."""

    revision: str
    code: str
    message: str
    table: str | None = None
    column: str | None = None


_BATCH_TEMP = "_alembic_tmp_"
_DATA_SQL = re.compile(r"^\s*(UPDATE|DELETE|INSERT|REPLACE|MERGE)\b", re.IGNORECASE)
_READS_DATABASE = re.compile(r"\bget_bind\s*\(|\.connection\b|\bsession\b")


def lint_step(
    engine: Engine,
    revision: str,
    direction: str,
    operations: list[Operation],
    source_path: Path,
) -> list[LintWarning]:
    """What in one step (`revision` applied in `direction`, performing
    `operations`, written in `source_path`) can lose data or fail."""
    found: list[LintWarning] = []

    def warn(
        code: str, message: str, table: str | None = None, column: str | None = None
    ) -> None:
        found.append(LintWarning(revision, code, message, table, column))

    ops = operations
    dropped_columns: dict[str, list] = {}
    added_columns: dict[str, list] = {}
    for op in ops:
        handler = _RULES.get(op.name)
        if handler:
            handler(engine, op, warn)
        if op.name == "drop_column":
            dropped_columns.setdefault(op.args[0], []).append(op.args[1])
        elif op.name == "add_column":
            added_columns.setdefault(op.args[0], []).append(op.args[1])
    for table, dropped in dropped_columns.items():
        for old in dropped:
            for new in added_columns.get(table, []):
                if _type_family(old.type) == _type_family(new.type):
                    warn(
                        "rename_as_drop_add",
                        f"{table}.{old.name} is dropped and {table}.{new.name} "
                        f"added with the same kind of type: if this is a rename, "
                        f"the data in {old.name} is lost (use alter_column "
                        "with new_column_name)",
                        table,
                        old.name,
                    )
    _lint_source(source_path, direction, warn)
    return found


def _table_name(obj) -> str:
    return getattr(obj, "name", str(obj))


def _drop_table(engine, op, warn):
    name = _table_name(op.args[0])
    if name.startswith(_BATCH_TEMP):
        return
    warn("drop_table", f"drops table {name} and every row in it", name)


def _drop_column(engine, op, warn):
    table, column = op.args[0], op.args[1]
    warn(
        "drop_column",
        f"drops column {table}.{column.name} and its data",
        table,
        column.name,
    )


def _alter_column(engine, op, warn):
    # A narrower type and NOT NULL on a column holding NULLs are preflight's
    # (core/preflight.py): it counts the values that do not fit, on the live
    # data, rather than warning that some might.
    table, column = op.args[0], op.args[1]
    if op.kwargs.get("name"):
        warn(
            "rename_column",
            f"renames {table}.{column} to {op.kwargs['name']}: code using the old "
            "name breaks",
            table,
            column,
        )


def _drop_index(engine, op, warn):
    index = op.args[0]
    table = index.table.name if index.table is not None else None
    columns = [c.name for c in index.columns] or None
    if table is None:
        return
    try:
        inspector = sa.inspect(engine)
        fks = inspector.get_foreign_keys(table)
        indexes = inspector.get_indexes(table)
        pk = inspector.get_pk_constraint(table).get("constrained_columns") or []
    except sa.exc.SQLAlchemyError:
        return
    if columns is None:
        columns = next(
            (i["column_names"] for i in indexes if i["name"] == index.name), []
        )
    others = [i["column_names"] for i in indexes if i["name"] != index.name] + [pk]
    for fk in fks:
        needed = fk["constrained_columns"]
        if columns[: len(needed)] == needed and not any(
            o[: len(needed)] == needed for o in others
        ):
            warn(
                "drops_fk_index",
                f"drops index {index.name} that foreign key "
                f"{fk.get('name') or ''} on {table}({', '.join(needed)}) relies on: "
                "MySQL refuses it unless the key goes first",
                table,
            )


def _drop_constraint(engine, op, warn):
    constraint = op.args[0]
    kind = type(constraint).__name__.replace("Constraint", "").lower() or "key"
    table = constraint.table.name if constraint.table is not None else "?"
    warn(
        "drop_constraint",
        f"drops {kind} key {constraint.name} on {table}",
        constraint.table.name if constraint.table is not None else None,
    )


def _rename_table(engine, op, warn):
    old, new = op.args[0], op.args[1]
    if str(old).startswith(_BATCH_TEMP) or str(new).startswith(_BATCH_TEMP):
        return
    warn(
        "rename_table", f"renames table {old} to {new}: code using it breaks", str(old)
    )


def _execute(engine, op, warn):
    sql = op.args[0] if op.args else op.kwargs.get("sql")
    text = str(sql)
    if _DATA_SQL.match(text) and _BATCH_TEMP not in text:
        warn(
            "data_change",
            f"changes data ({text.split()[0].upper()}): the SQL shows the "
            "statement, not how many rows it touches",
        )


def _bulk_insert(engine, op, warn):
    table = op.args[0]
    name = _table_name(table)
    warn("data_change", f"inserts rows into {name}", name)


_RULES = {
    "drop_table": _drop_table,
    "drop_column": _drop_column,
    "alter_column": _alter_column,
    "drop_index": _drop_index,
    "drop_constraint": _drop_constraint,
    "rename_table": _rename_table,
    "execute": _execute,
    "bulk_insert": _bulk_insert,
}


def reads_database(path: Path, direction: str) -> bool:
    """Whether the revision's upgrade() (or downgrade()) reads the database
    while it runs: what it sends then depends on the data."""
    try:
        source = path.read_text()
    except OSError:
        return False
    function = "upgrade" if direction == "upgrade" else "downgrade"
    match = re.search(
        rf"^def {function}\(.*?(?=^def |\Z)", source, re.MULTILINE | re.DOTALL
    )
    return bool(match and _READS_DATABASE.search(match.group(0)))


def _lint_source(path: Path, direction: str, warn) -> None:
    function = "upgrade" if direction == "upgrade" else "downgrade"
    if reads_database(path, direction):
        warn(
            "data_dependent",
            f"{function}() reads the database while it runs: offline SQL "
            "cannot show what it will do",
        )


def _type_family(type_) -> str:
    return type(
        type_._type_affinity() if hasattr(type_, "_type_affinity") else type_
    ).__name__
