"""Jobs that cannot start, the proof a job process gives before it acts for a
console user, the OS user of every audited step, and the report of a step
that did not finish. On every dialect under test."""

import getpass
import hashlib
import socket
import subprocess
import sys

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models.console import MigrationAudit, MigrationJob
from tests import test_jobs
from tests.helpers import (
    ROOT,
    csrf_token,
    login,
    run_flask,
    subprocess_env,
    wait_for_job,
)
from tests.test_jobs import HEAD

# The same fixture as test_jobs.py's: the app in-process, jobs in processes.
console = test_jobs.console

OS_USER = f"{getpass.getuser()}@{socket.gethostname()}"


def operator(app):
    client = app.test_client()
    assert login(client, "op").status_code == 302
    client.csrf = csrf_token(client, "/admin/migrations/")
    return client


def start_job(client, **body):
    return client.post(
        "/api/migrations/jobs", json=body, headers={"X-CSRFToken": client.csrf}
    )


@pytest.mark.live
def test_a_job_whose_process_cannot_start_fails_at_once(console, tmp_path):
    app = console.app
    client = operator(app)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    good_dir = app.config["JOB_OUTPUT_DIR"]
    app.config["JOB_OUTPUT_DIR"] = str(blocker / "jobs")  # cannot be created

    response = start_job(client, action="upgrade", target="heads")
    assert response.status_code == 202  # the job exists, and has failed
    body = response.get_json()
    assert body["status"] == "failed"
    assert "could not start its process" in body["error"]
    job = client.get(f"/api/migrations/jobs/{body['id']}").get_json()
    assert job["status"] == "failed" and job["finished_at"]
    assert "its process could not start" in job["error"]
    assert "Not a directory" in job["error"]

    # The console's form says so too, on the job's page.
    response = client.post(
        "/admin/migrations/jobs",
        data={"csrf_token": client.csrf, "action": "upgrade", "target": "heads",
              "confirm": "yes"},
    )  # fmt: skip
    assert (
        response.status_code == 302 and "/admin/migrations/jobs/" in response.location
    )
    page = client.get(response.location).get_data(as_text=True)
    # In the job's one banner (no flash above it).
    banner = page.split('id="job-status"')[1].split("</div>\n<dl")[0]
    assert 'data-status="failed"' in banner
    assert "its process could not start" in banner

    # Nothing is left running: the next job starts at once (no 409).
    app.config["JOB_OUTPUT_DIR"] = good_dir
    response = start_job(client, action="upgrade", target="heads")
    assert response.status_code == 202, response.get_json()
    assert (
        wait_for_job(client, response.get_json()["id"], seconds=30)["status"]
        == "succeeded"
    )


def run_job_process(app, job_id, secret: str | None):
    return subprocess.run(
        [sys.executable, "-m", "app.dbadmin.jobs.runner", "run", str(job_id)],
        cwd=ROOT,
        env=subprocess_env(
            DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
            HEADWAY_MIGRATIONS_DIR=app.config["MIGRATIONS_DIR"],
        ),
        input=(secret + "\n") if secret is not None else "",
        capture_output=True,
        text=True,
        timeout=120,
    )


def job_row(app, job_id) -> MigrationJob:
    with app.app_context():
        job = db.session.get(MigrationJob, job_id)
        db.session.expunge(job)
        return job


def audit_rows(app, job_id=None) -> list[MigrationAudit]:
    with app.app_context():
        query = sa.select(MigrationAudit).order_by(MigrationAudit.id)
        if job_id is not None:
            query = query.where(MigrationAudit.job_id == job_id)
        rows = db.session.scalars(query).all()
        db.session.expunge_all()
        return rows


@pytest.mark.live
def test_a_shell_cannot_run_a_job_as_its_user(console):
    """`python -m app.dbadmin.jobs.runner run ID` from a shell is refused: only
    the process the console started holds the job's one-time secret."""
    app = console.app
    with app.app_context():
        job = MigrationJob(
            action="stamp", target="heads", requested_by="op", status="running",
            # Unverified: the point here is who may run it, not the proof.
            no_verify=True,
            from_revisions="0001_baseline", planned="", log="",
            launch_secret=hashlib.sha256(b"the console's secret").hexdigest(),
        )  # fmt: skip
        db.session.add(job)
        db.session.commit()
        job_id = job.id

    for secret in (None, "", "a guess"):
        result = run_job_process(app, job_id, secret)
        assert result.returncode == 2, result.stderr
        assert f"job #{job_id}: refused" in result.stderr
    assert job_row(app, job_id).status == "running"  # untouched
    assert audit_rows(app) == []

    # With the secret (what the console writes to the process's stdin) it runs,
    # and its steps are recorded for the job's user, with the OS user beside.
    result = run_job_process(app, job_id, "the console's secret")
    assert result.returncode == 0, result.stderr
    job = job_row(app, job_id)
    assert job.status == "succeeded" and job.launch_secret is None
    [row] = audit_rows(app, job_id)
    assert (row.actor, row.job_id, row.os_user) == ("op", job_id, OS_USER)
    # Once only.
    result = run_job_process(app, job_id, "the console's secret")
    assert result.returncode == 2


@pytest.mark.live
def test_a_console_job_records_its_user_and_the_os_user(console):
    app = console.app
    client = operator(app)
    response = start_job(client, action="upgrade", target="heads")
    assert response.status_code == 202
    job_id = response.get_json()["id"]
    assert wait_for_job(client, job_id, seconds=30)["status"] == "succeeded"
    assert job_row(app, job_id).launch_secret is None  # used
    rows = client.get(f"/api/migrations/audit?job={job_id}").get_json()["audit"]
    assert rows
    for row in rows:
        assert (row["actor"], row["job_id"], row["os_user"]) == ("op", job_id, OS_USER)
    page = client.get("/admin/migrations/audit").get_data(as_text=True)
    assert OS_USER in page


@pytest.mark.live
def test_the_environment_cannot_claim_a_console_user_or_a_job(console, database_url):
    app = console.app
    client = operator(app)
    response = start_job(client, action="upgrade", target=HEAD)
    job_id = response.get_json()["id"]
    wait_for_job(client, job_id, seconds=30)
    result = run_flask(
        "db", "downgrade", "0001_baseline",
        database_url=database_url,
        HEADWAY_MIGRATIONS_DIR=app.config["MIGRATIONS_DIR"],
        HEADWAY_ACTOR="op",
        HEADWAY_JOB_ID=str(job_id),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = client.get("/api/migrations/audit?action=downgrade").get_json()["audit"]
    assert rows
    for row in rows:
        assert (row["actor"], row["job_id"], row["os_user"]) == (OS_USER, None, OS_USER)


@pytest.mark.live
def test_the_report_names_what_the_unfinished_step_already_did(console, scripts):
    """The step creates a table and a column, then fails. On MySQL the DDL
    is not rolled back (each statement commits at once): both stay, and the
    report is the journal's account of what ran. On SQLite the step is one
    transaction: nothing stays, and the report says the schema is still the
    stamped revision's."""
    app = console.app
    scripts.write(
        "0003_probe",
        HEAD,
        'op.create_table("sec_probe", sa.Column("id", sa.Integer, primary_key=True))\n'
        'op.add_column("employees", sa.Column("nickname", sa.String(20)))\n'
        'op.execute("UPDATE no_such_table SET x = 1")',
        'op.drop_column("employees", "nickname")\nop.drop_table("sec_probe")',
    )
    client = operator(app)
    response = start_job(client, action="upgrade", target=HEAD)
    wait_for_job(client, response.get_json()["id"], seconds=30)
    # (Preflight would refuse it first: this is the step that fails.)
    response = start_job(
        client, action="upgrade", target="0003_probe", no_preflight=True
    )
    job = wait_for_job(client, response.get_json()["id"], seconds=90)
    assert job["status"] == "failed"
    report = job["schema_report"]
    with app.app_context():
        mysql = db.engine.dialect.name == "mysql"
    if mysql:
        assert (
            "partially applied: 0003_probe (upgrade) failed at statement 3; 1 and "
            "2 applied: CREATE TABLE sec_probe" in report
        ), report
        assert "ALTER TABLE employees ADD COLUMN nickname" in report, report
    else:
        assert f"stamped at {HEAD}" in report
        assert f"against the stamped revision ({HEAD}): matches" in report, report
        assert "against the unfinished step 0003_probe" in report
