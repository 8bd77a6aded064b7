"""Several rows in alembic_version: an ancestor stamped beside its descendant
is a state of its own ("redundant stamp"), named with the command that removes
it; real branches keep working; nothing answers 500."""

import pytest

from app.dbadmin.core.catalog import load_catalog
from app.dbadmin.core.state import State, state_of
from app.extensions import db
from tests.helpers import migrations_head, version_rows

HEAD = migrations_head()
FIX = f"`flask db stamp --purge {HEAD}`"


def stamp_twice(app) -> None:
    """At head, with the baseline's row beside it (a stamp by hand)."""
    with app.app_context(), db.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO alembic_version VALUES ('0001_baseline')")


def test_an_ancestor_beside_its_descendant_is_a_redundant_stamp(app):
    with app.app_context():
        catalog = load_catalog()
        state = state_of(catalog, (HEAD, "0001_baseline"))
        assert state.kind == State.REDUNDANT_STAMP
        assert state.redundant == ("0001_baseline",)
        assert state.effective == (HEAD,)
        assert state.pending == []
        assert FIX in state.summary()
        # Behind head with a redundant row: the pending steps are known.
        behind = state_of(catalog, ("0002_employee_email", "0001_baseline"))
        assert behind.kind == State.REDUNDANT_STAMP
        pending = [r.id for r in behind.pending]
        assert pending[0] == "0003_employee_last_name_index" and pending[-1] == HEAD


def test_real_branches_are_not_redundant(scripted_app, scripts):
    scripts.write("0004_left", HEAD)
    scripts.write("0004_right", HEAD)
    with scripted_app.app_context():
        catalog = load_catalog()
        both = state_of(catalog, ("0004_left", "0004_right"))
        assert both.kind == State.UP_TO_DATE and both.redundant == ()
        redundant = state_of(catalog, ("0004_left", HEAD, "0004_right"))
        assert redundant.kind == State.REDUNDANT_STAMP
        assert redundant.redundant == (HEAD,)
        assert "`flask db stamp --purge 0004_left 0004_right`" in redundant.summary()


def test_the_cli_names_the_command_and_the_command_works(app, runner, accounts):
    stamp_twice(app)
    for args in (["upgrade"], ["downgrade"], ["stamp", "head"], ["check"]):
        result = runner.invoke(args=["db", *args])
        assert result.exit_code == 1, result.output
        [line] = [x for x in result.output.splitlines() if x.startswith("Error:")]
        assert "0001_baseline row is redundant" in line and FIX in line
        assert "Traceback" not in result.output
    result = runner.invoke(args=["db", "verify"])
    assert result.exit_code == 0, result.output
    assert f"matches {HEAD}\n" in result.output and FIX in result.output

    result = runner.invoke(args=["db", "stamp", "--purge", HEAD])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert version_rows(db.engine) == [HEAD]
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0


def get_urls(app) -> list[str]:
    """Every GET page of the admin, the console's API and the probe, each
    kind once, with real revisions where a page takes one."""
    urls = {
        "/readyz",
        f"/admin/migrations/revision/{HEAD}",
        "/admin/migrations/revision/0001_baseline",
        f"/admin/migrations/plan?target={HEAD}",
        "/admin/migrations/plan?target=base",
        f"/admin/migrations/plan?stamp={HEAD}",
        f"/admin/migrations/plan.sql?target={HEAD}",
        f"/api/migrations/plan?target={HEAD}",
        "/api/migrations/plan?target=0001_baseline",
    }
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments:
            continue
        if rule.rule.startswith(("/admin/", "/api/migrations/")):
            urls.add(rule.rule)
    return sorted(urls)


def test_no_page_api_call_or_probe_answers_500_with_two_rows(app, logged_in, runner):
    stamp_twice(app)
    client = logged_in("admin")
    seen = 0
    for url in get_urls(app):
        response = client.get(url)
        assert response.status_code < 500 or url == "/readyz", url
        seen += response.status_code == 200
    assert seen > 20
    # The probe: not ready (its designed 503), saying why, never a crash.
    probe = client.get("/readyz")
    assert probe.status_code == 503
    assert probe.get_json()["state"] == "redundant_stamp"
    assert FIX in probe.get_json()["detail"]
    # The console says what it is, and how to remove it in its own terms.
    dashboard = client.get("/admin/migrations/").get_data(as_text=True)
    assert 'data-state="redundant_stamp"' in dashboard
    plan = client.get(f"/api/migrations/plan?target={HEAD}")
    assert plan.status_code == 400
    assert '"purge": true' in plan.get_json()["error"]
    assert "flask " not in plan.get_json()["error"]
    status = client.get("/api/migrations/status").get_json()
    assert status["state"] == "redundant_stamp"


@pytest.fixture
def token(runner, accounts):
    result = runner.invoke(args=["users", "token", "create", "operator"])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def test_the_api_refuses_a_job_in_its_own_terms(app, client, token):
    stamp_twice(app)
    response = client.post(
        "/api/migrations/jobs",
        json={"action": "upgrade", "target": "heads"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert "0001_baseline row is redundant" in error
    assert f'"target": "{HEAD}", "purge": true' in error
    assert "flask " not in error
