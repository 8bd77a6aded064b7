"""The console's write side: jobs in their own process, one lock for web and
CLI, the audit trail, failures and interruptions. With a real gunicorn (3
workers, a 5 s timeout) where the behaviour depends on it."""

import getpass
import hashlib
import os
import signal
import socket
import threading
import time

import pytest

from tests.helpers import (
    csrf_token,
    login,
    migrations_head,
    run_flask,
    wait_for_job,
)
from tests.live import LiveServer, user_command

HEAD = migrations_head()
SLOW = "import time\ntime.sleep({seconds})"


@pytest.fixture
def live(database_url, scripts):
    """gunicorn on a database at 0002, Headway's tables, an operator and a
    viewer (each with an API token)."""
    server = LiveServer(database_url, scripts.directory)
    out = server.flask_batch(
        ("db", "upgrade", HEAD),
        ("headway", "init"),
        user_command("op", "operator"),
        ("users", "token", "create", "op"),
        user_command("watcher", "viewer"),
        ("users", "token", "create", "watcher"),
    )
    server.operator, server.viewer = (out[i].strip().splitlines()[-1] for i in (3, 5))
    server.scripts = scripts
    yield server
    server.stop()


def start(server, action="upgrade", target="heads", token=None, **options):
    return server.request(
        "POST",
        "/api/migrations/jobs",
        {"action": action, "target": target, **options},
        token=token or server.operator,
    )


def version(server) -> list[str]:
    out = server.flask("db", "current").stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


@pytest.mark.live
def test_one_job_at_a_time_longer_than_the_worker_timeout(live):
    # 8 s: longer than gunicorn's 5 s worker timeout.
    live.scripts.write("0003_slow", HEAD, SLOW.format(seconds=8))
    live.start()

    barrier = threading.Barrier(10)
    answers = []

    def request():
        barrier.wait()
        answers.append(start(live))

    threads = [threading.Thread(target=request) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(code for code, _ in answers)
    assert codes == [202] + [409] * 9, answers
    job_id = next(body["id"] for code, body in answers if code == 202)
    conflict = next(body for code, body in answers if code == 409)
    assert f"job #{job_id}" in conflict["holder"] and "op" in conflict["holder"]

    # The CLI meanwhile fails fast with the lock's message.
    time.sleep(1.5)  # the job's process has taken the lock by now
    began = time.monotonic()
    result = live.flask("db", "upgrade", check=False)
    assert result.returncode == 1
    assert "another migration is running" in result.stderr
    assert f"job #{job_id} for op" in result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - began < 5

    status, job = live.request(
        "GET", f"/api/migrations/jobs/{job_id}", token=live.viewer
    )
    assert job["status"] == "running"
    assert (
        job["progress"]["total"] == 1
        and job["progress"]["current_revision"] == "0003_slow"
    )

    job = live.wait_for_job(job_id, live.operator)
    assert job["status"] == "succeeded", job
    assert job["progress"]["elapsed_seconds"] > 5
    assert job["from_revisions"] == [HEAD] and job["to_revisions"] == ["0003_slow"]
    assert f"Running upgrade {HEAD} -> 0003_slow" in job["log"]
    assert version(live) == ["0003_slow"]
    # The workers are still there and serving.
    assert live.request("GET", "/api/migrations/status", token=live.viewer)[0] == 200
    assert "WORKER TIMEOUT" not in live.log_path.read_text()


@pytest.mark.live
def test_sigkill_mid_revision_frees_the_lock_and_marks_the_job(live):
    # Long enough to be killed in the middle; short, because comparing the
    # schema with this revision's afterwards builds it (and sleeps) again.
    live.scripts.write(
        "0003_slow",
        HEAD,
        'op.create_table("sec_probe", sa.Column("id", sa.Integer, primary_key=True))\n'
        + SLOW.format(seconds=10),
        # No drop in the file: the data-loss guard would render the step (its
        # sleep included) inside the request.
    )
    live.start()
    code, body = start(live)
    assert code == 202
    job_id = body["id"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        job = live.request(
            "GET", f"/api/migrations/jobs/{job_id}", token=live.operator
        )[1]
        if "Running upgrade" in job["log"]:
            break
        time.sleep(0.2)
    assert job["host"] == socket.gethostname()
    os.kill(job["pid"], signal.SIGKILL)

    job = live.wait_for_job(job_id, live.operator, seconds=15)
    assert job["status"] == "interrupted"
    assert "ended before the job finished" in job["error"]
    # Where it stopped (the step never finished), not where it was going.
    assert job["to_revisions"] == [HEAD]
    # The comparison with the schema runs in a process of its own too.
    deadline = time.monotonic() + 90
    while job["schema_report"] is None and time.monotonic() < deadline:
        time.sleep(0.5)
        job = live.request("GET", f"/api/migrations/jobs/{job_id}", token=live.viewer)[
            1
        ]
    mysql = live.engine.dialect.name == "mysql"
    if mysql:
        # The CREATE TABLE committed on its own: the journal says the step
        # was interrupted after it.
        assert (
            "partially applied: 0003_slow (upgrade) was interrupted after "
            "statement 1; 1 applied: CREATE TABLE sec_probe" in job["schema_report"]
        )
    else:
        # SQLite's transaction of the step died with the process.
        assert f"stamped at {HEAD}" in job["schema_report"]
        assert f"against the stamped revision ({HEAD}): matches" in job["schema_report"]
    # The dashboard shows the interruption and the schema's state.
    browser = live.browser("op")
    status, page = live.request("GET", "/admin/migrations/", opener=browser)
    assert status == 200
    assert 'id="last-job-problem"' in page and "interrupted" in page
    status, page = live.request(
        "GET", f"/admin/migrations/jobs/{job_id}", opener=browser
    )
    assert status == 200 and f'<dd class="col-sm-10">{HEAD} → {HEAD}</dd>' in page
    # The lock is free again: a new job is answered at once (not 409); on
    # MySQL it is refused until the partial step is rolled back.
    live.scripts.write("0003_slow", HEAD, "pass")
    if mysql:
        code, body = start(live)
        assert code == 400 and "partially applied" in body["error"], body
        code, body = start(live, action="rollback", target="0003_slow")
        assert code == 202, body
        assert live.wait_for_job(body["id"], live.operator)["status"] == "succeeded"
    code, body = start(live)
    assert code == 202, body
    assert live.wait_for_job(body["id"], live.operator)["status"] == "succeeded"


@pytest.mark.live
def test_a_failing_revision(live, database_url):
    live.scripts.write(
        "0003_partial",
        HEAD,
        'op.add_column("employees", sa.Column("nickname", sa.String(20)))\n'
        'op.execute("UPDATE no_such_table SET x = 1")',
        'op.drop_column("employees", "nickname")',
    )
    live.start()
    # (Preflight would refuse it first: this is the step that fails.)
    code, body = start(live, no_preflight=True)
    assert code == 202
    job = live.wait_for_job(body["id"], live.operator)
    assert job["status"] == "failed"
    assert "no_such_table" in job["error"]
    assert job["to_revisions"] == [HEAD]
    assert version(live) == [HEAD]
    if live.engine.dialect.name == "mysql":
        # Which statements of the failed step already ran, from the journal.
        assert (
            "partially applied: 0003_partial (upgrade) failed at statement 2; 1 "
            "applied: ALTER TABLE employees ADD COLUMN nickname" in job["schema_report"]
        )
    else:
        # SQLite took the whole step back.
        assert f"against the stamped revision ({HEAD}): matches" in job["schema_report"]

    status, history = live.request(
        "GET", f"/api/migrations/audit?job={body['id']}", token=live.viewer
    )
    assert status == 200
    [row] = history["audit"]
    assert row["success"] is False and row["revision"] == "0003_partial"
    assert "no_such_table" in row["error"] and row["actor"] == "op"
    browser = live.browser("watcher")
    page = live.request("GET", "/admin/migrations/", opener=browser)[1]
    assert 'id="last-job-problem"' in page and "no_such_table" in page


@pytest.fixture
def console(scripted_app, make_console):
    """The app in-process (jobs still run in their own process)."""
    return make_console(
        scripted_app,
        (
            ("flask", "db", "upgrade", "0001_baseline"),
            ("flask", "headway", "init"),
            ("user", "op", "operator"),
            ("user", "watcher", "viewer"),
        ),
    )


@pytest.mark.live
def test_audit_of_web_and_cli_runs_and_checksums(console, scripts, database_url):
    client = console.app.test_client()
    assert login(client, "op").status_code == 302
    # The web: through the console's form, with its confirmation.
    page = client.get("/admin/migrations/plan?target=heads").get_data(as_text=True)
    assert 'data-action="upgrade"' in page
    response = client.post(
        "/admin/migrations/jobs",
        data={
            "csrf_token": csrf_token(client, "/admin/migrations/"),
            "action": "upgrade",
            "target": HEAD,
            "confirm": "yes",
        },
    )
    assert response.status_code == 302
    job_id = int(response.location.rstrip("/").rsplit("/", 1)[1])
    assert wait_for_job(client, job_id, seconds=30)["status"] == "succeeded"

    # The CLI, beside it.
    scripts.write(
        "0003_phone",
        HEAD,
        'op.add_column("employees", sa.Column("phone", sa.String(20)))',
        'op.drop_column("employees", "phone")',
    )
    env = {"HEADWAY_MIGRATIONS_DIR": str(scripts.directory)}
    result = run_flask("db", "upgrade", database_url=database_url, **env)
    assert result.returncode == 0, result.stderr
    assert "not recorded" not in result.stderr

    rows = client.get("/api/migrations/audit").get_json()["audit"]
    by_revision = {r["revision"]: r for r in rows}
    web, cli = by_revision[HEAD], by_revision["0003_phone"]
    assert (web["actor"], web["job_id"], web["action"]) == ("op", job_id, "upgrade")
    assert cli["actor"] == f"{getpass.getuser()}@{socket.gethostname()}"
    assert (
        cli["job_id"] is None and cli["from"] == [HEAD] and cli["to"] == ["0003_phone"]
    )
    for rev, row in by_revision.items():
        if rev == "0001_baseline":
            continue
        path = scripts.versions / f"{rev}.py"
        assert row["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    # The audit page filters.
    page = client.get("/admin/migrations/audit?actor=op").get_data(as_text=True)
    table = page.split('id="audit"')[1]
    assert HEAD in table and "0003_phone" not in table

    # Editing an applied revision file is flagged.
    dashboard = client.get("/admin/migrations/").get_data(as_text=True)
    assert 'id="checksums"' not in dashboard
    path = scripts.versions / "0003_phone.py"
    path.write_text(path.read_text() + "\n# edited after it ran\n")
    dashboard = client.get("/admin/migrations/").get_data(as_text=True)
    assert 'id="checksums"' in dashboard and "0003_phone" in dashboard


@pytest.mark.live
def test_a_cli_run_before_headway_init_says_it_was_not_recorded(database_url, scripts):
    env = {"HEADWAY_MIGRATIONS_DIR": str(scripts.directory)}
    result = run_flask("db", "upgrade", database_url=database_url, **env)
    assert result.returncode == 0, result.stderr
    assert "not recorded in the audit trail" in result.stderr


def test_bad_input(console):
    op = console.app.test_client()
    assert login(op, "op").status_code == 302
    viewer = console.app.test_client()
    assert login(viewer, "watcher").status_code == 302
    token = csrf_token(op, "/admin/migrations/")
    api = {"X-CSRFToken": token}

    def post(body, client=op, headers=api):
        return client.post("/api/migrations/jobs", json=body, headers=headers)

    cases = [
        (
            {"action": "explode", "target": "head"},
            400,
            "action: Input should be 'upgrade', 'downgrade', 'stamp', 'adopt', "
            "'rollback', 'resume' or 'preflight'",
        ),
        (
            {"action": "upgrade", "target": "nope"},
            400,
            "unknown target revision 'nope'",
        ),
        ({"action": "upgrade"}, 400, "needs a target"),
        ({"action": "upgrade", "target": 5}, 400, "target: Input should be a valid"),
        (
            {"action": "upgrade", "target": "he\x00ad"},
            400,
            "target: the value must not contain control characters",
        ),
        ({"action": "upgrade", "target": "head", "x": 1}, 400, "x: Extra inputs"),
        ({"action": "upgrade", "target": "base"}, 400, "that would be a downgrade"),
        (
            {"action": "downgrade", "target": "head", "typed_target": "head"},
            400,
            "that would be a upgrade",
        ),
        (
            {"action": "downgrade", "target": "base"},
            400,
            "typed_target: type the target (base) again to confirm the downgrade",
        ),
        (
            {"action": "upgrade", "target": "0001_baseline"},
            400,
            "already at 0001_baseline",
        ),
        (
            {"action": "stamp", "target": "head", "purge": "maybe"},
            400,
            "purge: Input should be a valid boolean",
        ),
        (
            {"action": "upgrade", "target": "head", "purge": True},
            400,
            "purge only goes",
        ),
        ({"action": "adopt"}, 400, "only for an unversioned database"),
        (["upgrade"], 400, "(body): Input should be an object"),
    ]
    for body, code, message in cases:
        response = post(body)
        assert response.status_code == code, (body, response.get_json())
        assert message in response.get_json()["error"], body
    response = op.post(
        "/api/migrations/jobs",
        data="{nope",
        headers={**api, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert post({"action": "upgrade", "target": "head"}, headers={}).status_code == 400
    viewer_api = {"X-CSRFToken": csrf_token(viewer, "/admin/migrations/")}
    response = post({"action": "upgrade", "target": "head"}, viewer, viewer_api)
    assert response.status_code == 403
    assert op.get("/api/migrations/jobs/999").status_code == 404

    # The console's form: CSRF, role, confirmation, the typed target.
    form = {
        "action": "downgrade",
        "target": "base",
        "confirm": "yes",
        "typed_target": "base",
    }
    assert op.post("/admin/migrations/jobs", data=form).status_code == 400
    form["csrf_token"] = token
    viewer_form = {**form, "csrf_token": csrf_token(viewer, "/admin/migrations/")}
    assert viewer.post("/admin/migrations/jobs", data=viewer_form).status_code == 403
    for change, message in (
        ({"confirm": ""}, "tick the confirmation"),
        ({"typed_target": "bas"}, "type the target (base) again"),
    ):
        response = op.post("/admin/migrations/jobs", data={**form, **change})
        assert response.status_code == 400
        assert message in response.get_data(as_text=True)
    # Both wrong: both errors in the one answer, each beside its field.
    both = {**form, "confirm": "", "typed_target": "bas"}
    page = op.post("/admin/migrations/jobs", data=both).get_data(as_text=True)
    assert 'id="typed-downgrade-error">type the target (base) again' in page
    assert 'id="confirm-downgrade-error">tick the confirmation box' in page
    # Nothing ran.
    assert op.get("/api/migrations/status").get_json()["current"] == ["0001_baseline"]
