"""The console on an unversioned legacy database, in a real browser (Debian's
Chromium) against a real gunicorn: adoption is offered, with its dry run, and
an upgrade is not. See tests/browser.py."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.helpers import DIALECTS, version_rows
from tests.live import LiveServer, browser_server, user_command

# The fixtures (chromium) and helpers of tests/browser.py: imported from it
# inside the functions, once pytest has loaded it as this plugin.
pytest_plugins = ["tests.browser"]
# Every test here drives Chromium against a gunicorn it starts.
pytestmark = pytest.mark.live


@pytest.fixture(scope="module", params=DIALECTS)
def unversioned_server(request, tmp_path_factory) -> Iterator[LiveServer]:
    """gunicorn on a legacy database made from plain DDL and never adopted:
    Headway's tables and accounts only, as a user has them before adoption."""
    from tests.browser import ACCOUNTS

    tmp = tmp_path_factory.mktemp(f"unversioned-{request.param}")
    with browser_server(request.param, tmp) as server:
        server.flask_batch(
            ("demo", "create-legacy", "--scale", "0.005"),
            ("headway", "init"),
            *(user_command(u, role, pw) for u, (role, pw) in ACCOUNTS.items()),
        )
        server.start()
        yield server


def test_an_unversioned_database_is_offered_adoption_not_an_upgrade(
    chromium, unversioned_server, tmp_path
):
    from tests.browser import BrowserSession

    server = unversioned_server
    start = server.log_size()
    session = BrowserSession(chromium, server)
    try:
        page = session.login("operator", next="/admin/migrations/")
        offer = page.locator("#adoption-offer")
        expect(offer).to_contain_text("employees, departments")
        expect(page.locator("#adoption-dry-run")).to_contain_text(
            "the schema matches 0001_baseline"
        )
        expect(page.get_by_role("link", name="Preview the upgrade")).to_have_count(0)
        adopt = page.locator("form[data-action='adopt']")
        expect(adopt.get_by_role("button")).to_have_text("Adopt at 0001_baseline")
        page.screenshot(path=tmp_path / "dashboard.png", full_page=True)

        # The upgrade plan shows why, instead of a button.
        page.goto("/admin/migrations/plan?target=heads")
        expect(page.locator("#plan-summary")).to_contain_text("Upgrade from base to")
        expect(page.locator("#plan-refusal")).to_contain_text(
            "the database is unversioned but already has employees, departments"
        )
        expect(page.locator("#plan-refusal")).to_contain_text("flask db adopt")
        expect(page.locator("form[data-action='upgrade']")).to_have_count(0)
        expect(page.locator("form[data-action='adopt']")).to_have_count(1)
        page.screenshot(path=tmp_path / "plan.png", full_page=True)
        assert version_rows(server.engine) is None

        # Adoption, as offered on the dashboard.
        page.goto("/admin/migrations/")
        adopt = page.locator("form[data-action='adopt']")
        adopt.get_by_label("I have read").check()
        with page.expect_navigation():
            adopt.get_by_role("button").click()
        status = page.locator("#job-status")
        expect(status).to_have_attribute("data-status", "succeeded", timeout=60_000)
        assert version_rows(server.engine) == ["0001_baseline"]

        page.goto("/admin/migrations/")
        expect(page.locator("#adoption-offer")).to_have_count(0)
        expect(page.get_by_role("link", name="Preview the upgrade")).to_have_count(1)
        session.assert_no_csp_violations()
        session.assert_no_page_errors()
    finally:
        session.close()
    server.assert_no_server_errors(since=start)
