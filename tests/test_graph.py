"""The revision graph SVG: lanes, edges, marks, escaping. Pure, no database."""

import re
import xml.etree.ElementTree as ET

from app.dbadmin.web.graph import (
    CELL_H,
    Node,
    lane_cell,
    layout,
    render_svg,
    row_segments,
)

SVG = "{http://www.w3.org/2000/svg}"


def node(revision, *parents, message="", applied=True, current=False):
    message = message or f"msg {revision}"
    return Node(revision, tuple(parents), message, applied, current)


def chain(n, applied=True):
    """r{n-1} -> ... -> r0, newest first."""
    return [
        node(f"r{i}", *([f"r{i - 1}"] if i else []), applied=applied)
        for i in reversed(range(n))
    ]


def parse(svg):
    return ET.fromstring(svg)


def groups(root):
    """data-revision -> the node's <g>."""
    return {g.get("data-revision"): g for g in root.iter(f"{SVG}g") if g.get("id")}


def edges(root):
    return [
        (p.get("data-child"), p.get("data-parent"))
        for p in root.iter(f"{SVG}path")
        if "edge" in p.get("class", "").split()
    ]


def classes(group):
    return set(group.get("class").split())


def generated(n=1000):
    """Newest first: a trunk with a side branch merged back every 25 revisions,
    an unmerged head every 100 and an extra base every 300 (merged too)."""
    made = []  # oldest first, so every parent is made before its children
    tip = side = extra_base = None
    for i in range(n):
        rev = f"{i:04d}abcdef01"
        phase = i % 25
        if i % 300 == 0:
            parents = ()
            if i:
                extra_base = rev
            else:
                tip = rev
        elif phase == 5:
            parents, side = (tip,), rev
        elif phase in (6, 8, 10):
            parents, side = (side,), rev
        elif phase == 12:
            parents = (tip, side) + ((extra_base,) if extra_base else ())
            tip, side, extra_base = rev, None, None
        elif phase == 20 and i % 100 == 20:
            parents = (tip,)  # a head nobody continues
        else:
            parents, tip = (tip,), rev
        made.append(Node(rev, parents, f"revision {i}", i < 600, i == 598))
    return list(reversed(made))


def test_linear_chain_is_one_lane():
    nodes = chain(10)
    graph = layout(nodes)
    assert graph.lanes == 1
    assert {row.lane for row in graph.rows} == {0}
    root = parse(render_svg(nodes))
    assert set(groups(root)) == {f"r{i}" for i in range(10)}
    assert len(edges(root)) == 9
    assert set(edges(root)) == {(f"r{i}", f"r{i - 1}") for i in range(1, 10)}
    assert "head" in classes(groups(root)["r9"])
    assert "base" in classes(groups(root)["r0"])


def test_branch_and_merge():
    # base <- a <- (b1 <- b2) and (c1) <- m
    nodes = [
        node("m", "b2", "c1"),
        node("b2", "b1"),
        node("c1", "a"),
        node("b1", "a"),
        node("a", "base"),
        node("base"),
    ]
    graph = layout(nodes)
    assert graph.lanes == 2
    lanes = {row.node.revision: row.lane for row in graph.rows}
    assert lanes["b2"] != lanes["c1"]
    assert lanes["m"] == lanes["a"] == lanes["base"]

    root = parse(render_svg(nodes))
    found = groups(root)
    assert {"b1", "b2", "c1"} <= set(found)
    assert "merge" in classes(found["m"])
    assert "branchpoint" in classes(found["a"])
    assert "merge" not in classes(found["a"])
    assert ("m", "b2") in edges(root)
    assert ("m", "c1") in edges(root)
    assert len(edges(root)) == 6


def test_lanes_are_reused_once_free():
    # Two side branches one after the other never need a third lane.
    nodes = [
        node("m2", "t3", "s2"),
        node("s2", "t2"),
        node("t3", "t2"),
        node("t2", "m1"),
        node("m1", "t1", "s1"),
        node("s1", "t0"),
        node("t1", "t0"),
        node("t0"),
    ]
    assert layout(nodes).lanes == 2


def test_several_heads_and_bases():
    nodes = [
        node("h1", "x"),
        node("h2", "y"),
        node("h3", "x"),
        node("x", "b1"),
        node("y", "b2"),
        node("b1"),
        node("b2"),
    ]
    root = parse(render_svg(nodes))
    found = groups(root)
    heads = {rev for rev, g in found.items() if "head" in classes(g)}
    bases = {rev for rev, g in found.items() if "base" in classes(g)}
    assert heads == {"h1", "h2", "h3"}
    assert bases == {"b1", "b2"}
    assert "branchpoint" in classes(found["x"])
    assert len(edges(root)) == 5
    assert layout(nodes).lanes == 3


def test_missing_parent_is_ignored():
    nodes = [node("b", "a"), node("a", "gone"), node("m", "a", "elsewhere")]
    nodes = [nodes[2], nodes[0], nodes[1]]
    root = parse(render_svg(nodes))
    assert set(groups(root)) == {"m", "b", "a"}
    assert sorted(edges(root)) == [("b", "a"), ("m", "a")]
    # Only one known parent: not drawn as a merge, and not a base either.
    assert "merge" not in classes(groups(root)["m"])
    assert "base" not in classes(groups(root)["a"])


def test_message_and_revision_are_escaped():
    evil = '<script>alert("x") & \'</script>'
    nodes = [node('a"b<c>&d', message=evil)]
    svg = render_svg(nodes)
    assert "<script" not in svg
    root = parse(svg)
    (group,) = groups(root).values()
    assert group.get("data-revision") == 'a"b<c>&d'
    assert group.get("id") == "rev-a_b_c__d"
    texts = "".join(t.text or "" for t in group.iter(f"{SVG}text"))
    assert evil in texts
    assert evil in group.find(f"{SVG}title").text


def test_ids_stay_unique_after_sanitising():
    root = parse(render_svg([node("a b"), node("a_b"), node("a:b")]))
    ids = [g.get("id") for g in groups(root).values()]
    assert len(set(ids)) == 3


def test_applied_pending_and_current_classes():
    nodes = [
        node("c", "b", applied=False),
        node("b", "a", current=True),
        node("a"),
    ]
    svg = render_svg(nodes)
    found = groups(parse(svg))
    assert classes(found["c"]) == {"revision", "pending", "head"}
    assert classes(found["b"]) == {"revision", "applied", "current"}
    assert classes(found["a"]) == {"revision", "applied", "base"}
    current_labels = [
        t.text for t in found["b"].iter(f"{SVG}text") if t.text == "current"
    ]
    assert current_labels == ["current"]
    assert "<script" not in svg and " on" not in svg and "href" not in svg


def test_empty_input():
    svg = render_svg([])
    root = parse(svg)
    assert root.tag == f"{SVG}svg"
    assert "no revisions" in svg


def test_out_of_order_input_does_not_crash():
    # A parent listed before its child: drawn anyway, no routing.
    root = parse(render_svg([node("a"), node("b", "a")]))
    assert edges(root) == [("b", "a")]


def test_thousand_revisions():
    nodes = generated()
    assert len({n.revision for n in nodes}) == 1000
    assert any(len(n.down_revisions) == 3 for n in nodes)
    svg = render_svg(nodes)
    root = parse(svg)
    found = groups(root)
    assert set(found) == {n.revision for n in nodes}
    known = {n.revision for n in nodes}
    expected = sum(len([p for p in n.down_revisions if p in known]) for n in nodes)
    assert len(edges(root)) == expected
    assert layout(nodes).lanes <= 4


def ends(d):
    """The two end points of a path piece "M x y ... x y"."""
    numbers = [float(n) for n in re.findall(r"-?[\d.]+", d)]
    start = (numbers[0], numbers[1])
    if "V" in d:  # a vertical line: "M x y V y"
        return start, (numbers[0], numbers[-1])
    return start, (numbers[-2], numbers[-1])


def boundary_points(cells, row, y):
    return sorted(
        point for segment in cells[row] for point in ends(segment.d) if point[1] == y
    )


def assert_lines_join(nodes):
    """Every piece that leaves a row at its bottom goes on at the top of the
    next row, at the same x: the list's rows draw one unbroken graph."""
    graph = layout(nodes)
    cells = row_segments(graph)
    assert len(cells) == len(graph.rows)
    for row in range(len(cells) - 1):
        assert boundary_points(cells, row, CELL_H) == [
            (x, CELL_H) for x, _ in boundary_points(cells, row + 1, 0)
        ], row
    assert boundary_points(cells, 0, 0) == []
    assert boundary_points(cells, len(cells) - 1, CELL_H) == []
    return graph, cells


def test_row_segments_of_a_chain():
    graph, cells = assert_lines_join(chain(4))
    assert [len(c) for c in cells] == [1, 2, 2, 1]


def test_row_segments_join_across_branches_and_merges():
    assert_lines_join(
        [
            node("m", "b2", "c1"),
            node("b2", "b1"),
            node("c1", "a"),
            node("b1", "a"),
            node("a", "base"),
            node("base"),
        ]
    )
    assert_lines_join(generated(300))


def test_row_segments_are_dashed_out_of_pending_revisions():
    graph, cells = assert_lines_join(
        [node("c", "b", applied=False), node("b", "a"), node("a")]
    )
    assert [s.solid for s in cells[0]] == [False]
    assert sorted(s.solid for s in cells[1]) == [False, True]


def test_lane_cell_links_the_node_and_escapes():
    nodes = [node('a"<b>&', current=True)]
    graph = layout(nodes)
    cell = lane_cell(graph.rows[0], [], graph.lanes, '/rev/a"<b>&')
    root = parse(cell)
    (link,) = root.iter(f"{SVG}a")
    assert link.get("href") == '/rev/a"<b>&'
    assert link.find(f"{SVG}title").text == 'a"<b>&'
    assert root.get("height") == str(CELL_H)
    circles = list(link.iter(f"{SVG}circle"))
    assert len(circles) == 2  # the current revision's ring, and its node
    assert "<script" not in cell and "style=" not in cell
