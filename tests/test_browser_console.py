"""The console's second round in a real browser (Debian's Chromium) against a
real gunicorn, on SQLite and MariaDB: the plan page's picker, decision and
download, a confirmation that fails and keeps the plan, a drift check job and
its staleness after schema changes, one banner on a job page, 409 while a job
runs, 404 for an unknown job, and a traceback folded to its last line.

The tests of this module share one server and run in order: each starts from
where the previous one left the database."""

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.helpers import DIALECTS, ROOT, Scripts, migrations_head
from tests.live import LiveServer, browser_server, wait_while_flag

# The fixtures (chromium, browser_session) and helpers of tests/browser.py:
# imported from it inside the functions, once pytest has loaded it.
pytest_plugins = ["tests.browser"]
# Every test here drives Chromium against a gunicorn it starts.
pytestmark = pytest.mark.live

HEAD = migrations_head()
JOB_TIMEOUT_MS = 90_000


@pytest.fixture(scope="module", params=DIALECTS)
def live_server(request, tmp_path_factory) -> Iterator[LiveServer]:
    """gunicorn on the legacy database adopted and at HEAD, with three more
    revisions in a copy of migrations/: 0004_phone (a column), 0005_slow
    (its downgrade waits while a flag file exists) and 0006_boom (fails)."""
    from tests.browser import prepare_database

    tmp = tmp_path_factory.mktemp(f"console-{request.param}")
    scripts = Scripts.copy_of(ROOT / "migrations", tmp / "migrations")
    with browser_server(request.param, tmp, scripts.directory) as server:
        prepare_database(server)
        # Written after the adoption (which builds every revision).
        scripts.write(
            "0004_phone",
            HEAD,
            'op.add_column("employees", sa.Column("phone", sa.String(20)))',
            'op.drop_column("employees", "phone")',
            message="a phone column",
        )
        # Offline (a plan's SQL) it does not wait; online, until the flag goes.
        scripts.write(
            "0005_slow",
            "0004_phone",
            "pass",
            wait_while_flag(server),
            message="a slow downgrade",
        )
        scripts.write(
            "0006_boom", "0005_slow", 'raise RuntimeError("boom from 0006")', "pass"
        )
        server.start()
        yield server


def login_to(session, username: str, url: str):
    """Logged in, on `url` (a query string included)."""
    page = session.login(username, next=urlsplit(url).path)
    page.goto(url)
    return page


def query(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def current(server) -> str:
    out = server.flask("db", "current").stdout
    return " ".join(line.split()[0] for line in out.splitlines() if line.strip())


def wait_for_job(page, status="succeeded"):
    """On a job's page (it reloads itself while the job runs)."""
    expect(page.locator("#job-status")).to_have_attribute(
        "data-status", status, timeout=JOB_TIMEOUT_MS
    )


def test_plan_picker_decision_and_download(browser_session, tmp_path):
    session = browser_session()
    page = session.login("operator", next="/admin/migrations/plan")
    picker = page.locator("select#target")
    labels = picker.locator("option").all_inner_texts()
    for label in ("head · the newest revision", "heads · every head", "base · "):
        assert any(text.startswith(label) for text in labels), labels
    assert "0004_phone · a phone column" in labels
    assert f"{HEAD} · " in " ".join(labels)
    picker.select_option("0004_phone")
    with page.expect_navigation():
        page.get_by_role("button", name="Preview").click()
    assert query(page.url) == {"target": "0004_phone"}

    summary = page.locator("#plan-summary")
    expect(summary).to_contain_text(f"Upgrade from {HEAD} to 0004_phone: 1 step")
    # The summary, then the SQL, open, then the confirmation that says it
    # was read.
    button = page.get_by_role("button", name="Upgrade to 0004_phone")
    steps = page.locator("#plan-steps")
    assert summary.bounding_box()["y"] < steps.bounding_box()["y"]
    assert steps.bounding_box()["y"] < button.bounding_box()["y"]
    assert (
        steps.bounding_box()["y"] < page.locator("#confirm-upgrade").bounding_box()["y"]
    )
    # The SQL once, per step, shown without a click.
    assert page.content().count("ADD COLUMN phone") == 1
    sql = page.locator("details.step[data-revision='0004_phone'] pre")
    expect(sql).to_be_visible()
    expect(sql).to_contain_text("ADD COLUMN phone")

    with page.expect_download() as info:
        page.locator("#download-sql").click()
    download = info.value
    assert download.suggested_filename == "upgrade-to-0004_phone.sql"
    saved = Path(tmp_path / download.suggested_filename)
    download.save_as(saved)
    body = saved.read_text()
    assert body.startswith(f"-- Headway plan: upgrade from {HEAD} to 0004_phone")
    assert "ADD COLUMN phone" in body
    session.assert_no_csp_violations()
    session.assert_no_page_errors()


def test_a_failed_confirmation_keeps_the_plan(browser_session, live_server):
    session = browser_session()
    page = login_to(session, "operator", "/admin/migrations/plan?target=0004_phone")
    button = page.get_by_role("button", name="Upgrade to 0004_phone")
    with page.expect_navigation() as navigation:
        button.click()  # the box not ticked
    assert navigation.value.status == 400
    assert urlsplit(page.url).path == "/admin/migrations/plan"
    assert query(page.url) == {"target": "0004_phone"}
    # The plan is still there, the error beside the checkbox.
    expect(page.locator("#plan-summary")).to_contain_text("1 step")
    expect(page.locator("details.step[data-revision='0004_phone']")).to_have_count(1)
    error = page.locator("#confirm-upgrade-error")
    expect(error).to_be_visible()
    expect(error).to_have_text("tick the confirmation box to start it")
    box = page.locator("#confirm-upgrade").bounding_box()
    assert abs(error.bounding_box()["y"] - box["y"]) < 60
    assert current(live_server) == HEAD

    # Ticked: the job runs; its page has one banner, the database a line in it.
    page.locator("#confirm-upgrade").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Upgrade to 0004_phone").click()
    assert urlsplit(page.url).path.startswith("/admin/migrations/jobs/")
    wait_for_job(page)
    expect(page.locator(".alert")).to_have_count(1)
    expect(page.locator("#state")).to_have_count(0)
    expect(page.locator("#job-database-state")).to_contain_text("behind")
    # It ended with a drift check; its audit rows are listed.
    expect(page.locator("#job-log")).to_contain_text(
        "drift check: no drift at 0004_phone"
    )
    expect(page.locator("#job-steps tbody tr")).to_have_count(1)
    expect(page.locator("#job-steps")).to_contain_text("0004_phone")
    page.goto("/admin/migrations/")
    expect(page.locator("#drift")).to_have_attribute("data-state", "clean")
    session.assert_no_csp_violations()
    session.assert_no_page_errors()


def test_a_drift_check_job_and_its_staleness(browser_session, live_server):
    session = browser_session()
    page = session.login("operator", next="/admin/migrations/drift")
    with page.expect_navigation():
        page.get_by_role("button", name="Check now").click()
    assert urlsplit(page.url).path.startswith("/admin/migrations/jobs/")
    expect(page.locator("h1")).to_contain_text("drift-check")
    wait_for_job(page)
    expect(page.locator("#job-log")).to_contain_text("drift check: no drift")
    page.locator("#job-drift-link a").click()
    expect(page.locator("#drift-state")).to_have_attribute("data-state", "clean")

    # A downgrade in a shell (the CLI runs no drift check): this revision was
    # never checked.
    live_server.flask("db", "downgrade", HEAD)
    page.goto("/admin/migrations/")
    expect(page.locator("#drift")).to_have_attribute("data-state", "unchecked")
    # Back up: the check made at this revision is older than the changes.
    live_server.flask("db", "upgrade", "0004_phone")
    page.reload()
    drift = page.locator("#drift")
    expect(drift).to_have_attribute("data-state", "stale")
    expect(drift).to_contain_text("stale: checked before the last schema change at")
    expect(page.get_by_text("No drift")).to_have_count(0)
    page.goto("/admin/migrations/drift")
    expect(page.locator("#drift-state")).to_have_attribute("data-state", "stale")

    # Checked again: fresh.
    with page.expect_navigation():
        page.get_by_role("button", name="Check now").click()
    wait_for_job(page)
    page.goto("/admin/migrations/")
    expect(page.locator("#drift")).to_have_attribute("data-state", "clean")
    session.assert_no_csp_violations()
    session.assert_no_page_errors()


def test_a_running_job_answers_409_first(browser_session, live_server):
    live_server.flask("db", "upgrade", "0005_slow")
    live_server.flag.write_text("")
    session = browser_session()
    page = login_to(session, "operator", "/admin/migrations/plan?target=0004_phone")
    page.locator("#typed-downgrade").fill("0004_phone")
    page.locator("#confirm-downgrade").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Downgrade to 0004_phone").click()
    job_path = urlsplit(page.url).path
    job_id = int(job_path.rsplit("/", 1)[1])
    wait_for_job(page, "running")

    other = session.context.new_page()
    # The same form again, unticked: 409 (not "tick the box"), with a link.
    other.goto("/admin/migrations/plan?target=0004_phone")
    with other.expect_navigation() as navigation:
        other.get_by_role("button", name="Downgrade to 0004_phone").click()
    assert navigation.value.status == 409
    error = other.locator("#form-error-downgrade")
    expect(error).to_contain_text(f"another migration is running: job #{job_id}")
    expect(error.locator("a")).to_have_attribute("href", job_path)
    expect(other.locator("#plan-steps")).to_be_visible()
    # The API: an upgrade with nothing to do is a 409 too, naming the job.
    token = other.locator("input[name='csrf_token']").first.input_value()
    response = other.request.post(
        "/api/migrations/jobs",
        data=json.dumps({"action": "upgrade", "target": "0005_slow"}),
        headers={"Content-Type": "application/json", "X-CSRFToken": token},
    )
    assert response.status == 409, response.text()
    assert response.json()["job"]["page"] == job_path
    # Check now waits too.
    other.goto("/admin/migrations/drift")
    expect(other.get_by_role("button", name="Check now")).to_be_disabled()

    live_server.flag.unlink()
    wait_for_job(page)
    assert current(live_server) == "0004_phone"
    session.assert_no_csp_violations()
    session.assert_no_page_errors()


def test_an_unknown_job_is_a_404(browser_session):
    session = browser_session()
    page = session.login("viewer")
    response = page.goto("/admin/migrations/jobs/99999")
    assert response.status == 404
    expect(page.locator("h1")).to_have_text("No job #99999")
    expect(page.get_by_text("Unknown revision")).to_have_count(0)


def test_a_traceback_is_its_last_line_until_opened(browser_session, live_server):
    from tests.browser import upgrade_skipping_preflight

    session = browser_session()
    page = login_to(session, "operator", "/admin/migrations/plan?target=0006_boom")
    upgrade_skipping_preflight(page, "0006_boom")
    wait_for_job(page, "failed")
    expect(page.locator(".alert")).to_have_count(1)
    traceback = page.locator("#job-log details.traceback")
    expect(traceback).to_have_count(1)
    expect(traceback.locator("summary")).to_contain_text("RuntimeError: boom from 0006")
    whole = traceback.locator("pre")
    expect(whole).to_be_hidden()
    traceback.locator("summary").click()
    expect(whole).to_be_visible()
    expect(whole).to_contain_text("Traceback (most recent call last):")
    # The steps it wrote: 0005_slow applied, 0006_boom failed.
    rows = page.locator("#job-steps tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text("boom from 0006")
    session.assert_no_csp_violations()
    session.assert_no_page_errors()


def test_a_step_left_half_way_is_shown_and_rolled_back(browser_session, live_server):
    """MySQL/MariaDB: 0006_boom now adds a column, then fails on a unique
    index the data breaks: the database is partial everywhere the state
    shows, and the plan page rolls it back."""
    from tests.browser import upgrade_skipping_preflight

    if live_server.engine.dialect.name != "mysql":
        pytest.skip("MySQL/MariaDB only: SQLite runs a step in one transaction")
    boom = Path(live_server.env["HEADWAY_MIGRATIONS_DIR"]) / "versions/0006_boom.py"
    boom.write_text(
        boom.read_text().replace(
            'raise RuntimeError("boom from 0006")',
            'op.add_column("employees", sa.Column("nick", sa.String(20)))\n'
            '    op.create_index("ix_gender", "employees", ["gender"], unique=True)',
        )
    )
    session = browser_session()
    page = login_to(session, "operator", "/admin/migrations/plan?target=0006_boom")
    upgrade_skipping_preflight(page, "0006_boom")
    wait_for_job(page, "failed")
    expect(page.locator("#job-log")).to_contain_text("partially applied")
    page.goto(live_server.base + "/admin/migrations/")
    expect(page.locator("#navbar-state")).to_have_text("partially applied")
    expect(page.locator("#state")).to_have_attribute("data-state", "partial")
    page.locator("#state a").click()
    statements = page.locator("#partial-statements li")
    expect(statements).to_have_count(2)
    expect(statements.nth(0)).to_have_attribute("data-outcome", "ok")
    expect(statements.nth(1)).to_have_attribute("data-outcome", "failed")
    expect(page.locator("#rollback-sql")).to_contain_text("DROP COLUMN `nick`")
    page.locator("#confirm-rollback").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Roll back 0006_boom").click()
    wait_for_job(page)
    page.goto(live_server.base + "/admin/migrations/")
    expect(page.locator("#navbar-state")).to_have_text("behind")
    assert current(live_server) == "0005_slow"
    session.assert_no_csp_violations()
    session.assert_no_page_errors()


def test_the_plan_page_shows_the_newest_preflight(browser_session, live_server):
    """An operator runs preflight from the plan page (a job); the plan page
    then shows its result beside the step, with its age, and offers to run
    it again. A viewer sees it too, without the button."""
    session = browser_session()
    url = "/admin/migrations/plan?target=0006_boom"
    page = login_to(session, "operator", url)
    expect(page.locator("#plan-preflight")).to_have_attribute("data-verdict", "none")
    with page.expect_navigation():
        page.get_by_role("button", name="Run preflight").click()
    wait_for_job(page)
    page.goto(live_server.base + url)
    expect(page.locator("#plan-preflight")).to_have_attribute("data-verdict", "fails")
    expect(page.locator("#preflight-age")).to_have_text("just now")
    step = page.locator('details.step[data-revision="0006_boom"]')
    # A step that will fail is open, its result beside its SQL.
    expect(step.locator(".preflight-step")).to_be_visible()
    expect(step.locator(".preflight-step")).to_have_attribute("data-verdict", "fails")
    expect(step.locator(".preflight-badge")).to_have_text("preflight: fails")
    expect(page.get_by_role("button", name="Run preflight again")).to_be_visible()
    session.assert_no_csp_violations()
    session.assert_no_page_errors()
    viewer = login_to(browser_session(), "viewer", url)
    expect(viewer.locator("#plan-preflight")).to_have_attribute("data-verdict", "fails")
    expect(viewer.locator("#preflight-form")).to_have_count(0)
