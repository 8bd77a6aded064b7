"""Preflight before every run: `flask db upgrade`, `downgrade` and `flask
headway release` refuse a step that will fail before any statement runs
(schema and stamp byte-identical), `--no-preflight` skips it and the audit
trail says so; revisions written for the test on a small legacy database."""

import pytest
import sqlalchemy as sa

from app.auth.accounts import create_user
from app.extensions import db
from app.own_tables.setup import init_own_tables
from tests.helpers import (
    PASSWORD,
    csrf_token,
    login,
    migrations_head,
    schema_dump,
    version_rows,
    wait_for_job,
)
from tests.test_preflight import _legacy, execute

DUPLICATE_NAMES = """
op.add_column("employees", sa.Column("nickname", sa.String(20), nullable=True))
op.create_index("ix_employees_names", "employees", ["first_name", "last_name"],
                unique=True)
"""


def _app_with_failing_step(scripted_app, scripts, prepare):
    app = _legacy(scripted_app, prepare)
    with app.app_context():
        init_own_tables(db.engine)
    # Duplicate names for sure, whatever the generated data holds.
    execute(
        app,
        "UPDATE employees SET first_name = 'Anna', last_name = 'Ek' "
        "WHERE emp_no % 7 = 0",
    )
    scripts.write(
        "0900_safe",
        migrations_head(),
        upgrade='op.create_table("t900", sa.Column("id", sa.Integer, primary_key=1))',
    )
    scripts.write("0901_names", "0900_safe", upgrade=DUPLICATE_NAMES)
    return app


def _snapshot(app):
    with app.app_context():
        return schema_dump(db.engine), version_rows(db.engine)


def _audit(app) -> list[tuple]:
    with app.app_context(), db.engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT action, revision, success, preflight FROM headway_audit "
                "ORDER BY id"
            )
        ).all()


def test_an_upgrade_that_will_fail_is_refused_before_any_statement(
    scripted_app, scripts, prepare
):
    app = _app_with_failing_step(scripted_app, scripts, prepare)
    before = _snapshot(app)
    audit_before = _audit(app)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "refusing to upgrade: preflight finds that 0901_names will fail" in (
        result.output
    )
    assert "groups of duplicate values in employees(first_name, last_name)" in (
        result.output
    )
    assert "to fix: remove the duplicates first" in result.output
    # The step before it passes, and the way to run it alone is named.
    assert "`flask db upgrade 0900_safe` runs them" in result.output
    assert "--no-preflight" in result.output
    # Nothing ran: schema and stamp byte-identical, no audit row.
    assert _snapshot(app) == before
    assert _audit(app) == audit_before


def test_no_preflight_runs_it_and_the_audit_says_so(scripted_app, scripts, prepare):
    app = _app_with_failing_step(scripted_app, scripts, prepare)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade", "0900_safe"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["db", "upgrade", "--no-preflight"])
    assert result.exit_code == 1, result.output
    # The server's own refusal, this time, after the step started.
    assert "Duplicate entry" in result.output or "UNIQUE constraint" in result.output
    rows = _audit(app)
    assert rows[-2][1:] == ("0900_safe", True, "passed")
    assert rows[-1][1:] == ("0901_names", False, "skipped")


def test_a_downgrade_that_will_fail_is_refused(scripted_app, scripts, prepare):
    app = _legacy(scripted_app, prepare)
    # Its downgrade makes a column NOT NULL that holds NULLs by then.
    scripts.write(
        "0900_nullable",
        migrations_head(),
        upgrade="""
        with op.batch_alter_table("titles") as batch:
            batch.alter_column("to_date", existing_type=sa.Date(), nullable=True)
        """,
        downgrade="""
        with op.batch_alter_table("titles") as batch:
            batch.alter_column("to_date", existing_type=sa.Date(), nullable=False)
        """,
    )
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    execute(app, "UPDATE titles SET to_date = NULL WHERE emp_no % 5 = 0")
    before = _snapshot(app)
    result = runner.invoke(args=["db", "downgrade"])
    assert result.exit_code == 1, result.output
    assert "refusing to downgrade: preflight finds that 0900_nullable will fail" in (
        result.output
    )
    assert "rows with NULL in titles(to_date)" in result.output
    assert "to fix: fill in the NULLs first" in result.output
    assert _snapshot(app) == before


def test_a_release_refuses_a_step_that_will_fail(scripted_app, scripts, prepare):
    app = _app_with_failing_step(scripted_app, scripts, prepare)
    before = _snapshot(app)
    result = app.test_cli_runner().invoke(args=["headway", "release"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "preflight finds that 0901_names will fail" in result.output
    assert _snapshot(app) == before


# --- The console and the API ---------------------------------------------------


def _operator(app):
    with app.app_context():
        create_user("op", PASSWORD, "operator")
        create_user("viewer", PASSWORD, "viewer")
    client = app.test_client()
    assert login(client, "op").status_code == 302
    return client


@pytest.mark.live
def test_the_console_runs_preflight_as_a_job_and_the_plan_shows_it(
    scripted_app, scripts, prepare
):
    app = _app_with_failing_step(scripted_app, scripts, prepare)
    operator = _operator(app)
    viewer = app.test_client()
    assert login(viewer, "viewer").status_code == 302
    path = "/admin/migrations/plan?target=head"
    # A page load runs no preflight (viewer or operator): nothing kept yet.
    page = viewer.get(path).get_data(as_text=True)
    assert 'data-verdict="none"' in page and "preflight-form" not in page
    assert (
        operator.get("/api/migrations/plan?target=head").get_json()["preflight"] is None
    )
    with app.app_context(), db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM headway_jobs").scalar() == 0
    # A viewer may not start one.
    token = csrf_token(viewer, path)
    response = viewer.post(
        "/admin/migrations/plan/preflight", data={"csrf_token": token, "target": "head"}
    )
    assert response.status_code == 403
    # The operator's button: a job, then the result beside each step.
    token = csrf_token(operator, path)
    response = operator.post(
        "/admin/migrations/plan/preflight", data={"csrf_token": token, "target": "head"}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    job_id = int(response.location.rstrip("/").rsplit("/", 1)[1])
    job = wait_for_job(operator, job_id)
    assert (job["action"], job["status"]) == ("preflight", "succeeded"), job
    page = viewer.get(path).get_data(as_text=True)
    assert 'id="plan-preflight" data-verdict="fails"' in page
    assert "just now" in page
    assert f"job #{job_id}" in page
    assert 'class="preflight-step mb-2" data-verdict="fails"' in page
    assert "groups of duplicate values in employees(first_name, last_name)" in page
    plan = viewer.get("/api/migrations/plan?target=head").get_json()
    kept = plan["preflight"]
    assert (kept["verdict"], kept["job_id"], kept["checked_by"]) == (
        "fails",
        job_id,
        "op",
    )
    assert [s["revision"] for s in kept["steps"]] == ["0900_safe", "0901_names"]
    assert [s["verdict"] for s in kept["steps"]] == ["safe", "fails"]
    [finding] = [f for st in kept["steps"][1]["statements"] for f in st["findings"]]
    assert (finding["kind"], finding["severity"]) == ("duplicates", "fails")

    # An upgrade job runs preflight first and is refused before any statement.
    before = _snapshot(app)
    token = csrf_token(operator, path)
    response = operator.post(
        "/admin/migrations/jobs",
        data={"csrf_token": token, "action": "upgrade", "target": "head",
              "confirm": "yes"},
    )  # fmt: skip
    assert response.status_code == 302, response.get_data(as_text=True)
    job = wait_for_job(operator, int(response.location.rsplit("/", 1)[1]))
    assert job["status"] == "failed", job
    assert "preflight finds that 0901_names will fail" in job["error"]
    # The whole refusal, with what to fix and how to skip it, in its log.
    assert "to fix: remove the duplicates first" in job["log"]
    assert '"no_preflight": true (API)' in job["log"]
    assert _snapshot(app) == before
    # Its preflight is the newest of the plan now.
    kept = viewer.get("/api/migrations/plan?target=head").get_json()["preflight"]
    assert kept["job_id"] == job["id"]


@pytest.mark.live
def test_no_preflight_in_the_api(scripted_app, scripts, prepare):
    app = _app_with_failing_step(scripted_app, scripts, prepare)
    operator = _operator(app)
    token = csrf_token(operator, "/admin/migrations/plan")
    headers = {"X-CSRFToken": token}
    response = operator.post(
        "/api/migrations/jobs",
        json={"action": "stamp", "target": "head", "typed_target": "head",
              "no_preflight": True},
        headers=headers,
    )  # fmt: skip
    assert response.status_code == 400
    assert (
        "no_preflight only goes with upgrade and downgrade"
        in (response.get_json()["error"])
    )
    response = operator.post(
        "/api/migrations/jobs",
        json={"action": "upgrade", "target": "head", "no_preflight": True},
        headers=headers,
    )
    assert response.status_code == 202, response.get_json()
    job = wait_for_job(operator, response.get_json()["id"])
    # Not refused first: the server refuses the index when it runs.
    assert job["status"] == "failed", job
    assert "preflight" not in job["error"]
    assert job["no_preflight"] is True
    rows = _audit(app)
    assert rows[-2][1:] == ("0900_safe", True, "skipped")
    assert rows[-1][1:] == ("0901_names", False, "skipped")
