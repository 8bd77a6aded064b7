"""The history page's rows: each revision one row of an aligned list, its
piece of the graph beside it, like `git log --graph`; paged, newest first.

The graph's layout follows from the scripts and the database's current
revisions alone: it is computed once per catalog and current revisions and
kept with the catalog (a changed file makes a new catalog; an upgrade, new
current revisions). Only the page of rows being shown is rendered, on each
request.
"""

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, quote_plus

from flask import url_for
from markupsafe import Markup

from app.dbadmin.core.catalog import Catalog, Revision
from app.dbadmin.core.state import DatabaseState
from app.dbadmin.web import graph
from app.url_quoting import PATH_SAFE, QUERY_SAFE
from app.validation import parse_integer

# Rows per page: what a page of the history costs grows with this, not with
# the length of the history (README, "Benchmarks").
PAGE_SIZE = 25


@dataclass(frozen=True)
class HistoryRow:
    revision: Revision
    created_at: datetime | None
    marker: str  # current, applied or pending
    placed: graph.Row  # its place in the graph's layout
    segments: tuple  # the edges passing through its row


@dataclass(frozen=True)
class HistoryPage:
    rows: list[HistoryRow]
    number: int  # 1 is the newest
    pages: int
    total: int  # revisions in the whole history
    first: int  # the position of the first row in the whole history, from 1


class BadPage(ValueError):
    """A ?page= that names no page; the message says which exist."""


# Layouts for this many states per catalog (each upgrade is a new one), so a
# long-lived worker does not keep one per upgrade it has seen.
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


@dataclass(frozen=True)
class HistoryGraph:
    rows: list[HistoryRow]  # every revision, newest first
    lanes: int  # the graph's width


def history_graph(catalog: Catalog, database: DatabaseState) -> HistoryGraph:
    """Every revision's place in the graph, newest first: computed once per
    catalog and current revisions (see the module's docstring)."""
    current = tuple(database.current)
    applied = database.applied(catalog)

    def build() -> HistoryGraph:
        layout = graph.layout(_nodes(catalog, applied, current))
        rows = [
            HistoryRow(
                catalog.by_id[placed.node.revision],
                created_at(catalog.by_id[placed.node.revision]),
                "current"
                if placed.node.current
                else "applied"
                if placed.node.applied
                else "pending",
                placed,
                tuple(pieces),
            )
            for placed, pieces in zip(
                layout.rows, graph.row_segments(layout), strict=True
            )
        ]
        return HistoryGraph(rows, layout.lanes)

    return _kept(catalog, "history graph", current, build)


@dataclass(frozen=True)
class ShownRow:
    """A row of the page shown, with its links and its piece of the graph."""

    row: HistoryRow
    cell: Markup  # its piece of the graph, its node linked to `href`
    href: str  # the revision's page
    plan_href: str  # the plan to this revision


def shown_rows(history: HistoryGraph, rows: list[HistoryRow]) -> list[ShownRow]:
    """The rows of the page shown, rendered on each request (a request's
    URLs), never kept. A row's links are a prefix built by url_for once per
    page plus the row's quoted id, not three url_for calls per row."""
    revision_url = url_for(".revision", rev="")
    plan_url = url_for(".plan", target="")
    shown = []
    for row in rows:
        rev = row.revision.id
        href = revision_url + quote(rev, safe=PATH_SAFE)
        # lane_cell escapes every text it writes.
        cell = Markup(graph.lane_cell(row.placed, row.segments, history.lanes, href))
        shown.append(ShownRow(row, cell, href, plan_url + quote_plus(rev, QUERY_SAFE)))
    return shown


def history_page(rows: list[HistoryRow], page: str | None) -> HistoryPage:
    """Rows of page `page` (None: the first, the newest PAGE_SIZE); BadPage
    when it is not the number of a page there is."""
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    if page is None:
        number = 1
    else:
        number = parse_integer(page.strip(), 0, 999_999_999)
        if number is None:
            raise BadPage(f"page must be a number from 1 to {pages}, not {page!r}")
        if not 1 <= number <= pages:
            raise BadPage(
                f"there is no page {number}: the history has {pages} "
                f"page{'s' if pages != 1 else ''} of {PAGE_SIZE}"
            )
    first = (number - 1) * PAGE_SIZE
    return HistoryPage(
        rows[first : first + PAGE_SIZE], number, pages, len(rows), first + 1
    )


def whole_graph_svg(catalog: Catalog, database: DatabaseState) -> str:
    """The whole graph as a standalone SVG document (the download)."""
    current = tuple(database.current)
    return graph.render_svg(_nodes(catalog, database.applied(catalog), current))
