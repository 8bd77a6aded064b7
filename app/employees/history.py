"""The change history of the data admin: every create, edit and delete, with
who made it, when, which record, each field's value before and after, and
for a delete the rows ON DELETE CASCADE removed with it, counted.

A change and its record are written in one transaction (the record is added
to the session the change commits), so neither exists without the other.
The views (base.py) call `record` from their own save and delete, which the
bulk delete goes through too, row by row. ("Audit" is the migration audit
trail; this is the history of the data.)"""

import json
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask import url_for
from flask_login import current_user

from app.extensions import db
from app.models.changes import DataChange

CREATE, EDIT, DELETE = "create", "edit", "delete"
RECORD_HISTORY_LIMIT = 50
RECENT_LIMIT = 10
# The data view of each table (views.py's endpoints), for links to a record.
ENDPOINTS = {
    "employees": "employee",
    "departments": "department",
    "dept_emp": "dept_emp",
    "dept_manager": "dept_manager",
    "titles": "title",
    "salaries": "salary",
}


def _plain(value):
    """A value as JSON keeps it, and as the history shows it."""
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def snapshot(obj, hidden: tuple[str, ...] = ()) -> dict:
    """{attribute: value} of a record's columns (not the ones the database
    lacks yet: schema.py)."""
    mapper = sa.inspect(obj).mapper
    return {
        prop.key: _plain(getattr(obj, prop.key))
        for prop in mapper.column_attrs
        if prop.key not in hidden
    }


def differences(before: dict, after: dict) -> dict:
    """{field: [before, after]} of the fields whose value differs."""
    return {
        name: [before.get(name), after.get(name)]
        for name in dict.fromkeys((*before, *after))
        if before.get(name) != after.get(name)
    }


def record(
    action: str,
    table: str,
    key: str,
    label: str,
    changes: dict,
    cascade: list | None = None,
) -> DataChange:
    """Add the change's record to the session; the caller's commit writes
    both."""
    row = DataChange(
        username=getattr(current_user, "username", None) or "?",
        action=action,
        table_name=table,
        record_key=key[:255],
        record_label=label[:255],
        changes=json.dumps(changes, default=str),
        cascade=json.dumps(cascade or []),
    )
    db.session.add(row)
    return row


@dataclass
class Change:
    """A row of the history, as the pages show it."""

    id: int
    changed_at: datetime
    username: str
    action: str
    table_name: str
    record_key: str
    record_label: str
    fields: list[tuple[str, object, object]]  # (field, before, after)
    cascade: list[tuple[str, int]]  # (what, how many rows)

    @property
    def url(self) -> str | None:
        """The record's page, unless the change deleted it."""
        endpoint = ENDPOINTS.get(self.table_name)
        if self.action == DELETE or endpoint is None:
            return None
        return url_for(f"{endpoint}.details_view", id=self.record_key)

    @property
    def verb(self) -> str:
        return {CREATE: "created", EDIT: "edited", DELETE: "deleted"}.get(
            self.action, self.action
        )


def _change(row) -> Change:
    try:
        changes = json.loads(row.changes or "{}")
        cascade = json.loads(row.cascade or "[]")
    except ValueError:  # written by hand: shown without its details
        changes, cascade = {}, []
    return Change(
        row.id,
        row.changed_at,
        row.username,
        row.action,
        row.table_name,
        row.record_key,
        row.record_label,
        [(name, pair[0], pair[1]) for name, pair in changes.items()],
        [(what, count) for what, count in cascade],
    )


_changes = DataChange.__table__


def history_of(table: str, key: str, limit: int = RECORD_HISTORY_LIMIT) -> list:
    """A record's own history, newest first (an index answers it)."""
    return _read(
        sa.select(_changes)
        .where(_changes.c.table_name == table, _changes.c.record_key == key)
        .order_by(_changes.c.id.desc())
        .limit(limit)
    )


def recent_changes(limit: int = RECENT_LIMIT) -> list[Change]:
    return _read(sa.select(_changes).order_by(_changes.c.id.desc()).limit(limit))


def _read(statement) -> list[Change]:
    # Before `flask headway init` made the table there is no history yet.
    try:
        rows = db.session.connection().execute(statement).all()
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        return []
    return [_change(r) for r in rows]
