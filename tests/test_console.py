"""The migration console's read side, on revision chains the tests write:
linear, branched and merged. On every dialect under test."""

import re
import time

import pytest

from app.auth.accounts import create_user
from app.extensions import db
from tests.helpers import (
    PASSWORD,
    csrf_token,
    login,
    migrations_chain,
    migrations_head,
    viewer_while_down,
)

HEAD = migrations_head()
ADD_PHONE = 'op.add_column("employees", sa.Column("phone", sa.String(20)))'
DROP_PHONE = 'op.drop_column("employees", "phone")'
ADD_BADGE = (
    'op.add_column("employees", sa.Column("badge", sa.Integer(), nullable=False))'
)
DROP_BADGE = 'op.drop_column("employees", "badge")'
INSERT_EMPLOYEE = (
    "INSERT INTO employees (emp_no, birth_date, first_name, last_name, gender, "
    "hire_date) VALUES (1, '1960-01-01', 'A', 'B', 'F', '1990-01-01')"
)


@pytest.fixture
def console(scripted_app, make_console):
    return make_console(
        scripted_app,
        (("flask", "headway", "init"), ("user", "viewer", "viewer")),
        "viewer",
    )


def invoke(runner, *args):
    result = runner.invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result


def status(client):
    return client.get("/api/migrations/status")


def execute(app, sql):
    with app.app_context(), db.engine.connect() as conn:
        conn.exec_driver_sql(sql)
        conn.commit()


def test_states_status_json_and_readyz(console, scripts):
    app, runner, client = console.app, console.runner, console.client

    response = status(client)
    assert response.status_code == 200
    body = response.get_json()
    assert body["state"] == "unversioned"
    assert body["current"] == [] and body["heads"] == [HEAD]
    assert body["pending"] == migrations_chain()
    assert body["drift"] is None and body["job"] is None
    assert client.get("/readyz").status_code == 503

    invoke(runner, "db", "upgrade")
    body = status(client).get_json()
    assert (body["state"], body["current"], body["pending"]) == (
        "up_to_date", [HEAD], [],
    )  # fmt: skip
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["status"] == "ok"

    # A new revision file: the cached catalog notices it at once.
    scripts.write("0003_phone", HEAD, ADD_PHONE, DROP_PHONE)
    body = status(client).get_json()
    assert body["state"] == "behind"
    assert body["pending"] == ["0003_phone"] and body["heads"] == ["0003_phone"]
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["state"] == "behind"
    page = client.get("/admin/migrations/")
    assert 'data-state="behind"' in page.get_data(as_text=True)
    assert "0003_phone" in page.get_data(as_text=True)

    # Stamped with a revision the scripts don't have.
    execute(app, "UPDATE alembic_version SET version_num = 'f00dcafe'")
    body = status(client).get_json()
    assert body["state"] == "unknown_revision"
    assert body["current"] == ["f00dcafe"]
    assert client.get("/readyz").status_code == 503
    page = client.get("/admin/migrations/").get_data(as_text=True)
    assert 'data-state="unknown_revision"' in page and "f00dcafe" in page


def test_unreachable_database(scripts, tmp_path, database_url):
    # Log in while the database answers, then point the same secret at a
    # database that does not.
    with viewer_while_down(database_url, tmp_path, scripts.directory) as (
        down,
        down_client,
    ):
        response = down.test_client().get("/readyz")
        assert response.status_code == 503
        assert response.get_json()["state"] == "unreachable"
        for path in ("/api/migrations/status", "/api/me"):
            response = down_client.get(path)
            assert response.status_code == 503, path
            assert response.is_json
        assert status(down_client).get_json()["state"] == "unreachable"


def test_history_markers_across_a_branch_and_a_merge(console, scripts):
    runner, client = console.runner, console.client
    scripts.write("0003a_reports", HEAD, message="reports branch")
    scripts.write("0003b_photos", HEAD, message="photos branch")
    body = status(client).get_json()
    assert sorted(body["heads"]) == ["0003a_reports", "0003b_photos"]
    assert "multiple-heads" in client.get("/admin/migrations/").get_data(as_text=True)

    invoke(runner, "db", "upgrade", "0003a_reports")
    scripts.write("0004_merge", ["0003a_reports", "0003b_photos"], message="merge")

    page = client.get("/admin/migrations/history").get_data(as_text=True)
    markers = dict(
        re.findall(
            r'<tr data-revision="([^"]+)" class="(\w+)">.*?'
            r'<td class="marker"><span class="marker-\2">\2</span>',
            page,
            re.S,
        )
    )
    assert markers == {
        "0004_merge": "pending",
        "0003b_photos": "pending",
        "0003a_reports": "current",
        **{rev: "applied" for rev in migrations_chain()},
    }
    kinds = dict(
        re.findall(
            r'<tr data-revision="([^"]+)".*?<td class="kinds">(.*?)</td>', page, re.S
        )
    )
    assert "merge point" in kinds["0004_merge"] and "head" in kinds["0004_merge"]
    assert "branch point" in kinds[HEAD]
    assert "current" in kinds["0003a_reports"]
    assert "base" in kinds["0001_baseline"]
    # Each row has its piece of the graph, its node a link to the revision.
    for rev in markers:
        assert f'<a href="/admin/migrations/revision/{rev}"><title>{rev}<' in page

    revisions = client.get("/api/migrations/revisions").get_json()["revisions"]
    assert {r["id"]: r["applied"] for r in revisions} == {
        rev: mark != "pending" for rev, mark in markers.items()
    }

    invoke(runner, "db", "upgrade", "heads")
    body = status(client).get_json()
    assert body["state"] == "up_to_date" and body["current"] == ["0004_merge"]


def test_sql_preview_matches_the_cli(console, scripts):
    runner, client = console.runner, console.client
    invoke(runner, "db", "upgrade")
    scripts.write("0003_phone", HEAD, ADD_PHONE, DROP_PHONE)
    scripts.write("0004_drop_phone", "0003_phone", DROP_PHONE, ADD_PHONE)

    cli = runner.invoke(args=["db", "upgrade", "--sql", f"{HEAD}:0004_drop_phone"])
    assert cli.exit_code == 0, cli.output
    plan = client.get("/api/migrations/plan?target=0004_drop_phone").get_json()
    assert plan["direction"] == "upgrade"
    assert [s["revision"] for s in plan["steps"]] == ["0003_phone", "0004_drop_phone"]
    # The CLI's script starts with the warnings the console shows beside it.
    header, script = without_headway_header(cli.stdout)
    assert "-- lint 0004_drop_phone: drops column employees.phone" in header
    assert plan["sql"].strip() == script.strip()
    assert "ADD COLUMN phone" in plan["sql"] and "DROP COLUMN phone" in plan["sql"]
    assert "".join(s["sql"] for s in plan["steps"]).strip() in plan["sql"].strip()

    # The same SQL on the revision page, for the downgrade too.
    page = client.get("/admin/migrations/revision/0004_drop").get_data(as_text=True)
    assert "DROP COLUMN phone" in page and "ADD COLUMN phone" in page

    # Downgrade previews.
    invoke(runner, "db", "upgrade", "heads")
    cli = runner.invoke(args=["db", "downgrade", "--sql", f"0004_drop_phone:{HEAD}"])
    plan = client.get(f"/api/migrations/plan?target={HEAD}").get_json()
    assert plan["direction"] == "downgrade"
    assert plan["sql"].strip() == without_headway_header(cli.stdout)[1].strip()


def without_headway_header(sql: str) -> tuple[str, str]:
    """An offline script's Headway comments (up to the first blank line), and
    the rest: Alembic's SQL."""
    if not sql.startswith("-- Headway: read this before running the script"):
        return "", sql
    header, _, rest = sql.partition("\n\n")
    return header, rest


def test_lint(console, scripts):
    app, runner, client = console.app, console.runner, console.client
    invoke(runner, "db", "upgrade")
    execute(app, INSERT_EMPLOYEE)
    scripts.write("0003_phone", HEAD, ADD_PHONE, DROP_PHONE)
    scripts.write("0004_badge", "0003_phone", ADD_BADGE, DROP_BADGE)
    scripts.write("0005_drop_phone", "0004_badge", DROP_PHONE, ADD_PHONE)

    plan = client.get("/api/migrations/plan?target=heads").get_json()
    by_step = {s["revision"]: [w["code"] for w in s["warnings"]] for s in plan["steps"]}
    assert by_step == {
        "0003_phone": [],
        # (A NOT NULL column without a default is preflight's to count.)
        "0004_badge": [],
        "0005_drop_phone": ["drop_column"],
    }
    assert all(s["reversible"] for s in plan["steps"])
    page = client.get("/admin/migrations/plan?target=heads").get_data(as_text=True)
    assert page.count('class="alert alert-danger py-1 warning"') == 1

    # A downgrade to base drops every table.
    plan = client.get("/api/migrations/plan?target=base").get_json()
    codes = [w["code"] for w in plan["warnings"]]
    assert codes.count("drop_table") == 6


def test_plan_bad_input(console, scripts):
    runner, client = console.runner, console.client
    invoke(runner, "db", "upgrade")
    response = client.get("/api/migrations/plan?target=nope")
    assert response.status_code == 400
    assert response.get_json()["error"] == "unknown target revision 'nope'"
    assert client.get("/api/migrations/plan").status_code == 400
    # A prefix of several revisions (0001_baseline ... 0004_...) names none.
    response = client.get("/api/migrations/plan?target=000")
    assert response.status_code == 400
    assert response.get_json()["error"] == (
        "'000' starts 4 revisions (0001_baseline, 0002_employee_email, "
        "0003_employee_last_name_index, ...): type more of the id"
    )
    assert client.get("/admin/migrations/plan?target=nope").status_code == 400
    response = client.get("/api/migrations/plan?target=head")
    assert response.status_code == 200 and response.get_json()["steps"] == []
    assert client.get("/admin/migrations/revision/nope").status_code == 404


def operator_client(app):
    with app.app_context():
        create_user("op", PASSWORD, "operator")
    client = app.test_client()
    assert login(client, "op").status_code == 302
    return client


def check_drift(client, token) -> dict:
    """Check now: a drift-check job, followed to its end."""
    response = client.post("/admin/migrations/drift", data={"csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert "/admin/migrations/jobs/" in response.location
    job_id = int(response.location.rstrip("/").rsplit("/", 1)[1])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get(f"/api/migrations/jobs/{job_id}").get_json()
        if job["status"] != "running":
            assert job["status"] == "succeeded", job
            assert job["action"] == "drift-check"
            return job
        time.sleep(0.2)
    raise AssertionError(job)


@pytest.mark.live
def test_drift_after_a_column_is_altered_by_hand(console, scripts, database_url):
    app, runner, viewer = console.app, console.runner, console.client
    invoke(runner, "db", "upgrade")
    # Only operators check: it builds schemas in scratch databases.
    token = csrf_token(viewer, "/admin/migrations/drift")
    assert "Check now" not in viewer.get("/admin/migrations/drift").get_data(
        as_text=True
    )
    response = viewer.post("/admin/migrations/drift", data={"csrf_token": token})
    assert response.status_code == 403
    client = operator_client(app)
    token = csrf_token(client, "/admin/migrations/drift")
    check_drift(client, token)
    assert status(client).get_json()["drift"] is False
    assert status(client).get_json()["drift_state"] == "clean"

    if database_url.startswith("mysql"):
        execute(app, "ALTER TABLE employees MODIFY first_name VARCHAR(30) NOT NULL")
        expected = (
            "column employees.first_name: type is VARCHAR(30), expected VARCHAR(14)"
        )
    else:
        execute(app, "ALTER TABLE employees ADD COLUMN nickname VARCHAR(20)")
        expected = "column employees.nickname: not in the expected schema"
    job = check_drift(client, token)
    assert re.search(r"drift check: \d+ difference", job["log"])
    assert status(client).get_json()["drift"] is True
    drift_page = client.get("/admin/migrations/drift").get_data(as_text=True)
    assert expected in drift_page
    dashboard = client.get("/admin/migrations/").get_data(as_text=True)
    assert 'id="drift"' in dashboard
    assert f"Stamped at {HEAD}, but the schema is not that revision" in dashboard


def test_broken_revision_files_are_named(console, scripts):
    app, runner, client = console.app, console.runner, console.client
    invoke(runner, "db", "upgrade")
    (scripts.versions / "0003_typo.py").write_text(
        f'revision = "0003_typo"\ndown_revision = "{HEAD}"\ndef upgrade(:\n'
    )
    scripts.write("0004_orphan", "0003_nowhere")
    scripts.write("0005_loop_a", "0005_loop_b")
    scripts.write("0005_loop_b", "0005_loop_a")
    scripts.write("0006_fine", HEAD)

    body = status(client).get_json()
    problems = {b["file"]: b["problem"] for b in body["broken_files"]}
    assert problems["0003_typo.py"].startswith("syntax error on line 3")
    assert problems["0004_orphan.py"] == (
        "line 13: down_revision 0003_nowhere does not exist"
    )
    assert problems["0005_loop_a.py"] == "part of a down_revision cycle"
    assert problems["0005_loop_b.py"] == "part of a down_revision cycle"
    # The rest of the console still works.
    assert body["state"] == "behind" and body["pending"] == ["0006_fine"]
    page = client.get("/admin/migrations/").get_data(as_text=True)
    assert "0003_typo.py" in page and "0004_orphan.py" in page
    assert client.get("/admin/migrations/history").status_code == 200
    plan = client.get("/api/migrations/plan?target=0006_fine").get_json()
    assert [s["revision"] for s in plan["steps"]] == ["0006_fine"]

    # A drift check and a job would load every file: refused at once, naming
    # the broken ones, before anything is built or started.
    operator = operator_client(app)
    token = csrf_token(operator, "/admin/migrations/drift")
    response = operator.post("/admin/migrations/drift", data={"csrf_token": token})
    assert response.status_code == 302
    page = operator.get("/admin/migrations/drift").get_data(as_text=True)
    assert "No drift check: a drift check needs every revision file" in page
    assert "0003_typo.py: syntax error on line 3" in page
    response = operator.post(
        "/api/migrations/jobs",
        json={"action": "upgrade", "target": "0006_fine"},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 400
    assert "a job needs every revision file" in response.get_json()["error"]
    assert "0004_orphan.py" in response.get_json()["error"]
    assert status(client).get_json()["job"] is None
