"""The history page (an aligned, paged list), its SVG download and the
revision page's source. On every dialect under test."""

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from app.dbadmin.web.highlight import stylesheet
from app.dbadmin.web.history import PAGE_SIZE
from tests.helpers import (
    ROOT,
    migrations_chain,
    migrations_head,
    viewer_while_down,
)
from tests.templates import AT_HEAD

HEAD = migrations_head()
SVG = "{http://www.w3.org/2000/svg}"
ROW = re.compile(r'<tr data-revision="([^"]+)"')
EVIL = "<script>alert(\"x\")</script> & 'quotes'"


@pytest.fixture
def console(scripted_app, make_console):
    return make_console(
        scripted_app, AT_HEAD + (("user", "viewer", "viewer"),), "viewer"
    )


def write_chain(scripts, count: int, after: str = HEAD) -> list[str]:
    """`count` revisions after `after`, oldest first."""
    revs, down = [], after
    for n in range(count):
        rev = f"r{n:04d}_step"
        scripts.write(rev, down, message=f"step {n}")
        revs.append(rev)
        down = rev
    return revs


def page(client, query: str = "") -> tuple[int, str]:
    response = client.get(f"/admin/migrations/history{query}")
    return response.status_code, response.get_data(as_text=True)


def test_history_is_paged_newest_first(console, scripts):
    client = console.client
    written = write_chain(scripts, PAGE_SIZE)
    newest_first = list(reversed(migrations_chain() + written))
    assert PAGE_SIZE < len(newest_first) <= 2 * PAGE_SIZE

    status, first = page(client)
    assert status == 200
    assert ROW.findall(first) == newest_first[:PAGE_SIZE]
    assert "Page 1 of 2" in first
    assert 'href="/admin/migrations/history?page=2"' in first
    assert 'rel="prev"' not in first

    status, second = page(client, "?page=2")
    assert status == 200
    assert ROW.findall(second) == newest_first[PAGE_SIZE:]
    assert 'href="/admin/migrations/history?page=1"' in second
    assert 'rel="next"' not in second

    # Every row: its whole id in the page (shortened by CSS only), a lane
    # cell whose node links to the revision, and a plan to here.
    for rev in newest_first[:PAGE_SIZE]:
        assert f'title="{rev}"><code>{rev}</code>' in first
        assert f'<a href="/admin/migrations/revision/{rev}"><title>{rev}<' in first
        assert f'href="/admin/migrations/plan?target={rev}">plan to here' in first
    assert first.count('<svg xmlns="http://www.w3.org/2000/svg" class="lane-cell"') == (
        PAGE_SIZE
    )
    # Dates come from the files' headers, in the one format.
    assert ">2026-11-21 12:00:00 UTC</time>" in first


@pytest.mark.parametrize(
    "value, message",
    [
        ("0", f"there is no page 0: the history has 1 page of {PAGE_SIZE}"),
        ("2", f"there is no page 2: the history has 1 page of {PAGE_SIZE}"),
        ("-1", "page must be a number from 1 to 1, not &#39;-1&#39;"),
        ("x", "page must be a number from 1 to 1, not &#39;x&#39;"),
        ("1.5", "page must be a number from 1 to 1"),
        ("", "page must be a number from 1 to 1"),
        ("9" * 30, "page must be a number from 1 to 1"),
        ("%C2%B2", "page must be a number from 1 to 1"),  # a superscript two
    ],
)
def test_a_bad_page_is_a_400_with_a_message(console, value, message):
    client = console.client
    status, text = page(client, f"?page={value}")
    assert status == 400
    assert message in text
    assert 'id="page-error"' in text


def test_escaping_in_rows_and_in_the_svg_download(console, scripts):
    client = console.client
    scripts.write("0003_evil", HEAD, message=EVIL)
    status, text = page(client)
    assert status == 200
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#39;quotes&#39;" in (
        text
    )

    response = client.get("/admin/migrations/history.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="revision-graph.svg"'
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    body = response.get_data(as_text=True)
    assert "<script" not in body
    root = ET.fromstring(body)  # well-formed XML
    revisions = {g.get("data-revision"): g for g in root.iter(f"{SVG}g") if g.get("id")}
    assert set(revisions) == {"0003_evil", *migrations_chain()}
    texts = "".join(t.text or "" for t in revisions["0003_evil"].iter(f"{SVG}text"))
    assert EVIL in texts and "0003_evil" in texts


def test_row_links_are_url_fors_whatever_the_id(console, scripts):
    """A row's links are built from one url_for per page and the quoted id:
    the same URLs as url_for of each, for an id that needs quoting."""
    from flask import url_for
    from markupsafe import escape

    odd = "0003 a&b=c;d \u00e9?#x"
    scripts.write(odd, HEAD, message="odd")
    status, text = page(console.client)
    assert status == 200
    with console.app.test_request_context("/admin/migrations/history"):
        revision = url_for("migrations.revision", rev=odd)
        plan = url_for("migrations.plan", target=odd)
    assert "%20a&b=c;d%20%C3%A9%3F%23x" in revision  # quoted: it needed it
    assert f'<a href="{escape(revision)}" title="{escape(odd)}">' in text
    assert f'<a href="{escape(revision)}"><title>' in text  # the graph's node
    assert f'<a href="{escape(plan)}">plan to here' in text


def test_the_svg_download_draws_every_page(console, scripts):
    client = console.client
    written = write_chain(scripts, 120)
    root = ET.fromstring(client.get("/admin/migrations/history.svg").data)
    drawn = {g.get("data-revision") for g in root.iter(f"{SVG}g") if g.get("id")}
    assert drawn == set(migrations_chain() + written)


def test_revision_page_highlights_its_source(console):
    client = console.client
    response = client.get(f"/admin/migrations/revision/{HEAD}")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    source = text[text.index('<div id="source">') :]
    assert source.startswith('<div id="source"><div class="highlight"><pre>')
    assert (
        '<span class="k">def</span><span class="w"> </span>'
        '<span class="nf">upgrade</span>' in source
    )
    assert "style=" not in source  # classes only: the stylesheet colours them
    assert f'id="plan-to-here" href="/admin/migrations/plan?target={HEAD}"' in text
    assert "/static/css/pygments.css" in text
    css = client.get("/static/css/pygments.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    css.close()


def test_the_pygments_stylesheet_is_the_formatters():
    """Regenerate it after a Pygments upgrade:
    .venv/bin/python -m app.dbadmin.web.highlight > app/static/css/pygments.css"""
    css = Path(ROOT / "app" / "static" / "css" / "pygments.css").read_text()
    assert css == stylesheet()


def test_history_while_the_database_is_down(scripts, tmp_path, database_url):
    with viewer_while_down(database_url, tmp_path, scripts.directory) as (_, client):
        for path in ("/admin/migrations/history", "/admin/migrations/history.svg"):
            response = client.get(path)
            # The session check needs the database too: the down page says so.
            assert response.status_code == 503, path
