"""Keyset pagination: a page is found by the key of a row next to it, never by
an OFFSET, so the last page costs what the first one does.

The key is the sort column followed by the primary key columns (which makes it
unique). "After row r" is written as

    a > x OR (a = x AND b > y) OR (a = x AND b = y AND c > z)

and not as the row value `(a, b, c) > (x, y, z)`, which MariaDB 10.11 answers
with a full index scan instead of a range scan.

A page link carries a token: `last`, or a signed `after`/`before` boundary
with the sort it belongs to. A token that was not made here, or made for
another sort, is refused with PageTokenError (400 for the views).
"""

from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeSerializer

LAST = "last"


class PageTokenError(ValueError):
    """A page token that is malformed, tampered with, or for another sort."""


@dataclass(frozen=True)
class SortKey:
    """The columns rows are ordered by (sort column first, then the primary
    key), all in one direction."""

    attributes: tuple[str, ...]
    columns: tuple[sa.ColumnElement, ...]
    descending: bool = False

    def values_of(self, row: Any) -> list:
        return [getattr(row, name) for name in self.attributes]

    def order_by(self, reverse: bool = False) -> list:
        descending = self.descending != reverse
        return [c.desc() if descending else c.asc() for c in self.columns]

    def beyond(self, values: list, backwards: bool = False) -> sa.ColumnElement:
        """The rows after `values` in this key's order (before, if backwards)."""
        later = self.descending == backwards  # ascending and forwards: >
        terms = []
        for i, column in enumerate(self.columns):
            equal = [c == v for c, v in zip(self.columns[:i], values[:i], strict=True)]
            step = column > values[i] if later else column < values[i]
            terms.append(sa.and_(*equal, step) if equal else step)
        return sa.or_(*terms)


@dataclass(frozen=True)
class PageToken:
    kind: str  # "first", "after", "before" or "last"
    values: tuple = ()


FIRST = PageToken("first")


class TokenCodec:
    """Signs page tokens (so values in them are only ever ones we wrote) and
    reads them back, checking they belong to the current sort."""

    def __init__(self, secret_key: str, view: str) -> None:
        self.serializer = URLSafeSerializer(secret_key, salt=f"headway-page:{view}")

    def encode(self, kind: str, sort: str, values: list) -> str:
        plain = [v.isoformat() if isinstance(v, date) else v for v in values]
        return self.serializer.dumps([kind, sort, plain])

    def decode(self, token: str | None, sort: str, key: SortKey) -> PageToken:
        if token is None or token == "":
            return FIRST
        if token == LAST:
            return PageToken("last")
        try:
            kind, token_sort, values = self.serializer.loads(token)
        except (BadSignature, ValueError, TypeError) as exc:
            raise PageTokenError("this page link is not valid") from exc
        if kind not in ("after", "before") or token_sort != sort:
            raise PageTokenError("this page link belongs to another sort order")
        if not isinstance(values, list) or len(values) != len(key.columns):
            raise PageTokenError("this page link is not valid")
        return PageToken(kind, tuple(_typed(values, key.columns)))


def _typed(values: list, columns) -> list:
    out = []
    for value, column in zip(values, columns, strict=True):
        python_type = column.type.python_type
        if python_type is date:
            if not isinstance(value, str):
                raise PageTokenError("this page link is not valid")
            value = date.fromisoformat(value)
        elif not isinstance(value, python_type) or isinstance(value, bool):
            raise PageTokenError("this page link is not valid")
        out.append(value)
    return out


@dataclass
class Page:
    rows: list
    kind: str
    has_previous: bool
    has_next: bool


def fetch_page(query, key: SortKey, size: int, token: PageToken) -> Page:
    """One page of `query` (a SQLAlchemy ORM Query, filters applied) in
    `key`'s order. One extra row is read to know whether more rows follow."""
    if token.kind == "first":
        rows = query.order_by(*key.order_by()).limit(size + 1).all()
        return Page(rows[:size], token.kind, False, len(rows) > size)
    if token.kind == "after":
        rows = (
            query.filter(key.beyond(list(token.values)))
            .order_by(*key.order_by())
            .limit(size + 1)
            .all()
        )
        return Page(rows[:size], token.kind, True, len(rows) > size)
    if token.kind == "before":
        condition = key.beyond(list(token.values), backwards=True)
        rows = (
            query.filter(condition)
            .order_by(*key.order_by(reverse=True))
            .limit(size + 1)
            .all()
        )
        return Page(rows[:size][::-1], token.kind, len(rows) > size, True)
    # The last page: the last `size` rows, read backwards from the end.
    rows = query.order_by(*key.order_by(reverse=True)).limit(size + 1).all()
    return Page(rows[:size][::-1], token.kind, len(rows) > size, False)
