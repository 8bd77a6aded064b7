"""The home page, and what every admin page has around its content: a title
of its own, the active tab, the database and its state in the navbar, the
running-job banner, the favicon, a 403 that names the role. On every dialect
under test (the browser checks are in test_browser_home.py)."""

import os
import re
import socket
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from app.auth.accounts import find_user
from app.dbadmin.core.drift import DriftStatus
from app.extensions import db
from app.home import sqlite_file_state
from app.models.console import DriftCheck, MigrationAudit, MigrationJob
from tests.helpers import csrf_token, free_pid, migrations_head

HEAD = migrations_head()
LEGACY = ("departments", "dept_emp", "dept_manager", "employees", "salaries", "titles")


def title(response) -> str:
    return re.search(r"<title>(.*?)</title>", response.get_data(as_text=True)).group(1)


def text(response) -> str:
    return response.get_data(as_text=True)


def add(app, *records):
    with app.app_context():
        db.session.add_all(records)
        db.session.commit()
        return [r.id for r in records]


def test_drift_status_is_stale_when_older_than_the_last_change():
    now = datetime(2026, 11, 22, 8, 0, 0)
    clean = DriftCheck(checked_at=now, model_differences="")
    drifted = DriftCheck(checked_at=now, model_differences="column x: ...")
    assert DriftStatus(None, None).state == "unchecked"
    assert DriftStatus(clean, None).state == "clean"
    assert DriftStatus(drifted, None).state == "drift"
    assert DriftStatus(clean, now - timedelta(seconds=1)).state == "clean"
    assert DriftStatus(clean, now).state == "clean"
    # Made before the schema changed: it says nothing about the schema now.
    assert DriftStatus(clean, now + timedelta(seconds=1)).state == "stale"
    assert DriftStatus(drifted, now + timedelta(seconds=1)).state == "stale"


def test_home_page(app, logged_in, database_url):
    client = logged_in("viewer")
    response = client.get("/admin/")
    assert response.status_code == 200
    page = text(response)
    assert title(response) == "Home · Headway"
    url = sa.make_url(database_url)
    name = (
        os.path.basename(url.database) if url.drivername == "sqlite" else url.database
    )
    assert f"<code>{name}</code>" in page
    dialect = "SQLite" if url.drivername == "sqlite" else "MariaDB"
    assert re.search(rf'id="home-server">{dialect} \d+\.\d+', page)
    # Never the URL, its user or its password.
    assert database_url not in page and "root@" not in page and "pymysql" not in page
    assert 'id="home-state" data-state="up_to_date">up to date<' in page
    assert page.count(f"<code>{HEAD}</code>") == 2  # current and head
    assert "none yet" in page and "none recorded" in page
    assert 'data-drift="unchecked"' in page
    # The legacy tables, not Headway's; empty here, so small: counted exactly.
    rows = dict(re.findall(r"<code>(\w+)</code></td><td[^>]*>(.*?)</td>", page))
    assert sorted(rows) == sorted(LEGACY)
    assert set(rows.values()) == {"0"}
    for area in (
        "/admin/migrations/",
        "/admin/migrations/history",
        "/admin/migrations/plan",
        "/admin/migrations/drift",
        "/admin/migrations/audit",
        "/admin/employee/",
        "/admin/account/",
    ):
        assert f'href="{area}"' in page, area
    # Users is for admins only.
    assert 'href="/admin/users/"' not in page
    assert 'href="/admin/users/"' in text(logged_in("admin").get("/admin/"))


def test_sqlite_counts_are_kept_until_the_next_commit(app, logged_in, database_url):
    url = sa.make_url(database_url)
    if url.drivername != "sqlite":
        pytest.skip("MySQL/MariaDB give estimates, not counts")

    def departments() -> str:
        page = text(client.get("/admin/"))
        return dict(re.findall(r"<code>(\w+)</code></td><td[^>]*>(.*?)</td>", page))[
            "departments"
        ]

    client = logged_in("viewer")
    assert departments() == "0"
    state = sqlite_file_state(url.database)
    assert state is not None and sqlite_file_state(url.database) == state
    with app.app_context():
        db.session.execute(
            sa.text("INSERT INTO departments VALUES ('d999', 'Counted')")
        )
        db.session.commit()
    assert sqlite_file_state(url.database) != state  # the header's change counter
    assert departments() == "1"


def test_home_page_last_job_change_and_stale_drift(app, logged_in):
    client = logged_in("viewer")
    checked = datetime(2026, 1, 1, 12, 0, 0)
    job_id, _, _ = add(
        app,
        MigrationJob(
            action="upgrade", target="heads", requested_by="op", status="succeeded"
        ),
        DriftCheck(checked_at=checked, checked_by="op", revisions=HEAD),
        MigrationAudit(
            action="downgrade",
            revision=HEAD,
            from_revisions=HEAD,
            to_revisions="0001_baseline",
            actor="op",
            started_at=checked - timedelta(hours=1),
        ),
    )
    page = text(client.get("/admin/"))
    assert f'<a href="/admin/migrations/jobs/{job_id}">#{job_id}</a> upgrade heads' in (
        page
    )
    assert f"downgrade {HEAD} → 0001_baseline" in page
    assert 'data-drift="clean"' in page
    # A schema change after the check: the check is stale, not "no drift".
    add(
        app,
        MigrationAudit(
            action="upgrade",
            revision=HEAD,
            from_revisions="0001_baseline",
            to_revisions=HEAD,
            actor="op",
            started_at=checked + timedelta(hours=1),
        ),
    )
    page = text(client.get("/admin/"))
    assert 'data-drift="stale"' in page and "No drift" not in page
    assert f"upgrade 0001_baseline → {HEAD}" in page


def test_titles_and_active_tabs(app, logged_in):
    (job_id,) = add(
        app,
        MigrationJob(
            action="upgrade", target="heads", requested_by="op", status="succeeded"
        ),
    )
    client = logged_in("admin")
    pages = {
        "/admin/": ("Home · Headway", None),
        "/admin/migrations/": ("Dashboard · Migrations · Headway", "Dashboard"),
        "/admin/migrations/history": ("History · Migrations · Headway", "History"),
        f"/admin/migrations/revision/{HEAD}": (
            f"Revision {HEAD} · Migrations · Headway",
            "History",
        ),
        "/admin/migrations/plan": ("Plan · Migrations · Headway", "Plan"),
        "/admin/migrations/drift": ("Drift · Migrations · Headway", "Drift"),
        "/admin/migrations/audit": (
            "Audit trail · Migrations · Headway",
            "Audit trail",
        ),
        "/admin/migrations/jobs": ("Jobs · Migrations · Headway", "Jobs"),
        f"/admin/migrations/jobs/{job_id}": (
            f"Job #{job_id} · Migrations · Headway",
            "Jobs",
        ),
        "/admin/employee/": ("Employees · Data · Headway", None),
        "/admin/salary/": ("Salaries · Data · Headway", None),
        "/admin/employee/new/": ("New · Employees · Data · Headway", None),
        "/admin/users/": ("Users · Headway", None),
        "/admin/users/new/": ("New · Users · Headway", None),
        "/admin/account/": ("Account · Headway", None),
    }
    for url, (expected, tab) in pages.items():
        response = client.get(url)
        assert response.status_code == 200, url
        assert title(response) == expected, url
        tabs = re.search(r'id="console-tabs">(.*?)</ul>', text(response), re.S)
        active = re.findall(
            r'class="nav-link active"[^>]*>([^<]+)</a>', tabs.group(1) if tabs else ""
        )
        assert active == ([tab] if tab else []), url
    assert len({title for title, _ in pages.values()}) == len(pages)
    assert title(app.test_client().get("/login")) == "Log in · Headway"


def test_navbar_state_and_database_name(app, logged_in, runner, database_url):
    client = logged_in("viewer")
    url = sa.make_url(database_url)
    name = (
        os.path.basename(url.database) if url.drivername == "sqlite" else url.database
    )
    for page in ("/admin/", "/admin/employee/", "/admin/migrations/history"):
        body = text(client.get(page))
        navbar = body[body.index("<nav") : body.index("</nav>")]
        assert name in navbar, page
        assert 'data-state="up_to_date">up to date</span>' in navbar, page
    assert runner.invoke(args=["db", "downgrade", "--", "-1"]).exit_code == 0
    body = text(client.get("/admin/account/"))
    assert 'data-state="behind">behind</span>' in body
    assert runner.invoke(args=["db", "downgrade", "base"]).exit_code == 0
    body = text(client.get("/admin/account/"))
    assert 'data-state="unversioned">unversioned</span>' in body


def test_running_job_banner_on_every_page_but_its_own(app, logged_in):
    # Alive: this process, on this host (the console marks a job whose
    # process is gone as interrupted).
    (job_id,) = add(
        app,
        MigrationJob(
            action="upgrade",
            target="heads",
            requested_by="op",
            status="running",
            pid=os.getpid(),
            host=socket.gethostname(),
        ),
    )
    client = logged_in("viewer")
    link = f'Job <a href="/admin/migrations/jobs/{job_id}">#{job_id}</a> is running'
    for page in ("/admin/", "/admin/employee/", "/admin/migrations/plan"):
        assert link in text(client.get(page)), page
    assert 'id="running-job"' not in text(
        client.get(f"/admin/migrations/jobs/{job_id}")
    )
    with app.app_context():
        db.session.get(MigrationJob, job_id).status = "succeeded"
        db.session.commit()
    assert 'id="running-job"' not in text(client.get("/admin/employee/"))


def test_a_dead_job_is_not_shown_running_on_any_page(app, logged_in):
    # Its process is gone (no process has its pid, on this host): any admin
    # page finds out, not only the dashboard and the job's own page.
    (job_id,) = add(
        app,
        MigrationJob(
            action="drift-check",
            target="",
            requested_by="op",
            status="running",
            pid=free_pid(),
            host=socket.gethostname(),
        ),
    )
    client = logged_in("viewer")
    assert 'id="running-job"' not in text(client.get("/admin/employee/"))
    # Shown interrupted, with the cause; a page only reads (the job's
    # supervisor, or the next write, records it).
    job = client.get(f"/api/migrations/jobs/{job_id}").get_json()
    assert job["status"] == "interrupted"
    assert "its process ended before the job finished" in job["error"]


def test_favicon_is_public_and_linked(app, client, logged_in):
    with client.get("/favicon.ico") as response:
        assert response.status_code == 200
        assert response.mimetype == "image/svg+xml"
        assert response.get_data(as_text=True).startswith("<svg")
    link = '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'
    assert link in text(client.get("/login"))
    admin = logged_in("admin")
    for page in ("/admin/", "/admin/employee/", "/admin/migrations/"):
        assert link in text(admin.get(page)), page
    with client.get("/static/favicon.svg") as response:
        assert response.status_code == 200


def test_403_names_the_role_needed(app, logged_in):
    viewer, operator = logged_in("viewer"), logged_in("operator")
    cases = [
        (viewer, "get", "/admin/employee/new/", "the operator role; you are a viewer"),
        (viewer, "get", "/admin/users/", "the admin role; you are a viewer"),
        (operator, "get", "/admin/users/", "the admin role; you are an operator"),
        (
            viewer,
            "post",
            "/admin/migrations/jobs",
            "the operator role; you are a viewer",
        ),
    ]
    for client, method, url, words in cases:
        data = {"csrf_token": csrf_token(client, "/admin/")} if method == "post" else {}
        response = getattr(client, method)(url, data=data)
        assert response.status_code == 403, url
        body = text(response)
        assert f"This needs {words}." in body, url
        assert title(response) == "403 Forbidden · Headway"
    # JSON keeps its short answer.
    response = viewer.post(
        "/api/migrations/jobs",
        json={"action": "upgrade", "target": "heads"},
        headers={"X-CSRFToken": csrf_token(viewer, "/admin/")},
    )
    assert response.status_code == 403 and response.get_json() == {"error": "forbidden"}


def field_errors(response, name: str) -> list[str]:
    """The messages Flask-Admin shows under the field `name`."""
    body = text(response)
    field = body[body.index(f'name="{name}"') :]
    field = field[: field.find('class="form-group')]
    feedback = re.search(r'<div class="invalid-feedback">(.*?)</div>', field, re.S)
    return re.findall(r"<li>(.*?)</li>", feedback.group(1)) if feedback else []


@pytest.fixture
def admin(logged_in):
    client = logged_in("admin")
    client.token = csrf_token(client, "/admin/users/")
    return client


def test_users_form_errors_are_under_their_fields(app, admin):
    def create(**fields):
        data = {"csrf_token": admin.token, "role": "viewer", "active": "y"}
        return admin.post("/admin/users/new/", data={**data, **fields})

    response = create(username="carol", new_password="short")
    assert response.status_code == 200
    assert field_errors(response, "new_password") == [
        "The password must have at least 12 characters."
    ]
    response = create(username="carol")
    assert field_errors(response, "new_password") == ["A new account needs a password."]
    response = create(username="a\x07b", new_password="long enough password")
    assert field_errors(response, "username") == [
        "The username must not contain control characters (found U+0007)."
    ]
    response = create(username="viewer", new_password="long enough password")
    assert field_errors(response, "username") == ["Already exists."]
    # Not as a flash at the top: Flask-Admin's own line only.
    assert "Already exists" not in text(response).split("<form")[0]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(
            sa.table("headway_users"))) == 3  # fmt: skip

    # An edit may leave the password empty; a short one is refused by the field.
    with app.app_context():
        operator_id, admin_id = find_user("operator").id, find_user("admin").id
    edit = {"csrf_token": admin.token, "username": "operator", "role": "operator"}
    response = admin.post(
        f"/admin/users/edit/?id={operator_id}",
        data={**edit, "active": "y", "new_password": "short"},
    )
    assert field_errors(response, "new_password") == [
        "The password must have at least 12 characters."
    ]
    response = admin.post(
        f"/admin/users/edit/?id={operator_id}", data={**edit, "active": "y"}
    )
    assert response.status_code == 302

    # The last admin: under the field that would remove it, not a flash.
    last = {"csrf_token": admin.token, "username": "admin"}
    response = admin.post(
        f"/admin/users/edit/?id={admin_id}",
        data={**last, "role": "viewer", "active": "y"},
    )
    assert response.status_code == 200
    (message,) = field_errors(response, "role")
    assert "at least one active admin" in message
    assert message not in text(response).split("<form")[0]
    response = admin.post(
        f"/admin/users/edit/?id={admin_id}", data={**last, "role": "admin"}
    )
    (message,) = field_errors(response, "active")
    assert "at least one active admin" in message
    with app.app_context():
        user = find_user("admin")
        assert (user.role, user.active) == ("admin", True)


def test_users_list_dates_use_the_one_format(app, admin):
    with app.app_context():
        admin_id = find_user("admin").id
    moment = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"
    for page in ("/admin/users/", f"/admin/users/details/?id={admin_id}"):
        body = text(admin.get(page))
        time = rf'<time datetime="[^"]+" title="[^"]+">{moment}</time>'
        assert len(re.findall(time, body)) >= 2, page  # created, last login
        assert not re.search(r"\d\d:\d\d:\d\d\.\d+", body), page


def test_state_unreadable_the_pages_still_render(app, logged_in):
    """The stamp cannot be read (the connection works, alembic_version fails):
    the home page and the navbar say "unreachable", no page breaks. A view
    over a dropped table fails on every dialect."""
    with app.app_context(), db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE alembic_version")
        conn.exec_driver_sql("CREATE TABLE gone (version_num VARCHAR(32))")
        conn.exec_driver_sql(
            "CREATE VIEW alembic_version AS SELECT version_num FROM gone"
        )
        conn.exec_driver_sql("DROP TABLE gone")
    client = logged_in("viewer")
    response = client.get("/admin/")
    assert response.status_code == 503
    body = text(response)
    assert 'id="navbar-state" data-state="unreachable">unreachable<' in body
    assert 'id="home-state" data-state="unreachable"' in body
    assert "The database does not answer" in body
    for page in ("/admin/employee/", "/admin/account/"):
        response = client.get(page)
        assert response.status_code == 200, page
        assert 'data-state="unreachable">unreachable<' in text(response), page
    with app.app_context(), db.engine.begin() as conn:
        conn.exec_driver_sql("DROP VIEW alembic_version")


def test_a_jobs_log_tail_and_its_step(app, logged_in):
    """The job page's poll: the log after an offset, without Alembic's set-up
    noise, the step in words; the job page's roles (any logged-in user)."""
    log = (
        "upgrade heads requested by op\n"
        "10:00:01 setting up autogenerate plugin alembic.autogenerate.schemas\n"
        "10:00:01 Context impl SQLiteImpl."
    )
    (job_id,) = add(
        app,
        MigrationJob(
            action="upgrade", target="heads", requested_by="op", status="succeeded",
            log=log,
        ),
    )  # fmt: skip
    url = f"/admin/migrations/jobs/{job_id}/log"
    assert app.test_client().get(url).status_code in (302, 401, 403)
    viewer = logged_in("viewer")
    body = viewer.get(url).get_json()
    assert (
        body["text"]
        == "upgrade heads requested by op\n10:00:01 Context impl SQLiteImpl."
    )
    assert body["next"] == len(log) and body["status"] == "succeeded"
    first = len("upgrade heads requested by op")
    body = viewer.get(f"{url}?after={first}").get_json()
    assert body["text"] == "\n10:00:01 Context impl SQLiteImpl." and not body["reset"]
    assert viewer.get(f"{url}?after={len(log)}").get_json()["text"] == ""
    assert viewer.get(f"{url}?after=99999").get_json()["reset"] is True
    assert viewer.get("/admin/migrations/jobs/999999/log").status_code == 404
    page = viewer.get(f"/admin/migrations/jobs/{job_id}").get_data(as_text=True)
    assert "autogenerate plugin" not in page
    assert 'http-equiv="refresh"' not in page


def test_the_step_shown_is_the_step_running():
    from app.dbadmin.jobs.service import JobProgress

    def progress(done, running):
        return JobProgress(2, done, done + 1, "0002", 1.0, [], running=running)

    assert progress(0, False).line() == (
        "checking before step 1 of 2: nothing has run yet"
    )
    assert progress(0, True).line() == "step 1 of 2 running"
    assert progress(1, False).line() == "1 of 2 steps done"
    assert progress(1, True).line() == "step 2 of 2 running"
