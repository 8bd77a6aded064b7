"""A step that fails half-way (app/dbadmin/core/executor.py, journal.py,
recovery.py): on MySQL/MariaDB its first statements stay applied; the journal
says exactly which, every surface shows the database as partial, every other
run refuses, and rollback (byte for byte) or resume (then verify) settle it.
On SQLite a step is one transaction: it cannot happen, and a test says so."""

import threading
import time

import pytest
import sqlalchemy as sa

from tests.helpers import (
    end_shared_read,
    execute,
    invoke,
    login,
    migrations_head,
    schema_dump,
    version_rows,
)

HEAD = migrations_head()
STEP = "zz_three"
# The revision: a copy, a new NOT NULL column, then a unique index the
# data breaks (a duplicate the test makes, and removes to "fix the cause").
# (In batch form, so that SQLite runs it too: plain ALTERs on MySQL.)
THREE_OPERATIONS = """
with op.batch_alter_table("salaries") as batch:
    batch.alter_column("salary", existing_type=sa.Integer(),
                       type_=sa.BigInteger(), existing_nullable=False)
with op.batch_alter_table("employees") as batch:
    batch.add_column(sa.Column("badge", sa.String(20), nullable=False))
op.create_index("ix_employees_person", "employees",
                ["first_name", "last_name", "birth_date"], unique=True)
"""
UNDO = """
op.drop_index("ix_employees_person", "employees")
with op.batch_alter_table("employees") as batch:
    batch.drop_column("badge")
with op.batch_alter_table("salaries") as batch:
    batch.alter_column("salary", existing_type=sa.BigInteger(),
                       type_=sa.Integer(), existing_nullable=False)
"""
TWIN = 999_001  # an employee with another one's name and birth date


@pytest.fixture
def app(scripted_app):
    return scripted_app


@pytest.fixture
def legacy(app, engine, scripts, prepare):
    """The legacy database with a few rows, adopted and at head, Headway's
    tables, an operator; the failing revision on top, and its cause (a twin)."""
    prepare(
        app,
        (
            ("legacy", 0.005, 7),
            ("flask", "headway", "init"),
            ("flask", "db", "adopt"),
            ("flask", "db", "upgrade"),
            ("user", "op", "operator"),
        ),
    )
    scripts.write(STEP, HEAD, upgrade=THREE_OPERATIONS, downgrade=UNDO)
    execute(
        engine,
        f"INSERT INTO employees (emp_no, birth_date, first_name, last_name, "
        f"gender, hire_date) SELECT {TWIN}, birth_date, first_name, last_name, "
        "gender, hire_date FROM employees ORDER BY emp_no LIMIT 1",
    )
    return engine


def snapshot(engine) -> tuple:
    return schema_dump(engine), version_rows(engine)


def journal(engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT r.status, s.position, s.outcome FROM headway_step_runs r "
            "JOIN headway_step_statements s ON s.step_run_id = r.id "
            f"WHERE r.revision = '{STEP}' ORDER BY r.id, s.id"
        ).all()


@pytest.fixture
def mysql(database_url):
    if not database_url.startswith("mysql"):
        pytest.skip("MySQL/MariaDB only: SQLite runs a step in one transaction")


def test_a_step_failing_half_way_is_recorded_shown_refused_and_rolled_back(
    mysql, legacy, runner, app, engine
):
    before = snapshot(legacy)
    failed = invoke(runner, "db", "upgrade", "--no-preflight")
    assert failed.exit_code == 1
    assert "partially applied" in failed.output
    assert "1 and 2 applied" in failed.output and "Duplicate entry" in failed.output
    assert journal(engine) == [
        ("partial", 1, "ok"),
        ("partial", 2, "ok"),
        ("partial", 3, "failed"),
    ]
    assert version_rows(engine) == [HEAD]
    half_way = snapshot(engine)
    assert half_way != before

    # Every surface says so.
    current = invoke(runner, "db", "current")
    assert "partially applied" in current.output
    verify = invoke(runner, "db", "verify")
    assert verify.exit_code == 1 and "flask db rollback" in verify.output
    assert "stamp --purge" not in verify.output  # no advice that cannot work
    client = app.test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["state"] == "partial"
    assert login(client, "op").status_code == 302
    status = client.get("/api/migrations/status").get_json()
    assert status["state"] == "partial" and STEP in status["summary"]
    assert [s["outcome"] for s in status["partial"]["statements"]] == [
        "ok",
        "ok",
        "failed",
    ]
    page = client.get("/admin/migrations/plan").get_data(as_text=True)
    assert 'id="partial"' in page and 'data-outcome="failed"' in page
    assert "ALTER TABLE `salaries`" in page  # the rollback's SQL, shown first
    assert 'data-state="partial">partially applied<' in client.get("/admin/").get_data(
        as_text=True
    )

    # Nothing else runs meanwhile; each refusal leaves everything as it is.
    for args in (["db", "upgrade"], ["db", "downgrade"], ["db", "stamp", HEAD]):
        refused = invoke(runner, *args)
        assert refused.exit_code == 1, refused.output
        assert (
            "flask db rollback" in refused.output
            and "flask db resume" in refused.output
        )
        assert snapshot(engine) == half_way

    # Rollback: the SQL first (dry run), then byte for byte.
    dry = invoke(runner, "db", "rollback", "--dry-run")
    assert (
        dry.exit_code == 0 and "MODIFY COLUMN `salary` int(11) NOT NULL" in dry.output
    )
    assert snapshot(engine) == half_way
    done = invoke(runner, "db", "rollback")
    assert done.exit_code == 0, done.output
    assert snapshot(engine) == before
    assert client.get("/readyz").status_code == 503  # behind, not partial
    assert client.get("/readyz").get_json()["state"] == "behind"
    with engine.connect() as conn:
        audit = conn.exec_driver_sql(
            "SELECT action, success, error FROM headway_audit ORDER BY id DESC LIMIT 2"
        ).all()
    assert tuple(audit[0][:2]) == ("rollback", 1)
    assert tuple(audit[1][:2]) == ("upgrade", 0)
    assert "statement(s) 1, 2 stayed applied" in audit[1][2]


def test_resume_runs_the_rest_once_the_cause_is_fixed_then_verifies(
    mysql, legacy, runner, engine
):
    assert invoke(runner, "db", "upgrade", "--no-preflight").exit_code == 1
    still = invoke(runner, "db", "resume")
    assert still.exit_code == 1 and "Duplicate entry" in still.output
    execute(engine, f"DELETE FROM employees WHERE emp_no = {TWIN}")  # the fix
    dry = invoke(runner, "db", "resume", "--dry-run")
    assert "CREATE UNIQUE INDEX ix_employees_person" in dry.output
    resumed = invoke(runner, "db", "resume")
    assert resumed.exit_code == 0, resumed.output
    assert "the schema verifies" in resumed.output
    assert version_rows(engine) == [STEP]
    assert invoke(runner, "db", "verify").output.strip().endswith(f"matches {STEP}")
    assert [row[0] for row in journal(engine)] == ["resumed"] * len(journal(engine))


def test_sqlite_takes_the_whole_step_back(legacy, runner, engine, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("the SQLite side of the same story")
    before = snapshot(legacy)
    failed = invoke(runner, "db", "upgrade", "--no-preflight")
    assert failed.exit_code == 1
    assert "partially applied" not in failed.output
    assert snapshot(engine) == before
    # The journal keeps what was tried, each statement undone with the step.
    # (SQLite refuses the NOT NULL column without a default: a step that
    # fails after its table copy.)
    outcomes = journal(engine)
    assert outcomes[-1][::2] == ("failed", "failed") and len(outcomes) > 1
    assert {o for _, _, o in outcomes[:-1]} == {"rolled_back"}
    assert "nothing to settle" in invoke(runner, "db", "rollback").output


def test_ddl_waiting_behind_an_open_transaction_gives_up_without_stalling_others(
    mysql, legacy, runner, engine, scripts
):
    scripts.write(
        STEP,
        HEAD,
        upgrade='op.add_column("titles", sa.Column("note", sa.String(20)))',
        downgrade='op.drop_column("titles", "note")',
    )
    holder = engine.connect()
    holder.exec_driver_sql("BEGIN")
    holder.exec_driver_sql("SELECT COUNT(*) FROM titles").scalar()  # holds its MDL
    waits: list[float] = []

    def reader():
        time.sleep(1.0)  # the ALTER is waiting by now
        started = time.monotonic()
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT COUNT(*) FROM titles").scalar()
        waits.append(time.monotonic() - started)

    thread = threading.Thread(target=reader)
    thread.start()
    started = time.monotonic()
    try:
        result = invoke(
            runner,
            "db",
            "-x",
            "ddl_lock_timeout=2",
            "-x",
            "ddl_lock_retries=1",
            "upgrade",
            "--no-preflight",
        )
    finally:
        thread.join()
        holder.rollback()
        holder.close()
    took = time.monotonic() - started
    assert result.exit_code == 1
    assert "metadata lock" in result.output and "gave up" in result.output
    assert took < 15, took  # two tries of 2 s, a pause, the guards
    assert waits and waits[0] < 3.5, waits  # queued behind the ALTER, briefly
    assert version_rows(engine) == [HEAD]
    bad = invoke(runner, "db", "-x", "ddl_lock_timeout=abc", "upgrade")
    assert bad.exit_code == 1 and "whole number" in bad.output
    assert "Traceback" not in bad.output


def finished(client, job_id: int, headers: dict) -> dict:
    # (A job ends with a drift check: slow on a loaded machine.)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        end_shared_read()
        response = client.get(f"/api/migrations/jobs/{job_id}", headers=headers)
        job = response.get_json()
        assert response.status_code == 200, job
        if job["status"] != "running":
            return job
        time.sleep(0.2)
    raise AssertionError(job)


@pytest.mark.live
def test_the_console_settles_it_as_jobs(mysql, legacy, runner, app, engine):
    """A rollback, then (after a second failure and the fix) a resume, from
    the console's API as an operator: the same core as the CLI."""
    before = snapshot(legacy)
    assert invoke(runner, "db", "upgrade", "--no-preflight").exit_code == 1
    client = app.test_client()
    created = invoke(runner, "users", "token", "create", "op")
    assert created.exit_code == 0, created.output
    headers = {"Authorization": f"Bearer {created.output.strip().splitlines()[-1]}"}
    refused = client.post(
        "/api/migrations/jobs",
        json={"action": "upgrade", "target": "heads"},
        headers=headers,
    )
    assert (
        refused.status_code == 400
        and "partially applied" in refused.get_json()["error"]
    )
    started = client.post(
        "/api/migrations/jobs",
        json={"action": "rollback"},
        headers=headers,
    )
    assert started.status_code == 202, started.get_json()
    job = finished(client, started.get_json()["id"], headers)
    assert job["status"] == "succeeded", job["log"]
    assert "ALTER TABLE `salaries`" in job["log"]
    assert snapshot(engine) == before

    assert invoke(runner, "db", "upgrade", "--no-preflight").exit_code == 1
    execute(engine, f"DELETE FROM employees WHERE emp_no = {TWIN}")
    started = client.post(
        "/api/migrations/jobs",
        json={"action": "resume", "target": STEP},
        headers=headers,
    )
    job = finished(client, started.get_json()["id"], headers)
    assert job["status"] == "succeeded", job["log"]
    assert version_rows(engine) == [STEP]


@pytest.mark.live
def test_a_cancelled_job_stops_between_statements(
    legacy, runner, app, engine, scripts, tmp_path, database_url
):
    """Cancel while the step waits between its two statements: the second
    never runs. MySQL keeps the first (partial, settled by rollback); SQLite
    takes the step back."""
    reached, release = tmp_path / "reached", tmp_path / "release"
    scripts.write(
        STEP,
        HEAD,
        upgrade=f"""
        op.add_column("titles", sa.Column("first", sa.String(5)))
        import os, time
        if "scratch" not in str(op.get_bind().engine.url):  # not a rehearsal
            open({str(reached)!r}, "w").close()
            deadline = time.monotonic() + 60
            while not os.path.exists({str(release)!r}) and time.monotonic() < deadline:
                time.sleep(0.1)
        op.add_column("titles", sa.Column("second", sa.String(5)))
        """,
        downgrade='op.drop_column("titles", "first")',
    )
    execute(engine, f"DELETE FROM employees WHERE emp_no = {TWIN}")
    before = snapshot(engine)
    client = app.test_client()
    created = invoke(runner, "users", "token", "create", "op")
    headers = {"Authorization": f"Bearer {created.output.strip().splitlines()[-1]}"}
    started = client.post(
        "/api/migrations/jobs",
        json={"action": "upgrade", "target": STEP},
        headers=headers,
    )
    job_id = started.get_json()["id"]
    deadline = time.monotonic() + 60
    while not reached.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert reached.exists()
    cancelled = client.post(f"/api/migrations/jobs/{job_id}/cancel", headers=headers)
    assert cancelled.status_code == 202, cancelled.get_json()
    release.touch()
    job = finished(client, job_id, headers)
    assert job["status"] == "cancelled", job["log"]
    assert "cancelled before the next statement" in job["log"]
    again = client.post(f"/api/migrations/jobs/{job_id}/cancel", headers=headers)
    assert again.status_code == 400
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("titles")}
    assert "second" not in columns
    if database_url.startswith("mysql"):
        assert "first" in columns
        assert journal(engine) == [("partial", 1, "ok")]
        assert "partially applied" in invoke(runner, "db", "current").output
        assert invoke(runner, "db", "rollback").exit_code == 0
    assert snapshot(engine) == before
