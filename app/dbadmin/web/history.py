"""The history page's rows: each revision one row of an aligned list, its
piece of the graph beside it, like `git log --graph`; paged, newest first.

Everything here follows from the scripts and the database's current
revisions, so it is built once per catalog and current revisions (and the
site's root) and kept with the catalog: the current revisions are read live
on every request, and a change of them builds new rows. Dates are rendered
per request (their age on hover moves on).
"""

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from flask import get_template_attribute, request, url_for
from markupsafe import Markup

from app.dbadmin.core.catalog import Catalog, Revision
from app.dbadmin.core.state import DatabaseState
from app.dbadmin.web import graph
from app.templating import timestamp

PAGE_SIZE = 100


@dataclass(frozen=True)
class HistoryRow:
    revision: Revision
    created_at: datetime | None
    # The row before and after its date cell, rendered once.
    start: Markup
    end: Markup


@dataclass(frozen=True)
class HistoryPage:
    rows: list[HistoryRow]
    number: int  # 1 is the newest
    pages: int
    total: int  # revisions in the whole history
    first: int  # the position of the first row in the whole history, from 1


class BadPage(ValueError):
    """A ?page= that names no page; the message says which exist."""


# Rows for this many states per catalog (each upgrade is a new one): a
# megabyte or so each at 1,000 revisions, so a long-lived worker does not
# keep one per upgrade it has seen.
STATES_KEPT = 4


def _kept(catalog: Catalog, kind: str, key, build):
    """build(), kept with the catalog for the STATES_KEPT latest keys."""
    kept = catalog.memo((kind, "kept"), OrderedDict)
    try:
        kept.move_to_end(key)
        return kept[key]
    except KeyError:
        value = kept[key] = build()
        while len(kept) > STATES_KEPT:
            kept.popitem(last=False)
        return value


def created_at(revision: Revision) -> datetime | None:
    """The Create Date of the file's header (Alembic's script.py.mako writes
    one), or None when it has none or it does not read as a date."""
    if not revision.created:
        return None
    try:
        return datetime.fromisoformat(revision.created)
    except ValueError:
        return None


def _nodes(catalog: Catalog, applied: frozenset[str], current: tuple[str, ...]):
    return [
        graph.Node(
            revision=r.id,
            down_revisions=r.down_revisions,
            message=r.message,
            applied=r.id in applied,
            current=r.id in current,
        )
        for r in catalog.revisions
    ]


def history_rows(catalog: Catalog, database: DatabaseState) -> list[HistoryRow]:
    """Every revision's row, newest first (built once per state, then kept)."""
    current = tuple(database.current)
    applied = database.applied(catalog)

    def build() -> list[HistoryRow]:
        layout = graph.layout(_nodes(catalog, applied, current))
        segments = graph.row_segments(layout)
        start = get_template_attribute("dbadmin/_history_row.html", "row_start")
        end = get_template_attribute("dbadmin/_history_row.html", "row_end")
        rows = []
        for placed, pieces in zip(layout.rows, segments, strict=True):
            revision = catalog.by_id[placed.node.revision]
            href = url_for(".revision", rev=revision.id)
            cell = graph.lane_cell(placed, pieces, layout.lanes, href)
            # lane_cell escapes every text it writes.
            marker = (
                "current"
                if placed.node.current
                else "applied"
                if placed.node.applied
                else "pending"
            )
            rows.append(
                HistoryRow(
                    revision,
                    created_at(revision),
                    start(revision, marker, Markup(cell), href),
                    end(revision, marker),
                )
            )
        return rows

    return _kept(catalog, "history rows", (current, request.script_root), build)


def history_page(rows: list[HistoryRow], page: str | None) -> HistoryPage:
    """Rows of page `page` (None: the first, the newest PAGE_SIZE); BadPage
    when it is not the number of a page there is."""
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    if page is None:
        number = 1
    else:
        text = page.strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 9:
            raise BadPage(f"page must be a number from 1 to {pages}, not {page!r}")
        number = int(text)
        if not 1 <= number <= pages:
            raise BadPage(
                f"there is no page {number}: the history has {pages} "
                f"page{'s' if pages != 1 else ''} of {PAGE_SIZE}"
            )
    first = (number - 1) * PAGE_SIZE
    return HistoryPage(
        rows[first : first + PAGE_SIZE], number, pages, len(rows), first + 1
    )


def rows_html(rows: list[HistoryRow]) -> Markup:
    """The rows of a page, each with its date (the `timestamp` filter's), as
    one piece: a loop in the template costs more than the rows themselves."""
    return Markup(
        "".join(f"{r.start}{timestamp(r.created_at, '')}{r.end}\n" for r in rows)
    )


def whole_graph_svg(catalog: Catalog, database: DatabaseState) -> str:
    """The whole graph as a standalone SVG document (the download)."""
    current = tuple(database.current)
    applied = database.applied(catalog)
    return _kept(
        catalog,
        "history svg",
        current,
        lambda: graph.render_svg(_nodes(catalog, applied, current)),
    )
