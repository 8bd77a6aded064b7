"""The revision graph as an inline SVG, drawn on the server.

One revision a row, newest at the top, each line of development in its own
lane, the way `git log --graph` draws commits. The page inlines the SVG under a
strict Content-Security-Policy, so it has no script, no event handlers, no
external references, and it uses presentation attributes only: CSP's style-src
governs <style> elements and style attributes too.
"""

import heapq
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape


@dataclass(frozen=True)
class Node:
    revision: str
    down_revisions: tuple[str, ...]  # parents; () for a base
    message: str  # first line of the revision message
    applied: bool  # applied in the database
    current: bool  # the database is stamped exactly here


@dataclass(frozen=True)
class Row:
    node: Node
    lane: int
    kinds: tuple[str, ...]  # "revision", "applied"/"pending", "current", ...


@dataclass(frozen=True)
class Edge:
    child: str
    parent: str
    # (lane, row) points. Consecutive points share a lane (a straight line down
    # it) or sit on adjacent rows (a curve from one lane to the other).
    points: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Layout:
    rows: tuple[Row, ...]
    edges: tuple[Edge, ...]
    lanes: int  # the most lanes in use at once: the graph's width


def layout(nodes: Sequence[Node]) -> Layout:
    """Give each revision a row and a lane, and route the edges between them.

    `nodes` come newest first, every child before its parents, as
    `ScriptDirectory.walk_revisions()` yields them. Parents that are not in
    `nodes` are ignored, and so are repeated revisions after the first.

    A lane holds the one revision a line of development is heading for. A
    revision goes in the leftmost lane heading for it (a branch point joins
    them) or, for a head, in the leftmost free lane. Its first parent keeps its
    lane; further parents of a merge take a free lane unless a lane already
    heads for them.
    """
    unique: list[Node] = []
    row_of: dict[str, int] = {}
    for node in nodes:
        if node.revision not in row_of:
            row_of[node.revision] = len(unique)
            unique.append(node)

    children: dict[str, int] = {}
    for node in unique:
        for parent in dict.fromkeys(node.down_revisions):
            if parent in row_of:
                children[parent] = children.get(parent, 0) + 1

    heading: dict[str, list[int]] = {}  # revision -> lanes heading for it
    free: list[int] = []  # a heap, so the leftmost free lane is reused first
    width = 0
    lane_of: dict[str, int] = {}
    # (child row, child lane, lane taken towards the parent, parent)
    pending_edges: list[tuple[int, int, int, str]] = []
    rows: list[Row] = []

    for row, node in enumerate(unique):
        lanes = heading.pop(node.revision, None)
        if lanes:
            lane = min(lanes)
            for other in lanes:
                if other != lane:
                    heapq.heappush(free, other)
        elif free:
            lane = heapq.heappop(free)
        else:
            lane = width
            width += 1
        lane_of[node.revision] = lane

        own_lane_taken = False
        for parent in dict.fromkeys(node.down_revisions):
            parent_row = row_of.get(parent)
            if parent_row is None:
                continue
            if parent_row < row:
                # Out of order: nothing to route, draw it straight across.
                pending_edges.append((row, lane, lane_of[parent], parent))
                continue
            if not own_lane_taken:
                own_lane_taken = True
                target = lane
                heading.setdefault(parent, []).append(lane)
            elif parent in heading:
                target = heading[parent][0]
            else:
                if free:
                    target = heapq.heappop(free)
                else:
                    target = width
                    width += 1
                heading[parent] = [target]
            pending_edges.append((row, lane, target, parent))
        if not own_lane_taken:
            heapq.heappush(free, lane)

        parents = [p for p in dict.fromkeys(node.down_revisions) if p in row_of]
        kinds = ["revision", "applied" if node.applied else "pending"]
        if node.current:
            kinds.append("current")
        if node.revision not in children:
            kinds.append("head")
        if len(parents) > 1:
            kinds.append("merge")
        if children.get(node.revision, 0) > 1:
            kinds.append("branchpoint")
        if not node.down_revisions:
            kinds.append("base")
        rows.append(Row(node, lane, tuple(kinds)))

    edges = []
    for row, lane, via, parent in pending_edges:
        parent_row = row_of[parent]
        parent_lane = lane_of[parent]
        points = [(lane, row)]
        if parent_row - row >= 2:
            if via != lane:
                points.append((via, row + 1))
            if via != parent_lane and (via, parent_row - 1) != points[-1]:
                points.append((via, parent_row - 1))
        points.append((parent_lane, parent_row))
        edges.append(Edge(unique[row].revision, parent, tuple(points)))
    return Layout(tuple(rows), tuple(edges), width)


# Geometry, in pixels.
PAD = 12
LANE_W = 18
ROW_H = 28
RADIUS = 5.5
CURRENT_RADIUS = 6.5
RING_RADIUS = 10
ID_CHARS = 64  # ids longer than this are cut (the <title> has them whole)
MESSAGE_CHARS = 90
ID_CHAR_W = 7.3  # 12px monospace
BADGE_CHAR_W = 6.2  # 10px semibold
MESSAGE_CHAR_W = 7.0  # 13px sans-serif, generous

# Bootstrap's palette.
APPLIED = "#28a745"
APPLIED_DARK = "#1e7e34"
PENDING = "#adb5bd"
CURRENT = "#007bff"
CURRENT_DARK = "#0062cc"
CURRENT_ROW = "#e7f1ff"
STRIPE = "#f8f9fa"
DARK = "#343a40"
TEXT = "#212529"
MUTED = "#6c757d"

FONT = "system-ui,-apple-system,Segoe UI,Roboto,Helvetica Neue,Arial,sans-serif"
MONO = "ui-monospace,SFMono-Regular,Menlo,Consolas,monospace"

# (kind, label, solid fill or None for an outline badge)
BADGES = (
    ("current", "current", CURRENT),
    ("head", "head", DARK),
    ("merge", "merge", None),
    ("branchpoint", "branch point", None),
    ("base", "base", None),
)

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NOT_ID = re.compile(r"[^A-Za-z0-9_.-]")


def _text(value: str) -> str:
    """Escaped character data, without characters XML cannot carry."""
    return escape(_NOT_XML.sub("\ufffd", value))


def _attr(value: str) -> str:
    """An escaped attribute value, for double quotes."""
    return escape(_NOT_XML.sub("\ufffd", value), {'"': "&quot;", "\n": "&#10;"})


def _clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "\u2026"


def _x(lane: int) -> int:
    return PAD + lane * LANE_W + LANE_W // 2


def _y(row: int) -> int:
    return PAD + row * ROW_H + ROW_H // 2


def _path(points: tuple[tuple[int, int], ...]) -> str:
    lane, row = points[0]
    x0, y0 = _x(lane), _y(row)
    d = [f"M{x0} {y0}"]
    for lane, row in points[1:]:
        x1, y1 = _x(lane), _y(row)
        if x1 == x0:
            d.append(f"V{y1}")
        else:
            ym = (y0 + y1) // 2
            d.append(f"C{x0} {ym} {x1} {ym} {x1} {y1}")
        x0, y0 = x1, y1
    return "".join(d)


def _empty() -> str:
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" class="revision-graph" '
        'width="160" height="40" viewBox="0 0 160 40" role="img" '
        f'aria-label="Revision graph" font-family="{FONT}" font-size="13">'
        "<title>Revision graph</title>"
        f'<text x="{PAD}" y="24" fill="{MUTED}">no revisions</text></svg>'
    )


# The history page's lane cells: one small SVG per row of the list, so that a
# row and its piece of the graph are the same row and cannot drift apart.
CELL_H = 32  # the history list's row height, in pixels
CELL_PAD = 6


@dataclass(frozen=True)
class Segment:
    """A piece of an edge inside one row's cell."""

    d: str  # path data, in the cell's coordinates
    solid: bool  # out of an applied revision: history; else dashed


def _cell_x(lane: int) -> int:
    return CELL_PAD + lane * LANE_W + LANE_W // 2


def cell_width(lanes: int) -> int:
    return 2 * CELL_PAD + max(lanes, 1) * LANE_W


def row_segments(graph: Layout) -> list[list[Segment]]:
    """Each edge of `graph` cut at the row boundaries: per row, the pieces of
    edges that pass through it. A straight run down a lane is a vertical line
    in each row it crosses; a curve from one lane to the next row's is split
    at the boundary (de Casteljau at t = 1/2), half in each row."""
    cells: list[list[Segment]] = [[] for _ in graph.rows]
    h, mid = CELL_H, CELL_H // 2

    def vertical(lane: int, top_row: int, bottom_row: int, solid: bool) -> None:
        x = _cell_x(lane)
        for row in range(top_row, bottom_row + 1):
            y0 = mid if row == top_row else 0
            y1 = mid if row == bottom_row else h
            cells[row].append(Segment(f"M{x} {y0}V{y1}", solid))

    def curve(lane0: int, row: int, lane1: int, solid: bool) -> None:
        # From the centre of `row` in lane0 to the centre of row + 1 in lane1.
        x0, x1 = _cell_x(lane0), _cell_x(lane1)
        xm = (x0 + x1) / 2
        cells[row].append(
            Segment(
                f"M{x0} {mid}C{x0} {h * 3 / 4:g} {(3 * x0 + x1) / 4:g} "
                f"{h * 7 / 8:g} {xm:g} {h}",
                solid,
            )
        )
        cells[row + 1].append(
            Segment(
                f"M{xm:g} 0C{(x0 + 3 * x1) / 4:g} {h / 8:g} {x1} {h / 4:g} {x1} {mid}",
                solid,
            )
        )

    for edge in graph.edges:
        solid = graph.rows[edge.points[0][1]].node.applied
        for (lane0, row0), (lane1, row1) in itertools.pairwise(edge.points):
            if row1 < row0:  # an out-of-order edge: the same line, upwards
                (lane0, row0), (lane1, row1) = (lane1, row1), (lane0, row0)
            if lane0 == lane1:
                vertical(lane0, row0, row1, solid)
            else:
                if row1 - row0 > 1:
                    vertical(lane0, row0, row1 - 1, solid)
                curve(lane0, max(row0, row1 - 1), lane1, solid)
    return cells


def lane_cell(placed: Row, segments: Sequence[Segment], lanes: int, href: str) -> str:
    """One row's piece of the graph as an SVG: the edges passing through and
    its node, a link to `href` (the revision's page)."""
    width = cell_width(lanes)
    cx, cy = _cell_x(placed.lane), CELL_H // 2
    node = placed.node
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lane-cell" width="{width}" '
        f'height="{CELL_H}" viewBox="0 0 {width} {CELL_H}">'
    ]
    solid = [s.d for s in segments if s.solid]
    dashed = [s.d for s in segments if not s.solid]
    if solid:
        out.append(
            f'<path class="edge" d="{"".join(solid)}" fill="none" stroke="{MUTED}" '
            'stroke-width="2" stroke-linecap="round"/>'
        )
    if dashed:
        out.append(
            f'<path class="edge pending" d="{"".join(dashed)}" fill="none" '
            f'stroke="{PENDING}" stroke-width="2" stroke-dasharray="4 3"/>'
        )
    if node.current:
        fill, stroke, radius = CURRENT, CURRENT_DARK, CURRENT_RADIUS
    elif node.applied:
        fill, stroke, radius = APPLIED, APPLIED_DARK, RADIUS
    else:
        fill, stroke, radius = "#fff", PENDING, RADIUS
    out.append(f'<a href="{_attr(href)}"><title>{_text(node.revision)}</title>')
    if node.current:
        out.append(
            f'<circle cx="{cx}" cy="{cy}" r="{RING_RADIUS}" fill="none" '
            f'stroke="{CURRENT}" stroke-width="2"/>'
        )
    out.append(
        f'<circle class="node" cx="{cx}" cy="{cy}" r="{radius}" fill="{fill}" '
        f'stroke="{stroke}" stroke-width="2"/></a></svg>'
    )
    return "".join(out)


def render_svg(nodes: Sequence[Node]) -> str:
    """The revision graph of `nodes` (newest first) as a standalone SVG string."""
    if not nodes:
        return _empty()
    graph = layout(nodes)
    text_x = PAD + graph.lanes * LANE_W + 10
    id_chars = min(ID_CHARS, max(len(n.revision) for n in nodes))
    height = 2 * PAD + len(graph.rows) * ROW_H

    ids: set[str] = set()
    stripes: list[str] = []
    groups: list[str] = []
    widest = 0.0
    for row, placed in enumerate(graph.rows):
        node, kinds = placed.node, placed.kinds
        top = PAD + row * ROW_H
        cx, cy = _x(placed.lane), _y(row)
        if node.current:
            stripes.append(
                f'<rect y="{top}" width="100%" height="{ROW_H}" fill="{CURRENT_ROW}"/>'
            )
        elif row % 2:
            stripes.append(
                f'<rect y="{top}" width="100%" height="{ROW_H}" fill="{STRIPE}"/>'
            )

        element_id = "rev-" + _NOT_ID.sub("_", node.revision)
        if element_id in ids:
            n = 2
            while f"{element_id}-{n}" in ids:
                n += 1
            element_id = f"{element_id}-{n}"
        ids.add(element_id)

        message = " ".join((node.message or "").split())
        state = ", ".join(k for k in kinds[1:] if k != "branchpoint")
        if "branchpoint" in kinds:
            state += ", branch point"
        parents = ", ".join(node.down_revisions) or "base"
        out = [
            f'<g id="{_attr(element_id)}" class="{" ".join(kinds)}" '
            f'data-revision="{_attr(node.revision)}">',
            f"<title>{_text(node.revision)}: {_text(message)}\n"
            f"{_text(state)}\nparents: {_text(parents)}</title>",
            f'<rect y="{top}" width="100%" height="{ROW_H}" fill-opacity="0"/>',
        ]
        if node.current:
            out.append(
                f'<circle cx="{cx}" cy="{cy}" r="{RING_RADIUS}" fill="none" '
                f'stroke="{CURRENT}"/>'
            )
            fill, stroke, radius = CURRENT, CURRENT_DARK, CURRENT_RADIUS
        elif node.applied:
            fill, stroke, radius = APPLIED, APPLIED_DARK, RADIUS
        else:
            fill, stroke, radius = "#fff", PENDING, RADIUS
        out.append(
            f'<circle class="node" cx="{cx}" cy="{cy}" r="{radius}" '
            f'fill="{fill}" stroke="{stroke}"/>'
        )

        colour = TEXT if node.applied else MUTED
        out.append(
            f'<text x="{text_x}" y="{cy + 4}" font-family="{MONO}" font-size="12" '
            f'fill="{colour}">{_text(_clip(node.revision, ID_CHARS))}</text>'
        )
        x = text_x + id_chars * ID_CHAR_W + 8
        for kind, label, solid in BADGES:
            if kind not in kinds:
                continue
            w = round(len(label) * BADGE_CHAR_W + 10)
            if solid:
                box = f'fill="{solid}"'
                ink = "#fff"
            else:
                box = f'fill="#fff" stroke="{MUTED}" stroke-width="1"'
                ink = MUTED
            out.append(
                # Not "badge": Bootstrap hides an empty .badge (display: none).
                f'<rect class="rev-label" x="{x:g}" y="{cy - 8}" width="{w}" '
                f'height="16" rx="3" {box}/><text x="{x + w / 2:g}" y="{cy + 3.5}" '
                f'text-anchor="middle" font-size="10" font-weight="600" '
                f'fill="{ink}">{label}</text>'
            )
            x += w + 5
        out.append(
            f'<text x="{x + 3:g}" y="{cy + 4.5}" fill="{colour}">'
            f"{_text(_clip(message, MESSAGE_CHARS))}</text></g>"
        )
        widest = max(widest, x + 3 + min(len(message), MESSAGE_CHARS) * MESSAGE_CHAR_W)
        groups.append("".join(out))

    # Edges out of applied revisions are history: solid. Out of pending ones,
    # dashed. One group each, so the paths inherit their look.
    done: list[str] = []
    todo: list[str] = []
    for edge in graph.edges:
        child = graph.rows[edge.points[0][1]].node
        (done if child.applied else todo).append(
            f'<path class="edge" data-child="{_attr(edge.child)}" '
            f'data-parent="{_attr(edge.parent)}" d="{_path(edge.points)}"/>'
        )

    width = round(widest) + PAD
    return "".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="revision-graph" '
            f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'role="img" aria-label="Revision graph" font-family="{FONT}" '
            f'font-size="13"><title>Revision graph</title>',
            '<g class="stripes">',
            *stripes,
            '</g><g class="edges" fill="none" stroke-width="2" stroke-linecap="round">',
            f'<g stroke="{MUTED}">',
            *done,
            f'</g><g stroke="{PENDING}" stroke-dasharray="4 3">',
            *todo,
            '</g></g><g class="revisions" stroke-width="2">',
            *groups,
            "</g></svg>",
        ]
    )
