"""The guards in the console and its API: the same refusals as the CLI, at
once (4xx, no job), and the console's own opt-ins (the typed confirmation
beside the counts; "allow_data_loss" and "no_verify" in the API). Jobs run in
their own process, as in production."""

import pytest

from app.demo.legacy import LEGACY_TABLES
from tests.helpers import (
    data_fingerprint,
    migrations_head,
    schema_dump,
    table_names,
    version_rows,
    wait_for_job,
)

HEAD = migrations_head()


@pytest.fixture
def console(scripted_app, make_console):
    """The legacy database (unversioned, from plain DDL), Headway's tables, an
    operator logged in."""
    return make_console(
        scripted_app,
        (
            ("legacy", 0.005, 7),
            ("flask", "headway", "init"),
            ("user", "op", "operator"),
        ),
        "op",
    )


def snapshot(engine):
    return schema_dump(engine), data_fingerprint(engine), version_rows(engine)


def jobs(engine) -> int:
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT COUNT(*) FROM headway_jobs").scalar()


@pytest.mark.live
def test_an_unversioned_database_is_offered_adoption_only(console):
    client = console.client
    engine, headers = console.engine, console.headers
    before = snapshot(engine)

    page = client.get("/admin/migrations/").get_data(as_text=True)
    assert 'id="adoption-offer"' in page
    assert "Dry run: the schema matches <code>0001_baseline</code>" in page
    assert 'data-action="adopt"' in page and "Adopt at 0001_baseline" in page
    assert "Preview the upgrade" not in page

    response = client.get("/admin/migrations/plan?target=heads")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="plan-refusal"' in page
    assert "the database is unversioned but already has employees" in page
    assert 'data-action="upgrade"' not in page
    assert 'id="adoption-dry-run" data-matches="true"' in page

    # Asked anyway: refused at once with the same reason, no job.
    response = client.post(
        "/api/migrations/jobs",
        json={"action": "upgrade", "target": "heads"},
        headers=headers,
    )
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error.startswith("the database is unversioned but already has employees")
    # In the API's terms, not the CLI's.
    assert '{"action": "adopt"}' in error and "flask " not in error
    form = {
        "csrf_token": headers["X-CSRFToken"],
        "action": "upgrade",
        "target": "heads",
        "confirm": "yes",
    }
    response = client.post("/admin/migrations/jobs", data=form)
    assert response.status_code == 400
    assert "unversioned but already has employees" in response.get_data(as_text=True)
    assert jobs(engine) == 0
    assert snapshot(engine) == before

    # Adoption, offered, works.
    response = client.post(
        "/api/migrations/jobs", json={"action": "adopt"}, headers=headers
    )
    assert response.status_code == 202
    assert wait_for_job(client, response.get_json()["id"])["status"] == "succeeded"
    assert version_rows(engine) == ["0001_baseline"]
    page = client.get("/admin/migrations/").get_data(as_text=True)
    assert 'id="adoption-offer"' not in page and "Preview the upgrade" in page


def test_a_dry_run_that_finds_no_match_shows_the_differences(console):
    client = console.client
    engine = console.engine
    with engine.connect() as conn:
        conn.exec_driver_sql("ALTER TABLE titles ADD COLUMN note VARCHAR(10)")
        conn.commit()
    page = client.get("/admin/migrations/").get_data(as_text=True)
    assert 'id="adoption-dry-run" data-matches="false"' in page
    assert "The closest is <code>0001_baseline</code>" in page
    assert "column titles.note: not in the expected schema" in page
    assert "Adopt at" not in page and "Preview the upgrade" not in page


@pytest.mark.live
def test_data_loss_needs_the_explicit_yes(console):
    runner, client = console.runner, console.client
    engine, headers = console.engine, console.headers
    for args in (["db", "adopt"], ["db", "upgrade"]):
        assert runner.invoke(args=args).exit_code == 0
    before = snapshot(engine)
    rows = {table: count for table, (count, _) in data_fingerprint(engine).items()}

    # The API: 400, naming each table with its rows and the opt-in; no job.
    response = client.post(
        "/api/migrations/jobs",
        json={"action": "downgrade", "target": "base", "typed_target": "base"},
        headers=headers,
    )
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error.startswith("refusing to downgrade: it would drop data")
    assert f"table salaries: {rows['salaries']:,} rows" in error
    assert '"allow_data_loss": true with "typed_target" (API)' in error
    # The API's yes is the console's: allow_data_loss alone is not enough,
    # the target must be typed again, exactly.
    for typed in ({}, {"typed_target": "bas"}, {"typed_target": "head"}):
        response = client.post(
            "/api/migrations/jobs",
            json={"action": "downgrade", "target": "base", "allow_data_loss": True}
            | typed,
            headers=headers,
        )
        assert response.status_code == 400, typed
        assert response.get_json()["fields"] == {
            "typed_target": "type the target (base) again to confirm the downgrade"
        }
    assert jobs(engine) == 0 and snapshot(engine) == before

    # The console's confirmation shows the counts; typing the target is the yes.
    page = client.get("/admin/migrations/plan?target=base").get_data(as_text=True)
    form_html = page.split('data-action="downgrade"')[1].split("</form>")[0]
    assert "This drops data" in form_html
    for table in LEGACY_TABLES:
        assert f"table {table}: {rows[table]:,} rows" in form_html
    assert 'name="allow_data_loss" value="true"' in form_html
    form = {
        "csrf_token": headers["X-CSRFToken"],
        "action": "downgrade",
        "target": "base",
        "confirm": "yes",
        "allow_data_loss": "true",
        "typed_target": "bas",
    }
    response = client.post("/admin/migrations/jobs", data=form)
    assert response.status_code == 400
    assert "type the target (base) again" in response.get_data(as_text=True)
    # Without the console's yes (its allow_data_loss field) the job is refused.
    response = client.post(
        "/admin/migrations/jobs",
        data={**form, "typed_target": "base", "allow_data_loss": ""},
    )
    assert response.status_code == 400
    assert "would drop data" in response.get_data(as_text=True)
    assert jobs(engine) == 0 and snapshot(engine) == before

    response = client.post(
        "/admin/migrations/jobs", data={**form, "typed_target": "base"}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    job_id = int(response.location.rstrip("/").rsplit("/", 1)[1])
    job = wait_for_job(client, job_id)
    assert job["status"] == "succeeded", job
    assert "dropping data, as allowed: table salaries" in job["log"]
    assert not set(LEGACY_TABLES) & table_names(engine)


@pytest.mark.live
def test_a_stamp_from_the_console_is_verified(console):
    client = console.client
    engine, headers = console.engine, console.headers
    before = snapshot(engine)

    def stamp(**options):
        response = client.post(
            "/api/migrations/jobs",
            json={
                "action": "stamp",
                "target": "head",
                "typed_target": "head",
                **options,
            },
            headers=headers,
        )
        assert response.status_code == 202, response.get_json()
        return wait_for_job(client, response.get_json()["id"])

    job = stamp()
    assert job["status"] == "failed"
    assert job["error"].startswith(f"refusing to stamp {HEAD}")
    assert "column employees.email: missing" in job["log"]
    # In the console's and the API's terms: no CLI command for an API caller.
    assert (
        'The database matches 0001_baseline: adopt it (the console\'s "Adopt", '
        'or {"action": "adopt"}).'
    ) in job["log"]
    assert '"no_verify": true (API)' in job["log"]
    assert "flask db" not in job["log"] + job["error"]
    assert snapshot(engine) == before

    job = stamp(no_verify=True)
    assert job["status"] == "succeeded", job
    assert version_rows(engine) == [HEAD]
    history = client.get(f"/api/migrations/audit?job={job['id']}").get_json()
    assert [(r["action"], r["revision"]) for r in history["audit"]] == [
        ("stamp-unverified", HEAD)
    ]


def test_the_opt_ins_go_with_their_actions(console):
    client = console.client
    engine, headers = console.engine, console.headers
    cases = [
        ({"action": "stamp", "target": "head", "allow_data_loss": True}, "only goes"),
        ({"action": "upgrade", "target": "head", "no_verify": True}, "only goes"),
        ({"action": "downgrade", "target": "base", "allow_data_loss": "maybe"}, ""),
        ({"action": "stamp", "target": "head", "no_verify": 3}, "no_verify"),
    ]
    for body, message in cases:
        response = client.post("/api/migrations/jobs", json=body, headers=headers)
        assert response.status_code == 400, body
        assert message in response.get_json()["error"]
    assert jobs(engine) == 0
