"""The history page in a real browser (Debian's Chromium) against a real
gunicorn, on a history of more than one page: rows and graph aligned, links,
paging, the SVG download; and the revision page's highlighted source.
See tests/browser.py."""

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from app.dbadmin.web.history import PAGE_SIZE
from tests.helpers import DIALECTS, ROOT, Scripts, migrations_head
from tests.live import LiveServer, browser_server, user_command

# The fixtures (chromium) and helpers of tests/browser.py: imported from it
# inside the functions, once pytest has loaded it as this plugin.
pytest_plugins = ["tests.browser"]
# Every test here drives Chromium against a gunicorn it starts.
pytestmark = pytest.mark.live

HEAD = migrations_head()
SIDE_EVERY = 40  # a two-revision side branch, merged back, this often
COUNT = 130
PENDING = 7
SVG = "{http://www.w3.org/2000/svg}"


def long_id(n: int) -> str:
    # Longer than the id column shows: shortened on screen, whole in the page.
    return f"{n:04d}_a_long_revision_identifier"  # 31: VARCHAR(32)


def write_history(scripts: Scripts) -> list[str]:
    """COUNT revisions after HEAD with side branches; oldest first."""
    revs: list[str] = []
    tip = HEAD
    n = 0
    while len(revs) < COUNT:
        if n and n % SIDE_EVERY == 0:
            point = tip
            side = long_id(n)
            scripts.write(side, point, message=f"side branch {n}")
            main = long_id(n + 1)
            scripts.write(main, point, message=f"main line {n + 1}")
            merge = long_id(n + 2)
            scripts.write(merge, [main, side], message=f"merge {n + 2}")
            revs += [side, main, merge]
            tip, n = merge, n + 3
        else:
            rev = long_id(n)
            scripts.write(rev, tip, message=f"step {n} <b>not bold</b>")
            revs.append(rev)
            tip, n = rev, n + 1
    return revs


@pytest.fixture(scope="module", params=DIALECTS)
def history_server(request, tmp_path_factory) -> Iterator[tuple[LiveServer, list]]:
    from tests.browser import ACCOUNTS

    tmp = tmp_path_factory.mktemp(f"history-{request.param}")
    scripts = Scripts.copy_of(ROOT / "migrations", tmp / "migrations")
    revs = write_history(scripts)
    with browser_server(request.param, tmp, scripts.directory) as server:
        role, password = ACCOUNTS["viewer"]
        server.flask_batch(
            ("demo", "create-legacy", "--scale", "0.005"),
            ("headway", "init"),
            ("db", "adopt", "--to", "0001_baseline"),
            ("db", "upgrade", revs[-1 - PENDING]),
            user_command("viewer", role, password),
        )
        server.start()
        yield server, revs


@pytest.fixture
def viewer(chromium, history_server) -> Iterator:
    from tests.browser import BrowserSession

    server, _ = history_server
    start = server.log_size()
    session = BrowserSession(chromium, server)
    session.login("viewer")
    yield session
    session.close()
    server.assert_no_server_errors(since=start)


# Per row: its box, its lane cell's box and its node's, the id as the DOM has
# it and as the screen shows it.
ROW_GEOMETRY = """() => Array.from(document.querySelectorAll("#history tbody tr"))
  .map(tr => {
    const box = e => { const r = e.getBoundingClientRect();
                       return {top: r.top, bottom: r.bottom, left: r.left,
                               right: r.right, height: r.height}; };
    const code = tr.querySelector("td.rev-id code");
    const kinds = tr.querySelector("td.kinds");
    return {
      revision: tr.dataset.revision,
      row: box(tr),
      cell: box(tr.querySelector("svg.lane-cell")),
      node: box(tr.querySelector("circle.node")),
      id: code.textContent,
      idClipped: code.scrollWidth > code.clientWidth,
      idOverflow: getComputedStyle(code).textOverflow,
      kindsFit: kinds.scrollWidth <= kinds.clientWidth,
      badges: Array.from(kinds.querySelectorAll(".badge")).map(b => ({
        text: b.textContent, box: box(b), fits: b.scrollWidth <= b.clientWidth})),
      kindsBox: box(kinds),
    };
  })"""


def listed(page) -> list[str]:
    """Every revision in the history's order (newest first), as the JSON API
    lists them: the same catalog."""
    response = page.request.get("/api/migrations/revisions")
    assert response.ok
    return [r["id"] for r in response.json()["revisions"]]


def test_rows_and_graph_line_up(viewer, history_server):
    server, revs = history_server
    page = viewer.page
    newest_first = listed(page)
    assert len(newest_first) > PAGE_SIZE and set(revs) < set(newest_first)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/admin/migrations/history")
    rows = page.evaluate(ROW_GEOMETRY)
    assert [r["revision"] for r in rows] == newest_first[:PAGE_SIZE]
    for r in rows:
        where = r["revision"]
        # One row: the lane cell fills it top to bottom, so the lines join,
        # and the node sits in its middle.
        assert r["row"]["height"] == pytest.approx(32, abs=0.5), where
        assert r["cell"]["top"] == pytest.approx(r["row"]["top"], abs=0.5), where
        assert r["cell"]["bottom"] == pytest.approx(r["row"]["bottom"], abs=0.5)
        middle = (r["node"]["top"] + r["node"]["bottom"]) / 2
        assert middle == pytest.approx(
            (r["row"]["top"] + r["row"]["bottom"]) / 2, abs=1
        ), where
        # The whole id, on screen too: never clipped.
        assert r["id"] == r["revision"]
        assert not r["idClipped"], where
        # Badges whole: "merge point" and "branch point" are not cut.
        assert r["kindsFit"], where
        for badge in r["badges"]:
            assert badge["fits"], (where, badge)
            assert badge["box"]["right"] <= r["kindsBox"]["right"] + 0.5
    # Consecutive rows touch: no gap where a line would break.
    for above, below in zip(rows, rows[1:], strict=False):
        assert below["row"]["top"] == pytest.approx(above["row"]["bottom"], abs=0.5)
    labels = {b["text"] for r in rows for b in r["badges"]}
    assert {"merge point", "branch point", "head", "current"} <= labels
    # The message is text, never markup.
    expect(page.locator("#history td.message b")).to_have_count(0)
    expect(page.locator("#history td.message").first).to_contain_text("<b>")
    viewer.assert_no_csp_violations()
    viewer.assert_no_page_errors()


def test_rows_and_nodes_link_to_the_revision(viewer, history_server):
    server, revs = history_server
    page = viewer.page
    page.goto("/admin/migrations/history")
    rev = revs[-3]
    row = page.locator(f"#history tr[data-revision='{rev}']")

    with page.expect_navigation():
        row.locator("td.rev-id a").click()
    assert urlsplit(page.url).path == f"/admin/migrations/revision/{rev}"

    page.go_back()
    with page.expect_navigation():
        row.locator("svg.lane-cell a").click()
    assert urlsplit(page.url).path == f"/admin/migrations/revision/{rev}"

    # The revision page: highlighted source (Pygments' classes, coloured by
    # the served stylesheet), SQL that wraps, and Plan to here.
    keyword = page.locator("#source .highlight .kn").first
    expect(keyword).to_have_text("import")
    assert keyword.evaluate("e => getComputedStyle(e).color") == "rgb(0, 128, 0)"
    # On a narrow screen the SQL and the source wrap: nothing scrolls sideways.
    page.set_viewport_size({"width": 480, "height": 800})
    blocks = page.locator(".step pre, #source pre")
    assert blocks.count() >= 3  # the upgrade's SQL, the downgrade's, the source
    for fits in blocks.evaluate_all(
        "ps => ps.map(p => p.scrollWidth <= p.clientWidth + 1)"
    ):
        assert fits
    assert page.evaluate(
        "() => document.documentElement.scrollWidth"
        " <= document.documentElement.clientWidth + 1"
    ), "the revision page scrolls sideways"
    with page.expect_navigation():
        page.locator("#plan-to-here").click()
    assert parse_qs(urlsplit(page.url).query) == {"target": [rev]}

    page.goto("/admin/migrations/history")
    with page.expect_navigation():
        row.get_by_role("link", name="plan to here").click()
    assert urlsplit(page.url).path == "/admin/migrations/plan"
    assert parse_qs(urlsplit(page.url).query) == {"target": [rev]}
    viewer.assert_no_csp_violations()
    viewer.assert_no_page_errors()


def test_paging_and_the_svg_download(viewer, history_server):
    server, revs = history_server
    page = viewer.page
    everything = listed(page)
    page.goto("/admin/migrations/history")
    expect(page.locator("#history tbody tr")).to_have_count(PAGE_SIZE)
    with page.expect_navigation():
        page.locator("#pager-bottom a.older").click()
    assert parse_qs(urlsplit(page.url).query) == {"page": ["2"]}
    rows = page.locator("#history tbody tr")
    second = everything[PAGE_SIZE : 2 * PAGE_SIZE]
    expect(rows).to_have_count(len(second))
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.revision)") == second
    # The last page: the oldest revisions, and nothing older.
    last = -(-len(everything) // PAGE_SIZE)
    with page.expect_navigation():
        page.locator("#pager-top a.oldest").click()
    assert parse_qs(urlsplit(page.url).query) == {"page": [str(last)]}
    assert (
        rows.evaluate_all("rs => rs.map(r => r.dataset.revision)")
        == (everything[(last - 1) * PAGE_SIZE :])
    )
    expect(page.locator("#pager-top a.older")).to_have_count(0)
    with page.expect_navigation():
        page.locator("#pager-top a.newer").click()
    assert parse_qs(urlsplit(page.url).query) == {"page": [str(last - 1)]}
    with page.expect_navigation():
        page.locator("#pager-top a.newest").click()
    expect(page.locator("#history tbody tr").first).to_have_attribute(
        "data-revision", everything[0]
    )

    response = page.goto("/admin/migrations/history?page=abc")
    assert response.status == 400
    expect(page.locator("#page-error")).to_contain_text("page must be a number")

    page.goto("/admin/migrations/history")
    with page.expect_download() as download_info:
        page.locator("#download-svg").click()
    download = download_info.value
    assert download.suggested_filename == "revision-graph.svg"
    root = ET.parse(download.path()).getroot()
    assert root.tag == f"{SVG}svg"
    drawn = [g.get("data-revision") for g in root.iter(f"{SVG}g") if g.get("id")]
    assert drawn == everything
    viewer.assert_no_csp_violations()
    viewer.assert_no_page_errors()
