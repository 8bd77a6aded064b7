"""`make screenshots`: the README's pictures of the console, taken the way the
browser tests drive it (tests/live.py's gunicorn, tests/browser.py's Chromium).

On MariaDB when a server answers (TEST_DATABASE_URL's, else root@127.0.0.1),
else on SQLite: a legacy database from `flask demo create-legacy`, adopted,
then upgraded by a console job, then released (`flask headway release`, which
records a drift check). The pictures replace docs/screenshots/*.png only when
every page was taken without an error.

    .venv/bin/python -m tests.screenshots
"""

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from tests.browser import ACCOUNTS, CHROMIUM, CHROMIUM_ARGS, BrowserSession
from tests.helpers import ROOT, new_database
from tests.live import LiveServer

OUT = ROOT / "docs" / "screenshots"
DEFAULT_MYSQL = "mysql+pymysql://root@127.0.0.1/headway_screenshots"
VIEWPORT = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
SCALE = "0.03"  # 300 employees: a full first page, quick to create


def mysql_server() -> sa.URL | None:
    """The MySQL/MariaDB server to use, or None when none answers."""
    url = sa.make_url(os.environ.get("TEST_DATABASE_URL") or DEFAULT_MYSQL)
    engine = sa.create_engine(
        url.set(database=""),
        poolclass=sa.pool.NullPool,
        connect_args={"connect_timeout": 3},
    )
    try:
        with engine.connect():
            return url.set(database=url.database or "headway_screenshots")
    except sa.exc.SQLAlchemyError:
        return None
    finally:
        engine.dispose()


@contextmanager
def demo_database(directory: Path) -> Iterator[str]:
    server = mysql_server()
    if server is None:
        print("No MySQL/MariaDB server answers: the pictures are taken on SQLite.")
    with new_database("mysql" if server else "sqlite", directory, server) as url:
        yield url


def prepare(server: LiveServer) -> str:
    """A legacy database, adopted at the baseline; the accounts. Returns the
    admin's API token."""
    server.flask("demo", "create-legacy", "--scale", SCALE)
    server.flask("headway", "init")
    server.flask("db", "adopt")
    tokens = {
        name: server.create_user(name, role, password)
        for name, (role, password) in ACCOUNTS.items()
    }
    return tokens["admin"]


class Camera:
    """Opens console pages in a logged-in browser session and keeps a picture
    of each in `directory`."""

    def __init__(self, session: BrowserSession, directory: Path) -> None:
        self.page = session.page
        self.directory = directory
        self.taken: list[str] = []

    def take(self, name: str, path: str, viewport: dict = VIEWPORT) -> None:
        """A picture of `path` at `viewport` (PHONE: a phone's screen, the
        page's top as it shows there)."""
        self.page.set_viewport_size(viewport)
        response = self.page.goto(path)
        assert response is not None and response.ok, f"{path}: {response.status}"
        self.page.wait_for_load_state("networkidle")
        self.page.screenshot(path=self.directory / f"{name}.png")
        self.taken.append(name)


def take_pictures(server: LiveServer, browser, token: str, directory: Path) -> None:
    session = BrowserSession(browser, server)
    session.page.set_viewport_size(VIEWPORT)
    session.login("admin")
    camera = Camera(session, directory)

    # The pending upgrade, then the job that applies it from the console.
    camera.take("plan", "/admin/migrations/plan?target=heads")
    status, job = server.request(
        "POST",
        "/api/migrations/jobs",
        {"action": "upgrade", "target": "heads"},
        token=token,
    )
    assert status == 202, job
    job = server.wait_for_job(job["id"], token)
    assert job["status"] == "succeeded", job
    camera.take("job", f"/admin/migrations/jobs/{job['id']}")
    camera.take("job-phone", f"/admin/migrations/jobs/{job['id']}", PHONE)
    camera.take("jobs", "/admin/migrations/jobs")

    # A deploy's release step: verifies the schema (the dashboard's drift line).
    server.flask("headway", "release")
    camera.take("home", "/admin/")
    camera.take("dashboard", "/admin/migrations/")
    camera.take("dashboard-phone", "/admin/migrations/", PHONE)
    camera.take("history", "/admin/migrations/history")
    camera.take("audit", "/admin/migrations/audit")
    camera.take("employees", "/admin/employee/")
    emp_no = server.scalar("SELECT MIN(emp_no) FROM employees")
    camera.take("employee", f"/admin/employee/details/?id={emp_no}")

    session.assert_no_page_errors()
    session.assert_no_csp_violations()
    session.close()


def main() -> int:
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: `make chromium` installs it.", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="headway-screenshots-") as tmp:
        tmp = Path(tmp)
        pictures = tmp / "pictures"
        pictures.mkdir()
        with demo_database(tmp) as url:
            server = LiveServer(
                url, workers=2, timeout=None, log_path=tmp / "gunicorn.log"
            )
            try:
                token = prepare(server)
                server.start()
                with sync_playwright() as playwright:
                    browser = playwright.chromium.launch(
                        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
                    )
                    try:
                        take_pictures(server, browser, token, pictures)
                    finally:
                        browser.close()
                server.assert_no_server_errors()
            finally:
                server.stop()
        OUT.mkdir(parents=True, exist_ok=True)
        for old in OUT.glob("*.png"):
            old.unlink()
        for picture in sorted(pictures.glob("*.png")):
            shutil.copy(picture, OUT / picture.name)
            print(f"{OUT.relative_to(ROOT) / picture.name}")
    print(f"Took the screenshots in {time.monotonic() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
