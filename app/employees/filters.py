"""Filters for the employee data views, each a condition an index can answer
(or one that narrows a query an index already drives).

They are Flask-Admin filters (its "Add Filter" menu, its URL arguments), built
from one small class: a name, an operation, how to read the value, and the SQL
condition for it. Choice filters read their options per request (never while
the app is built, which runs no queries).
"""

import time
from collections.abc import Callable
from datetime import date

import sqlalchemy as sa
from flask_admin.model.filters import BaseFilter

from app.extensions import db
from app.validation import parse_integer

# The to_date of a row that has not ended (the legacy data's convention).
OPEN_END = date(9999, 1, 1)


def like_prefix(text: str) -> str:
    """A LIKE pattern for "starts with text", its wildcards escaped."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def starts_with(column, text: str) -> sa.ColumnElement:
    return column.like(like_prefix(text), escape="\\")


def name_matches(first_name, last_name, term: str) -> sa.ColumnElement:
    """Employees whose name starts like `term`: one word is the start of a
    first or a last name; "Georgi Facello" is a first name and the start of
    a last name, in either order; "Facello, Georgi" is last name first. Each
    is a prefix of (first_name, last_name) or of last_name, which the indexes
    of 0003 and 0004 answer as ranges."""
    if "," in term:
        last, _, first = (part.strip() for part in term.partition(","))
        if first and last:
            return sa.and_(starts_with(first_name, first), starts_with(last_name, last))
        term = first or last
    words = term.split()
    if len(words) < 2:
        return sa.or_(starts_with(first_name, term), starts_with(last_name, term))
    head, rest = words[0], " ".join(words[1:])
    front, tail = " ".join(words[:-1]), words[-1]
    return sa.or_(
        sa.and_(starts_with(first_name, head), starts_with(last_name, rest)),
        sa.and_(starts_with(first_name, tail), starts_with(last_name, front)),
    )


# For a full-name search on MySQL/MariaDB (views.py says why).
FULL_NAME_HINT = "IGNORE INDEX FOR ORDER BY (PRIMARY)"


def one_name_count(first_name, last_name, word: str) -> sa.Select:
    """The number of rows whose first or last name starts with `word`, as
    three counts each one index answers alone (first, last, both) rather
    than the OR, which reads every matching row: 15 ms against 140 ms for a
    common name at 300,000 employees (bench/employees.py)."""
    first = starts_with(first_name, word)
    last = starts_with(last_name, word)

    def count(condition):
        return sa.select(sa.func.count()).where(condition).scalar_subquery()

    return sa.select(count(first) + count(last) - count(sa.and_(first, last)))


def is_full_name(term: str) -> bool:
    """A first and a last name ("Georgi Facello", "Facello, Georgi")."""
    if "," in term:
        last, _, first = (part.strip() for part in term.partition(","))
        return bool(first and last)
    return len(term.split()) > 1


def typed_number(term: str) -> int | None:
    """The number a search box holds (ASCII digits only: int() takes other
    scripts' digits too), None for anything else."""
    return parse_integer(term, 0)


def number_matches(column, number: int) -> sa.ColumnElement:
    """column == number; nothing when an INT column cannot hold it (a bigger
    one overflows SQLite's driver: a 500, not an empty list)."""
    return column == number if number < 2**31 else sa.false()


def parse_int(value: str) -> int:
    """A filter's INT value (Flask-Admin's filters read a ValueError as a bad
    value)."""
    number = parse_integer(str(value).strip(), -(2**31), 2**31 - 1)
    if number is None:
        raise ValueError("not a number an INT column holds")
    return number


def parse_date(value: str) -> date:
    return date.fromisoformat(str(value).strip())


def parse_text(value: str) -> str:
    text = str(value).strip()
    if not text:
        raise ValueError("empty")
    return text


class ConditionFilter(BaseFilter):
    """A filter given by its value parser and its SQL condition."""

    def __init__(
        self,
        name: str,
        operation: str,
        condition: Callable[[object], sa.ColumnElement],
        parse: Callable[[str], object] = parse_text,
        data_type: str | None = None,
        options=None,
    ) -> None:
        super().__init__(name, options=None, data_type=data_type)
        self._operation = operation
        self.condition = condition
        self.parse = parse
        # Options read per request (see current_options), not when built.
        self.dynamic_options = options

    def operation(self) -> str:
        return self._operation

    def clean(self, value):
        return self.parse(value)

    def apply(self, query, value, alias=None):
        return query.filter(self.condition(value))

    def current_options(self) -> list[tuple[str, str]] | None:
        options = self.dynamic_options
        return options() if callable(options) else options


def equals(name: str, column, parse=parse_int) -> ConditionFilter:
    return ConditionFilter(name, "equals", lambda v: column == v, parse)


def prefix(name: str, column) -> ConditionFilter:
    return ConditionFilter(name, "starts with", lambda v: starts_with(column, v))


def int_range(name: str, column) -> list[ConditionFilter]:
    return [
        ConditionFilter(name, "at least", lambda v: column >= v, parse_int),
        ConditionFilter(name, "at most", lambda v: column <= v, parse_int),
    ]


def date_range(name: str, column) -> list[ConditionFilter]:
    return [
        ConditionFilter(
            name, "on or after", lambda v: column >= v, parse_date, "datepicker"
        ),
        ConditionFilter(
            name, "on or before", lambda v: column <= v, parse_date, "datepicker"
        ),
    ]


def current(to_date_column) -> ConditionFilter:
    """Rows whose period is current (not ended: to_date 9999-01-01, or
    none) or ended."""

    def condition(value: str) -> sa.ColumnElement:
        is_open = sa.or_(to_date_column == OPEN_END, to_date_column.is_(None))
        return is_open if value == "current" else sa.not_(is_open)

    def parse(value: str) -> str:
        if value not in ("current", "ended"):
            raise ValueError(value)
        return value

    return ConditionFilter(
        "Period",
        "is",
        condition,
        parse,
        options=[
            ("current", "current (not ended: to 9999-01-01)"),
            ("ended", "ended"),
        ],
    )


def choice(
    name: str,
    condition: Callable[[str], sa.ColumnElement],
    options: Callable[[], list[tuple[str, str]]],
) -> ConditionFilter:
    return ConditionFilter(name, "is", condition, parse_text, options=options)


def department_options() -> list[tuple[str, str]]:
    """The departments, read on each list page that filters by them: plain
    Core on the session's connection (no entity is loaded)."""
    from app.models import Department

    rows = db.session.connection().execute(
        sa.select(Department.dept_no, Department.dept_name).order_by(Department.dept_no)
    )
    return [(dept_no, f"{dept_no} {name}") for dept_no, name in rows]


_titles_cache: dict[str, tuple[float, list[tuple[str, str]]]] = {}
TITLES_CACHE_SECONDS = 300


def title_options() -> list[tuple[str, str]]:
    """The distinct titles. Reading them scans `titles` (0.1 s at the real
    size), so each process keeps them for a few minutes per database."""
    from app.models import Title

    url = str(db.engine.url)
    cached = _titles_cache.get(url)
    if cached and time.monotonic() - cached[0] < TITLES_CACHE_SECONDS:
        return cached[1]
    titles = db.session.execute(
        sa.select(Title.title).distinct().order_by(Title.title)
    ).scalars()
    options = [(t, t) for t in titles]
    _titles_cache[url] = (time.monotonic(), options)
    return options
