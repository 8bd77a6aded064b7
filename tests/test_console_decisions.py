"""The console's second round, through the test client: the plan page made for
a decision (picker, decision on top, SQL once, the download, a confirmation
that fails and keeps the plan, what a stamp checks), jobs (409 first, 404 "no
job #N", tracebacks folded, the audit rows of a job) and the staleness of a
drift check. On every dialect under test; jobs run in their own process."""

import os
import re
import socket
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.auth.accounts import create_user
from app.clock import utcnow
from app.dbadmin.core.drift import drift_status, is_stale
from app.dbadmin.web.joblog import log_parts
from app.demo.legacy import create_legacy
from app.extensions import db
from app.models.console import DriftCheck, MigrationAudit, MigrationJob
from tests.helpers import (
    PASSWORD,
    ROOT,
    csrf_token,
    login,
    migrations_head,
    wait_for_job,
)
from tests.templates import AT_HEAD

HEAD = migrations_head()
ADD_PHONE = 'op.add_column("employees", sa.Column("phone", sa.String(20)))'
DROP_PHONE = 'op.drop_column("employees", "phone")'


@pytest.fixture
def console(scripted_app, scripts, make_console):
    """A database at HEAD with one more revision to go (0005_phone), Headway's
    tables, an operator and a viewer logged in."""
    console = make_console(
        scripted_app,
        AT_HEAD + (("user", "op", "operator"), ("user", "watcher", "viewer")),
        "op",
        "watcher",
    )
    scripts.write("0005_phone", HEAD, ADD_PHONE, DROP_PHONE, message="a phone column")
    console.client.csrf = csrf_token(console.client, "/admin/migrations/")
    return console


def text(response) -> str:
    return response.get_data(as_text=True)


def job_id_of(response) -> int:
    assert response.status_code == 302, text(response)
    return int(response.location.rstrip("/").rsplit("/", 1)[1])


def test_the_plan_page_is_made_for_a_decision(console):
    operator, viewer = console.client, console.viewer
    page = text(viewer.get("/admin/migrations/plan?target=0005"))
    # The picker: head, heads, base and every revision with its message; a
    # prefix in the query string is resolved and selected.
    picker = page.split('id="plan-picker"')[1].split("</form>")[0]
    for value in ("head", "heads", "base", HEAD, "0001_baseline"):
        assert f'<option value="{value}"' in picker
    assert '<option value="0005_phone" selected>0005_phone · a phone column' in picker
    # What it does on top, then the SQL, once, per step, open, then the
    # confirmation.
    assert page.index('id="plan-decision"') < page.index('id="plan-steps"')
    summary = page.split('id="plan-summary">')[1].split("</p>")[0]
    assert "Upgrade" in summary and f"<code>{HEAD}</code>" in summary
    assert "1 step," in summary
    assert page.count("ADD COLUMN phone") == 1
    assert '<details class="card mb-2 step" data-revision="0005_phone" open>' in page
    assert "All the SQL" not in page
    assert 'href="/admin/migrations/plan.sql?target=0005_phone"' in page
    # A viewer sees no button; an operator's is below the SQL it confirms.
    assert 'data-action="upgrade"' not in page
    page = text(operator.get("/admin/migrations/plan?target=0005_phone"))
    confirm = page.split('id="plan-steps"')[1].split('id="plan-confirm"')[1]
    assert 'data-action="upgrade"' in confirm
    assert 'action="/admin/migrations/plan?target=0005_phone"' in confirm
    # An unknown target keeps the picker, with the error.
    response = viewer.get("/admin/migrations/plan?target=nope")
    assert response.status_code == 400
    assert 'id="plan-error"' in text(response)
    assert '<option value="nope" selected>' in text(response)


def test_the_picker_lists_the_newest_and_takes_any_id_typed(console, scripts):
    """The pickers list the newest PICKER_REVISIONS revisions, not one option
    per revision; any other is typed (an id or its start) and planned."""
    from app.dbadmin.web.views import PICKER_REVISIONS

    operator, viewer = console.client, console.viewer
    down = "0005_phone"
    for n in range(PICKER_REVISIONS + 5):
        scripts.write(f"r{n:04d}_step", down, message=f"step {n}")
        down = f"r{n:04d}_step"
    total = 5 + PICKER_REVISIONS + 5  # 0001 to 0004, 0005_phone and the steps
    page = text(viewer.get("/admin/migrations/plan"))
    picker = page.split('id="plan-picker"')[1].split("</form>")[0]
    listed = re.findall(r'<option value="([^"]*)"', picker)
    newest = [f"r{n:04d}_step" for n in range(PICKER_REVISIONS + 4, 4, -1)]
    assert listed == ["", "head", "heads", "base", *newest]
    # The field for any other: labelled, saying how many the list shows.
    typed = page.split('id="plan-by-id"')[1].split("</form>")[0]
    assert '<label class="mr-2" for="target-id">Or type a revision id</label>' in typed
    assert 'id="target-id" name="target" required' in typed
    assert f"The list shows the newest {PICKER_REVISIONS} of {total} revisions" in typed
    # An older revision, typed by the start of its id: planned, and shown in
    # the picker as the target.
    response = viewer.get("/admin/migrations/plan?target=0002")
    assert response.status_code == 200
    page = text(response)
    assert "Downgrade" in page.split('id="plan-summary">')[1].split("</p>")[0]
    picker = page.split('id="plan-picker"')[1].split("</form>")[0]
    assert '<option value="0002_employee_email" selected>' in picker
    # An id that names no revision: the error, read with the picker.
    response = viewer.get("/admin/migrations/plan?target=r9999")
    assert response.status_code == 400
    page = text(response)
    assert "unknown target revision &#39;r9999&#39;" in page
    assert 'name="target" aria-describedby="plan-error"' in page
    # The stamp picker (an operator's, on this database behind) alike.
    page = text(operator.get("/admin/migrations/plan"))
    stamp = page.split('id="stamp"')[1].split("</details>")[0]
    assert stamp.count("<option value=") == 1 + 3 + PICKER_REVISIONS
    assert '<label class="mr-2" for="stamp-id">Or type a revision id</label>' in stamp
    assert 'id="stamp-id" name="stamp" required' in stamp


def test_download_sql(console):
    app, viewer = console.app, console.viewer
    response = viewer.get("/admin/migrations/plan.sql?target=0005")
    assert response.status_code == 200
    assert response.mimetype == "application/sql"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="upgrade-to-0005_phone.sql"'
    )
    body = text(response)
    plan = viewer.get("/api/migrations/plan?target=0005_phone").get_json()
    assert body.startswith(
        f"-- Headway plan: upgrade from {HEAD} to 0005_phone, 1 step\n"
    )
    assert body.endswith(plan["sql"]) and "ADD COLUMN phone" in body
    response = viewer.get("/admin/migrations/plan.sql?target=nope")
    assert response.status_code == 400
    assert text(response) == "unknown target revision 'nope'\n"
    assert viewer.get("/admin/migrations/plan.sql").status_code == 400
    anonymous = app.test_client().get("/admin/migrations/plan.sql?target=head")
    assert anonymous.status_code == 302 and "/login" in anonymous.location


@pytest.mark.live
def test_a_failed_confirmation_keeps_the_plan(console):
    app, operator, viewer = console.app, console.client, console.viewer
    form = {
        "csrf_token": operator.csrf,
        "action": "upgrade",
        "target": "0005_phone",
    }
    url = "/admin/migrations/plan?target=0005_phone"
    response = operator.post(url, data=form)
    assert response.status_code == 400
    page = text(response)
    assert 'id="plan-decision"' in page and 'id="plan-steps"' in page
    assert "ADD COLUMN phone" in page
    # Beside the checkbox.
    assert 'id="confirm-upgrade" aria-describedby="confirm-upgrade-error"' in page
    assert re.search(
        r'id="confirm-upgrade-error">tick the confirmation box to start it<', page
    )
    # A form changed by hand: its error above the forms the page has.
    response = operator.post(
        "/admin/migrations/plan", data={**form, "action": "explode", "confirm": "yes"}
    )
    assert response.status_code == 400
    error = text(response).split('id="form-error"')[1].split("</div>")[0]
    assert "action: Input should be" in error
    # The same from the older URL (/jobs): the plan stays.
    response = operator.post("/admin/migrations/jobs", data=form)
    assert response.status_code == 400 and 'id="plan-steps"' in text(response)

    # A downgrade with the target typed wrong: the error beside the field.
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO employees (emp_no, birth_date, first_name, last_name, "
                "gender, hire_date, phone) VALUES (1, '1960-01-01', 'A', 'B', 'F', "
                "'1990-01-01', '555')"
            )
        )
    # The decision's warnings carry the counts of what they drop.
    page = text(operator.get(f"/admin/migrations/plan?target={HEAD}"))
    warnings = page.split('id="plan-warnings"')[1].split("</ul>")[0]
    assert (
        "drops column employees.phone and its data: "
        '<strong class="row-count">1 non-NULL value</strong>'
    ) in warnings
    form = {
        **form, "action": "downgrade", "target": HEAD, "confirm": "yes",
        "allow_data_loss": "true",
    }  # fmt: skip
    response = operator.post(
        f"/admin/migrations/plan?target={HEAD}", data={**form, "typed_target": "0003"}
    )
    assert response.status_code == 400
    page = text(response)
    assert 'data-direction="downgrade"' in page and "DROP COLUMN phone" in page
    assert 'class="form-control is-invalid" id="typed-downgrade"' in page
    assert 'value="0003"' in page
    assert (
        f'id="typed-downgrade-error">type the target ({HEAD}) again to confirm '
        "the downgrade<"
    ) in page
    # Nothing ran.
    assert viewer.get("/api/migrations/status").get_json()["current"] == ["0005_phone"]

    # Right, it starts, and the job page lists the audit rows it wrote.
    response = operator.post(
        f"/admin/migrations/plan?target={HEAD}", data={**form, "typed_target": HEAD}
    )
    job_id = job_id_of(response)
    job = wait_for_job(operator, job_id, seconds=90)
    assert job["status"] == "succeeded", job
    # Every schema-changing job ends with a drift check.
    assert f"drift check: no drift at {HEAD}" in job["log"]
    page = text(viewer.get(f"/admin/migrations/jobs/{job_id}"))
    steps = page.split('id="job-steps"')[1].split("</table>")[0]
    assert "0005_phone" in steps and "downgrade" in steps and ">op<" in steps
    assert f'href="/admin/migrations/audit?job={job_id}"' in page
    assert viewer.get("/api/migrations/status").get_json()["drift_state"] == "clean"


def running_job(app) -> int:
    """A job row that runs (its pid is this process: alive, on this host)."""
    with app.app_context():
        job = MigrationJob(
            action="downgrade", target="0001_baseline", requested_by="someone",
            status="running", pid=os.getpid(), host=socket.gethostname(),
            from_revisions=HEAD, planned=HEAD, log="",
        )  # fmt: skip
        db.session.add(job)
        db.session.commit()
        return job.id


def test_a_running_job_answers_409_before_anything_else(console):
    app, operator = console.app, console.client
    job_id = running_job(app)
    headers = {"X-CSRFToken": operator.csrf}
    # Nothing to do, a bad target, the wrong direction: 409 all the same.
    for body in (
        {"action": "upgrade", "target": HEAD},
        {"action": "upgrade", "target": "nope"},
        {"action": "downgrade", "target": "heads", "typed_target": "heads"},
    ):
        response = operator.post("/api/migrations/jobs", json=body, headers=headers)
        assert response.status_code == 409, (body, response.get_json())
        answer = response.get_json()
        assert answer["error"].startswith(
            f"another migration is running: job #{job_id}"
        )
        assert answer["job"] == {
            "id": job_id,
            "url": f"/api/migrations/jobs/{job_id}",
            "page": f"/admin/migrations/jobs/{job_id}",
        }
    # The console's form: 409 before its confirmation is looked at, with a link.
    response = operator.post(
        "/admin/migrations/plan?target=0005_phone",
        data={"csrf_token": operator.csrf, "action": "upgrade", "target": "0005_phone"},
    )
    assert response.status_code == 409
    page = text(response)
    assert 'id="plan-steps"' in page
    error = page.split('id="form-error-upgrade"')[1].split("</div>")[0]
    assert f"job #{job_id}" in error
    assert f'href="/admin/migrations/jobs/{job_id}"' in error
    # A drift check waits too.
    response = operator.post(
        "/admin/migrations/drift", data={"csrf_token": operator.csrf}
    )
    assert response.status_code == 302
    page = text(operator.get("/admin/migrations/drift"))
    assert f"No drift check now: another migration is running: job #{job_id}" in page
    assert f'<a href="/admin/migrations/jobs/{job_id}">see job #{job_id}</a>' in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(MigrationJob.id))) == 1


def test_unknown_job_is_a_404(console):
    viewer = console.viewer
    response = viewer.get("/admin/migrations/jobs/999")
    assert response.status_code == 404
    page = text(response)
    assert "No job #999" in page and "Unknown revision" not in page
    response = viewer.get("/api/migrations/jobs/999")
    assert response.status_code == 404
    assert response.get_json() == {"error": "no job #999"}


@pytest.mark.live
def test_a_job_page_has_one_banner(console, scripts):
    operator, viewer = console.client, console.viewer
    response = operator.post(
        "/admin/migrations/plan?target=0005_phone",
        data={"csrf_token": operator.csrf, "action": "upgrade",
              "target": "0005_phone", "confirm": "yes"},
    )  # fmt: skip
    job_id = job_id_of(response)
    assert wait_for_job(operator, job_id, seconds=90)["status"] == "succeeded"
    # A newer revision arrives: the database is behind, the job succeeded.
    scripts.write("0005_more", "0005_phone")
    page = text(viewer.get(f"/admin/migrations/jobs/{job_id}"))
    assert page.count('class="alert ') == 1
    assert 'id="state"' not in page
    assert 'id="job-status" data-status="succeeded"' in page
    assert 'id="job-database-state" data-state="behind"' in page


def test_a_traceback_is_folded_to_its_last_line():
    log = "\n".join(
        [
            "10:00:00 upgrade heads requested by op",
            "10:00:01 Running upgrade a -> b",
            "Traceback (most recent call last):",
            '  File "x.py", line 1, in <module>',
            "    f()",
            "ZeroDivisionError: division by zero",
            "",
            "The above exception was the direct cause of the following exception:",
            "",
            "Traceback (most recent call last):",
            '  File "y.py", line 2, in f',
            "    raise RuntimeError('boom')",
            "RuntimeError: boom",
            "on two lines",
            "failed: RuntimeError: boom",
            "failed; the database is at a",
        ]
    )
    parts = log_parts(log)
    assert [p.last_line for p in parts] == [None, "RuntimeError: boom", None]
    assert parts[1].text.startswith("Traceback") and parts[1].text.endswith(
        "on two lines"
    )
    assert parts[2].text == "failed: RuntimeError: boom\nfailed; the database is at a"
    assert log_parts("no traceback here")[0].last_line is None


@pytest.mark.live
def test_a_failed_job_shows_its_traceback_in_details(console, scripts):
    operator, viewer = console.client, console.viewer
    scripts.write("0005_boom", "0005_phone", 'raise RuntimeError("boom from 0005")')
    response = operator.post(
        "/api/migrations/jobs",
        json={"action": "upgrade", "target": "0005_boom", "no_preflight": True},
        headers={"X-CSRFToken": operator.csrf},
    )
    assert response.status_code == 202, response.get_json()
    job = wait_for_job(operator, response.get_json()["id"], seconds=90)
    assert job["status"] == "failed" and "Traceback" in job["log"]
    page = text(viewer.get(f"/admin/migrations/jobs/{job['id']}"))
    folded = page.split('<details class="traceback mb-2">')[1].split("</details>")[0]
    assert (
        '<code class="traceback-last-line">RuntimeError: boom from 0005</code>'
        in folded
    )
    assert "Traceback (most recent call last):" in folded
    log = page.split('id="job-log"')[1]
    assert log.count("Traceback (most recent call last):") == 1


@pytest.mark.live
def test_viewers_see_no_server_paths_or_host_names(console, scripts):
    """A failed job's traceback names files on the server; its page names
    the host and the output file. Operators see them; viewers see the last
    part of each path only. The job's output file is Headway's alone."""
    operator, viewer = console.client, console.viewer
    scripts.write("0005_boom", "0005_phone", 'raise RuntimeError("boom from 0005")')
    response = operator.post(
        "/api/migrations/jobs",
        json={"action": "upgrade", "target": "0005_boom", "no_preflight": True},
        headers={"X-CSRFToken": operator.csrf},
    )
    job_id = response.get_json()["id"]
    assert wait_for_job(operator, job_id, seconds=90)["status"] == "failed"
    output = scripts.directory.parent / "jobs" / f"job-{job_id}-run.out"
    host = socket.gethostname()
    paths = (str(scripts.directory.parent), str(ROOT))
    host_name = re.compile(rf"(?<![\w.-]){re.escape(host)}(?![\w-])")

    page = text(operator.get(f"/admin/migrations/jobs/{job_id}"))
    assert f"on {host}, its output in <code>{output}</code>" in page
    assert str(scripts.directory / "versions") in page  # the traceback's frames
    answer = operator.get(f"/api/migrations/jobs/{job_id}").get_json()
    assert answer["host"] == host and answer["pid"] > 0

    page = text(viewer.get(f"/admin/migrations/jobs/{job_id}"))
    answer = viewer.get(f"/api/migrations/jobs/{job_id}").get_json()
    history = viewer.get(f"/api/migrations/audit?job={job_id}").get_json()
    audit = text(viewer.get(f"/admin/migrations/audit?job={job_id}"))
    for shown in (page, str(answer), str(history), audit):
        assert not any(path in shown for path in paths)
        assert host_name.search(shown) is None
    assert "@(server)" in audit
    assert "…/0005_boom.py" in page
    assert "RuntimeError: boom from 0005" in page
    assert "pid" not in answer and "host" not in answer

    assert output.stat().st_mode & 0o777 == 0o600
    assert output.parent.stat().st_mode & 0o777 == 0o700


@pytest.mark.live
def test_a_job_cut_off_by_the_database_says_so(console, scripts, database_url):
    """The database goes away during a step and is gone when the job would
    record its end: the process leaves its last words, and the job's page
    shows them, not a guess that it was killed. (The outage is made on
    SQLite: the runner handles every dialect's OperationalError alike.)"""
    operator, viewer = console.client, console.viewer
    if not database_url.startswith("sqlite"):
        pytest.skip("the outage is made by moving the SQLite file away")
    path = database_url.removeprefix("sqlite:///")
    scripts.write(
        "0005_outage",
        "0005_phone",
        f"""
        import os
        from app.extensions import db
        os.replace({path!r}, {path + ".away"!r})
        db.engine.dispose()  # every connection is lost, as in an outage
        raise RuntimeError("lost the database")
        """,
    )
    response = operator.post(
        "/api/migrations/jobs",
        json={"action": "upgrade", "target": "0005_outage", "no_preflight": True},
        headers={"X-CSRFToken": operator.csrf},
    )
    assert response.status_code == 202, response.get_json()
    job_id = response.get_json()["id"]
    last_words = scripts.directory.parent / "jobs" / f"job-{job_id}-run.end"
    deadline = time.monotonic() + 60
    while not last_words.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert last_words.exists()
    assert last_words.stat().st_mode & 0o777 == 0o600
    # The database is back.
    time.sleep(0.5)
    os.replace(path + ".away", path)
    job = wait_for_job(viewer, job_id, seconds=30)
    assert job["status"] == "interrupted"
    assert job["error"].startswith(
        "its process ended without recording the job's end: it had failed "
        "(lost the database), and then the database refused a statement: no such "
        "table"
    ), job["error"]
    assert "killed?" not in job["error"]
    page = text(viewer.get(f"/admin/migrations/jobs/{job_id}"))
    assert "it had failed (lost the database)" in page


def test_a_stamp_shows_what_it_will_check(scripted_app):
    """On the legacy database (unversioned): the stamp's proof, made now."""
    app = scripted_app
    with app.app_context():
        create_legacy(db.engine, scale=0.005, seed=7)
    assert app.test_cli_runner().invoke(args=["headway", "init"]).exit_code == 0
    with app.app_context():
        create_user("op", PASSWORD, "operator")
    client = app.test_client()
    assert login(client, "op").status_code == 302
    page = text(client.get("/admin/migrations/plan?stamp=head"))
    check = page.split('id="stamp-check"')[1].split("</div>")[0]
    assert 'data-outcome="refused"' in check
    assert f"refusing to stamp {HEAD}" in check
    assert "column employees.email: missing" in check
    assert 'data-action="stamp"' in page and "I have read the check above" in page
    page = text(client.get("/admin/migrations/plan?stamp=0001"))
    check = page.split('id="stamp-check"')[1].split("</div>")[0]
    assert 'data-outcome="verified"' in check
    assert "verified: the live schema is 0001_baseline&#39;s" in check
    # The adoption says what it compares, and its dry run.
    assert 'id="adoption-dry-run" data-matches="true"' in page
    assert "I have read the dry run above" in page
    # A failed stamp confirmation keeps the check on screen.
    response = client.post(
        "/admin/migrations/plan?stamp=0001",
        data={"csrf_token": csrf_token(client, "/admin/migrations/"),
              "action": "stamp", "target": "0001", "confirm": "yes",
              "typed_target": "0002"},
    )  # fmt: skip
    assert response.status_code == 400
    page = text(response)
    assert 'id="stamp-check" data-outcome="verified"' in page
    assert 'id="typed-stamp-error">type the target (0001) again' in page


def test_a_check_before_the_last_schema_change_is_stale(console):
    app, viewer = console.app, console.viewer
    with app.app_context():
        now = utcnow().replace(microsecond=0)
        check = DriftCheck(
            checked_at=now - timedelta(minutes=5), checked_by="op",
            revisions=HEAD, model_differences="",
        )  # fmt: skip
        db.session.add(check)
        db.session.commit()
        # Only the audit rows of the steps before it: clean.
        assert drift_status(db.session, (HEAD,)).state == "clean"
        db.session.add(
            MigrationAudit(
                action="downgrade", revision=HEAD, duration_ms=20,
                started_at=now - timedelta(minutes=1), success=True,
                actor="someone@host",
            )
        )  # fmt: skip
        db.session.commit()
        status = drift_status(db.session, (HEAD,))
        assert status.state == "stale" and status.drifted is None
        assert status.last_change == now - timedelta(minutes=1, milliseconds=-20)
        assert not is_stale(check, None) and not is_stale(None, now)
    body = viewer.get("/api/migrations/status").get_json()
    assert body["drift"] is None and body["drift_state"] == "stale"
    dashboard = text(viewer.get("/admin/migrations/"))
    assert 'id="drift" data-state="stale"' in dashboard
    assert "stale: checked before the last schema change at" in dashboard
    assert "No drift" not in dashboard
    page = text(viewer.get("/admin/migrations/drift"))
    assert 'id="drift-state" data-state="stale"' in page
    assert "checked before the last schema change at" in page
