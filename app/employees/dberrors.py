"""A database error on save, in words, next to the field it is about.

The user never sees SQL text: the error is matched on what it means (a
duplicate key, a missing parent row, a value too long, a bad date or number),
and the column is found in the driver's message or, for a missing parent row
(SQLite names none), by looking the row's foreign keys up.
"""

import re

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

FORM_LEVEL = None  # the error is about the row, not one field

_COLUMN_RE = re.compile(r"column [`'\"]?(?:\w+[`'\"]?\.[`'\"]?)*(\w+)[`'\"]?", re.I)
_MYSQL_KEY_RE = re.compile(r"for key '(?:\w+\.)?(\w+)'")
_SQLITE_UNIQUE_RE = re.compile(r"UNIQUE constraint failed: ([\w.,\s]+)")

# MySQL/MariaDB error numbers that concern one column's value.
_MYSQL_VALUE_ERRORS = {
    1406: "This value is too long.",
    1264: "This number is out of range.",
    1292: "This is not a valid date.",
    1265: "This value is not allowed here.",
    1366: "This value has the wrong type.",
    1048: "This field is required.",
}


def describe(
    exc: DBAPIError, table: sa.Table, values: dict, session
) -> dict[str | None, str]:
    """{field name (or None for the whole row): message} for a failed save
    of a row of `table` with these column `values`. The session must have been
    rolled back (a parent row may be looked up)."""
    message = str(exc.orig.args[-1]) if exc.orig.args else str(exc.orig)
    code = exc.orig.args[0] if exc.orig.args else None
    key_columns = [c.name for c in table.primary_key.columns]

    if code == 1062 or "UNIQUE constraint failed" in message:
        return _duplicate(message, table, key_columns)
    if code in (1452, 1216) or "FOREIGN KEY constraint failed" in message:
        return _missing_parent(table, values, session)
    if code in (1451, 1217):
        return {FORM_LEVEL: "Other rows refer to this one, so its key can't change."}
    if code in _MYSQL_VALUE_ERRORS:
        return {_column(message): _MYSQL_VALUE_ERRORS[code]}
    if "CHECK constraint failed" in message:
        return {_check_column(message, table): "This value is not allowed here."}
    if "NOT NULL constraint failed" in message:
        return {message.rsplit(".", 1)[-1].strip(): "This field is required."}
    return {FORM_LEVEL: "The database refused this change."}


def _duplicate(message: str, table, key_columns) -> dict[str | None, str]:
    match = _MYSQL_KEY_RE.search(message)
    if match:
        key = match.group(1)
        columns = key_columns if key == "PRIMARY" else [key]
    else:
        match = _SQLITE_UNIQUE_RE.search(message)
        names = match.group(1).split(",") if match else []
        columns = [n.strip().rsplit(".", 1)[-1] for n in names] or key_columns
    if set(columns) == set(key_columns):
        return {columns[0]: "A row with this key already exists."}
    return {columns[0]: "Another row already has this value."}


def _missing_parent(table, values: dict, session) -> dict[str | None, str]:
    for fk in sorted(table.foreign_keys, key=lambda fk: fk.parent.name):
        column = fk.parent.name
        value = values.get(column)
        parent = fk.column
        exists = session.execute(
            sa.select(sa.literal(1)).where(parent == value).limit(1)
        ).first()
        if exists is None:
            noun = parent.table.name.rstrip("s").replace("_", " ")
            return {column: f"There is no {noun} {value}."}
    return {FORM_LEVEL: "A row this one refers to does not exist."}


def _column(message: str) -> str | None:
    match = _COLUMN_RE.search(message)
    return match.group(1) if match else FORM_LEVEL


def _check_column(message: str, table) -> str | None:
    for column in table.columns:
        if column.name in message:
            return column.name
    return FORM_LEVEL
