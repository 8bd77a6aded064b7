"""The data pages follow the schema they find.

The models are at head, but a database may be behind: right after `flask db
adopt` it is at 0001_baseline, without `employees.email`; after a downgrade
it lacks what the undone revisions added. Selecting a column the table does
not have fails the whole page, so each data page maps only what exists:

- a column the database lacks is left out of the page (the list, the record,
  the forms, the export) and out of every query the request makes (deferred,
  and read as empty: the `do_orm_execute` and `load` hooks below), and the
  page says which revision brings it, with a link to the plan;
- a table, or a key column, the database lacks leaves nothing to show: the
  page says which revision it needs (409, never the 503 of a database that
  does not answer).

What exists is read from the cheap check of the live schema that every page
makes for the navbar's state anyway (core/fingerprint.py), so following the
schema costs no query of its own when the state is known.
"""

from dataclasses import dataclass, field

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import g, has_app_context, url_for
from flask_sqlalchemy.session import Session as FlaskSession

from app.extensions import db
from app.models import Department, DeptEmp, DeptManager, Employee, Salary, Title

BASELINE = "0001_baseline"
# The revision that brings each column or table the baseline lacks. A test
# checks it against migrations/ and the models: a new model column without
# its revision here fails it.
INTRODUCED_BY: dict[tuple[str, str | None], str] = {
    ("employees", "email"): "0002_employee_email",
}

DATA_MODELS = (Employee, Department, DeptEmp, DeptManager, Title, Salary)
_G_KEY = "data_schema_gap"
_G_HIDDEN = "data_schema_hidden"


def introduced_by(table: str, column: str | None = None) -> str:
    return INTRODUCED_BY.get((table, column), BASELINE)


@dataclass
class SchemaGap:
    """What the mapped data tables lack in the live database."""

    current: tuple[str, ...] = ()
    missing_tables: tuple[str, ...] = ()
    # table -> its columns the database lacks
    missing_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.missing_tables or self.missing_columns)

    def unusable(self, model) -> bool:
        """True when a page of `model` has nothing it can show: its table or
        a column of its key is missing."""
        table = model.__table__
        if table.name in self.missing_tables:
            return True
        keys = {c.name for c in table.primary_key.columns}
        return bool(keys & set(self.missing_columns.get(table.name, ())))

    def hidden(self, model) -> tuple[str, ...]:
        """The attributes of `model` that are left out of its pages."""
        columns = self.missing_columns.get(model.__table__.name, ())
        mapper = sa.inspect(model)
        return tuple(
            prop.key
            for prop in mapper.column_attrs
            if any(c.name in columns for c in prop.columns)
        )

    def needs(self, model) -> list[tuple[str, str]]:
        """[(what is missing, the revision that brings it)] for a page of
        `model`, in the order the revisions come."""
        table = model.__table__.name
        if table in self.missing_tables:
            return [(f"the table {table}", introduced_by(table))]
        return [
            (f"{table}.{column}", introduced_by(table, column))
            for column in self.missing_columns.get(table, ())
        ]

    @property
    def at(self) -> str:
        return ", ".join(self.current) or "no revision"


def plan_url(revision: str) -> str:
    return url_for("migrations.plan", target=revision)


def live_columns() -> dict[str, list[str]] | None:
    """{table: its columns} of the mapped tables, as the live database has
    them; None when the database does not answer (its own error page says
    so). Read from the navbar's state of this request when it checked the
    live schema, else once here."""
    from app.dbadmin.core.fingerprint import live_shape, mapped_tables
    from app.dbadmin.web.overview import overview

    database = overview().database
    if not database.reachable:
        return None
    if database.schema_check is not None:
        return database.schema_check.columns
    # An unversioned database, a partial step, an unknown revision: states
    # whose pages are rare enough to read the columns once more.
    try:
        return live_shape(db.session.connection(), mapped_tables(db.metadata)).columns
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        return None


def schema_gap() -> SchemaGap:
    """What the data tables lack, for this request (kept on flask.g, where
    the query hooks below read it)."""
    if _G_KEY in g:
        return g.get(_G_KEY)
    gap = SchemaGap()
    columns = live_columns()
    if columns is not None:
        from app.dbadmin.web.overview import overview

        gap.current = overview().database.current
        missing_tables = []
        for model in DATA_MODELS:
            table = model.__table__
            live = columns.get(table.name)
            if live is None:
                missing_tables.append(table.name)
                continue
            lacking = tuple(c.name for c in table.columns if c.name not in live)
            if lacking:
                gap.missing_columns[table.name] = lacking
        gap.missing_tables = tuple(missing_tables)
    setattr(g, _G_KEY, gap)
    hidden = {m: gap.hidden(m) for m in DATA_MODELS} if gap else {}
    setattr(g, _G_HIDDEN, {m: keys for m, keys in hidden.items() if keys})
    return gap


def hidden_of(model) -> tuple[str, ...]:
    """The attributes of `model` this request's pages leave out."""
    schema_gap()
    return _hidden_now().get(model, ())


def _hidden_now() -> dict:
    """{model: its attributes left out} for this request; empty (at once,
    for every row a page loads) when the database has every column."""
    if not has_app_context():
        return {}
    return g.get(_G_HIDDEN) or {}


@sa.event.listens_for(FlaskSession, "do_orm_execute")
def _leave_out_missing_columns(state) -> None:
    """Every ORM read of the request (lists, a record, a relationship's lazy
    load, a refresh after commit) selects only the columns that exist."""
    hidden = _hidden_now()
    if not hidden or not state.is_select:
        return
    options = [
        so.defer(getattr(mapper.class_, key))
        for mapper in state.all_mappers
        for key in hidden.get(mapper.class_, ())
    ]
    if options:
        state.statement = state.statement.options(*options)


def _read_as_empty(target, context, attrs=None) -> None:
    # A deferred column would load itself on first access, with the SELECT
    # that fails: it reads as empty instead, and is never written.
    hidden = _hidden_now()
    if not hidden:
        return
    state = sa.inspect(target)
    for key in hidden.get(state.mapper.class_, ()):
        if attrs is None or key in attrs or key not in state.dict:
            so.attributes.set_committed_value(target, key, None)


for _model in DATA_MODELS:
    sa.event.listen(_model, "load", _read_as_empty)
    sa.event.listen(_model, "refresh", _read_as_empty)
