"""Online schema changes (app/dbadmin/core/online.py): `flask db upgrade
--online` hands a table copy to pt-online-schema-change, through the
statement executor, while a client keeps writing. On MariaDB: no
acknowledged write lost, verify clean, nothing left behind; a change pt-osc
cannot make refused before anything runs; a pt-osc run killed half-way shown
as partial and cleaned up by rollback (triggers first). Small data: the
bench (bench/online.py) measures the real size."""

import os
import shutil
import signal
import threading
import time

import pytest
import sqlalchemy as sa

from app.auth.accounts import create_user, find_user
from app.auth.tokens import create_token
from app.dbadmin.core.ddl import parse_statement
from app.dbadmin.core.executor import Cancelled
from app.dbadmin.core.online import (
    Decision,
    OnlineRouter,
    OnlineSettings,
    _option_file,
    alter_clauses,
    refusal,
)
from app.demo.legacy import create_legacy
from app.extensions import db
from tests.helpers import (
    PASSWORD,
    login,
    migrations_head,
    version_rows,
)

HEAD = migrations_head()
STEP = "zz_wide_salary"
WIDEN = """
op.alter_column("salaries", "salary", existing_type=sa.Integer(),
                type_=sa.BigInteger(), existing_nullable=False)
"""
NARROW = """
op.alter_column("salaries", "salary", existing_type=sa.BigInteger(),
                type_=sa.Integer(), existing_nullable=False)
"""

# Skipped where pt-osc cannot be installed (make test installs it), except
# in CI, where a missing tool must fail the run.
needs_pt_osc = pytest.mark.skipif(
    shutil.which("pt-online-schema-change") is None
    and os.environ.get("CI", "").lower() not in ("true", "1", "yes"),
    reason="pt-online-schema-change is not installed (make test installs it)",
)


@pytest.fixture
def app(scripted_app):
    return scripted_app


@pytest.fixture
def mysql(database_url):
    if not database_url.startswith("mysql"):
        pytest.skip("MySQL/MariaDB only: pt-online-schema-change drives MySQL")


@pytest.fixture
def legacy(app, engine, runner, scripts):
    """The legacy database with a few thousand salaries, adopted and at head;
    the widening of salaries.salary on top."""
    create_legacy(engine, scale=0.01, seed=3)
    for args in (["headway", "init"], ["db", "adopt"], ["db", "upgrade"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    with app.app_context():
        create_user("op", PASSWORD, "operator")
    scripts.write(STEP, HEAD, upgrade=WIDEN, downgrade=NARROW)
    return engine


def scalar(engine, sql: str):
    with engine.connect() as conn:
        return conn.exec_driver_sql(sql).scalar()


def rows(engine, sql: str) -> list:
    with engine.connect() as conn:
        return conn.exec_driver_sql(sql).all()


def left_behind(engine) -> list:
    """pt-osc's triggers and helper tables, if any are left."""
    return rows(
        engine,
        "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS "
        "WHERE TRIGGER_SCHEMA = DATABASE() UNION ALL "
        "SELECT TABLE_NAME FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE '\\_%%'",
    )


class Writer(threading.Thread):
    """A client inserting a salary row every few milliseconds, each in its
    own transaction; `acknowledged` holds the rows whose COMMIT returned."""

    def __init__(self, engine) -> None:
        super().__init__(daemon=True)
        self.engine = engine
        self.stop = threading.Event()
        self.acknowledged: list[tuple[int, str, int]] = []
        self.errors: list[str] = []

    def run(self) -> None:
        with self.engine.connect() as conn:
            emp_no = conn.exec_driver_sql("SELECT MIN(emp_no) FROM employees").scalar()
            day = 0
            while not self.stop.is_set():
                day += 1
                from_date = f"2030-01-01 + INTERVAL {day} DAY"
                salary = 100_000 + day
                try:
                    conn.exec_driver_sql(
                        "INSERT INTO salaries (emp_no, salary, from_date, to_date) "
                        f"VALUES ({emp_no}, {salary}, DATE('2030-01-01') + "
                        f"INTERVAL {day} DAY, '9999-01-01')"
                    )
                    conn.commit()
                    self.acknowledged.append((emp_no, from_date, salary))
                except sa.exc.DBAPIError as exc:
                    conn.rollback()
                    self.errors.append(str(exc.orig))
                time.sleep(0.005)


@needs_pt_osc
@pytest.mark.live
def test_an_online_widening_loses_no_write_verifies_and_leaves_nothing(
    mysql, legacy, runner, engine, app
):
    """Through the console's API ("online": true), as a job: the job log
    follows pt-osc, the audit trail names it."""
    with app.app_context():
        _, token = create_token(find_user("op"), "online test", None)
    # (A bearer token: the engine fixture's app context would share the
    # session's CSRF token across requests.)
    headers = {"Authorization": f"Bearer {token}"}
    before = scalar(engine, "SELECT COUNT(*) FROM salaries")
    writer = Writer(engine)
    writer.start()
    time.sleep(0.3)
    try:
        api = app.test_client()  # no session cookie: the token alone
        started = api.post(
            "/api/migrations/jobs",
            json={"action": "upgrade", "target": STEP, "online": True},
            headers=headers,
        )
        assert started.status_code == 202, started.get_json()
        job_id = started.get_json()["id"]
        # Read from the database itself: the engine fixture's app context
        # keeps one session (and its snapshot) across the client's requests.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (
            scalar(engine, f"SELECT status FROM headway_jobs WHERE id = {job_id}")
            == "running"
        ):
            time.sleep(0.3)
    finally:
        time.sleep(0.3)
        writer.stop.set()
        writer.join()
    db.session.rollback()  # a fresh snapshot for the API's reads
    job = api.get(f"/api/migrations/jobs/{job_id}", headers=headers).get_json()
    assert job["status"] == "succeeded", job["log"]
    assert job["online"] is True
    assert "pt-online-schema-change 3." in job["log"]
    assert "Successfully altered" in job["log"]
    assert "foreign keys have their names back: salaries_ibfk_1" in job["log"]
    assert version_rows(engine) == [STEP]
    assert writer.acknowledged and not writer.errors
    # Every acknowledged write is there, with its value.
    assert scalar(engine, "SELECT COUNT(*) FROM salaries") == before + len(
        writer.acknowledged
    )
    written = dict(
        rows(
            engine,
            "SELECT DATEDIFF(from_date, '2030-01-01'), salary FROM salaries "
            "WHERE from_date > '2030-01-01'",
        )
    )
    assert written == {i: 100_000 + i for i in range(1, len(writer.acknowledged) + 1)}
    assert (
        scalar(
            engine,
            "SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
            "DATABASE() AND TABLE_NAME = 'salaries' AND COLUMN_NAME = 'salary'",
        )
        == "bigint"
    )
    # The foreign key has its own name back, and nothing is left behind.
    assert (
        "CONSTRAINT `salaries_ibfk_1`"
        in rows(engine, "SHOW CREATE TABLE salaries")[0][1]
    )
    assert left_behind(engine) == []
    verify = runner.invoke(args=["db", "verify"])
    assert verify.exit_code == 0 and "matches" in verify.output, verify.output
    # The journal and the audit trail say which tool ran it.
    tool = rows(
        engine,
        "SELECT s.online_tool FROM headway_step_statements s JOIN "
        f"headway_step_runs r ON r.id = s.step_run_id WHERE r.revision = '{STEP}'",
    )
    assert tool[0][0].startswith("pt-online-schema-change 3.")
    audit = api.get(f"/api/migrations/audit?revision={STEP}", headers=headers)
    audit = audit.get_json()
    assert audit["audit"][0]["online_tool"].startswith("pt-online-schema-change 3.")


@needs_pt_osc
@pytest.mark.live
def test_an_online_change_of_a_table_without_a_key_is_refused_before_it_runs(
    mysql, runner, engine, scripts, app
):
    for args in (["headway", "init"], ["db", "upgrade"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    scripts.write(STEP, HEAD, upgrade=WIDEN, downgrade=NARROW)
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE keyless (note VARCHAR(20), n INT)")
        conn.exec_driver_sql("INSERT INTO keyless VALUES ('a', 1), ('b', 2)")
        conn.commit()
        # A parent (others' foreign keys reference it), and a child.
        conn.exec_driver_sql(
            "INSERT INTO employees (emp_no, birth_date, first_name, last_name, "
            "gender, hire_date) VALUES (1, '1970-01-01', 'Ada', 'B', 'F', "
            "'2000-01-01')"
        )
        conn.exec_driver_sql(
            "INSERT INTO titles VALUES (1, 'Engineer', '2000-01-01', NULL)"
        )
        conn.commit()
    scripts.write(
        "zz_keyless",
        STEP,
        upgrade='op.alter_column("keyless", "n", existing_type=sa.Integer(), '
        "type_=sa.BigInteger())",
    )
    scripts.write(
        "zz_parent",
        "zz_keyless",
        upgrade='op.alter_column("employees", "hire_date", '
        "existing_type=sa.Date(), type_=sa.DateTime(), existing_nullable=False)",
    )
    scripts.write(
        "zz_badge",
        "zz_parent",
        upgrade='op.execute("ALTER TABLE titles ADD COLUMN badge INT NOT NULL, '
        'MODIFY to_date DATETIME")',
    )
    result = runner.invoke(args=["db", "upgrade", "--online"])
    assert result.exit_code == 1
    assert "refusing to run online" in result.output
    assert "nothing was run" in result.output
    assert "zz_keyless statement 1: keyless has no primary or unique key" in (
        result.output
    )
    assert (
        "zz_parent statement 1: employees is referenced by the foreign keys of "
        "dept_emp, dept_manager, salaries, titles" in result.output
    )
    assert "adds the NOT NULL column badge without a default" in result.output
    # Not even the first step (the salaries copy) ran.
    assert version_rows(engine) == [HEAD]
    assert left_behind(engine) == []
    # The console offers the choice on the plan page.
    with app.app_context():
        create_user("op", PASSWORD, "operator")
    client = app.test_client()
    assert login(client, "op").status_code == 302
    plan = client.get(f"/admin/migrations/plan?target={STEP}").get_data(as_text=True)
    assert 'name="online"' in plan and "pt-online-schema-change" in plan


def test_online_on_sqlite_is_refused_with_the_reason(database_url, runner, engine):
    if database_url.startswith("mysql"):
        pytest.skip("SQLite's refusal")
    for args in (["db", "upgrade", "--online"], ["headway", "release", "--online"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 1
        assert "MySQL/MariaDB only" in result.output
    assert version_rows(engine) is None


@pytest.mark.live
def test_online_without_pt_osc_says_how_to_install_it(mysql, runner, app, engine):
    app.config["PT_OSC"] = "/nonexistent/pt-online-schema-change"
    for args in (["db", "upgrade", "--online"], ["db", "downgrade", "--online"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 1
        assert "apt-get install percona-toolkit" in result.output
    assert version_rows(engine) is None


def _children(name: str) -> list[int]:
    """The pids of this process's children running `name` (pt-osc, started
    by the executor in this test)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().decode(errors="replace")
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and name in cmdline:
            found.append(int(entry))
    return found


@needs_pt_osc
@pytest.mark.live
def test_a_killed_pt_osc_run_is_partial_and_rollback_cleans_it_up(
    mysql, legacy, runner, engine, app
):
    # Paused after its first chunk (Uptime is always above 1): killed there,
    # with its triggers and its half-made copy in place.
    app.config["ONLINE_MAX_LOAD"] = "Uptime=1"
    before = rows(engine, "SELECT * FROM salaries ORDER BY emp_no, from_date")
    outcome = {}
    run = threading.Thread(
        target=lambda: outcome.update(
            result=runner.invoke(args=["db", "upgrade", "--online"])
        )
    )
    run.start()
    deadline = time.monotonic() + 60
    while not (
        _children("pt-online-schema-change")
        and scalar(
            engine,
            "SELECT COUNT(*) FROM information_schema.TRIGGERS "
            "WHERE TRIGGER_SCHEMA = DATABASE()",
        )
        == 3
    ):
        assert time.monotonic() < deadline, "pt-osc never started copying"
        time.sleep(0.1)
    time.sleep(0.5)
    for pid in _children("pt-online-schema-change"):
        os.kill(pid, signal.SIGKILL)
    run.join(60)
    result = outcome["result"]
    assert result.exit_code == 1
    assert "partially applied" in result.output, result.output
    assert "run online by pt-online-schema-change" in result.output
    assert len(left_behind(engine)) == 4  # three triggers, _salaries_new

    # The triggers copy writes into the half-made table until they go; a
    # write now is not lost.
    with engine.connect() as conn:
        conn.exec_driver_sql(
            "UPDATE salaries SET salary = salary + 1 ORDER BY emp_no LIMIT 1"
        )
        conn.commit()
    current = runner.invoke(args=["db", "current"])
    assert "partially applied" in current.output
    assert "left its triggers and helper tables behind" in current.output
    client = app.test_client()
    assert login(client, "op").status_code == 302
    partial = client.get("/api/migrations/status").get_json()["partial"]
    assert partial["statements"][0]["online_tool"].startswith("pt-online-schema")
    assert [sql.split()[1] for sql in partial["online_leftovers"]] == (
        ["TRIGGER"] * 3 + ["TABLE"]
    )
    page = client.get("/admin/migrations/plan").get_data(as_text=True)
    assert 'id="online-leftovers"' in page and "DROP TRIGGER IF EXISTS" in page
    refused = runner.invoke(args=["db", "resume"])
    assert refused.exit_code == 1 and "Use rollback" in refused.output

    dry = runner.invoke(args=["db", "rollback", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    drops = [line for line in dry.output.splitlines() if line.startswith("DROP")]
    assert [d.split()[1] for d in drops] == ["TRIGGER"] * 3 + ["TABLE"]
    rolled = runner.invoke(args=["db", "rollback"])
    assert rolled.exit_code == 0, rolled.output
    assert left_behind(engine) == []
    assert version_rows(engine) == [HEAD]
    after = rows(engine, "SELECT * FROM salaries ORDER BY emp_no, from_date")
    assert len(after) == len(before)
    assert after[0][1] == before[0][1] + 1 and after[1:] == before[1:]
    verify = runner.invoke(args=["db", "verify"])
    assert verify.exit_code == 0 and "matches" in verify.output, verify.output


# --- Without a database: pt-osc's command line, its option file, its lines -----


class _Process:
    def __init__(self, lines):
        self.stdout = iter(lines)


def test_pt_osc_gets_the_credentials_in_a_private_file_never_on_its_command_line():
    url = sa.make_url("mysql+pymysql://migrator:s3cr%40t@db.internal:3307/employees")
    engine = type("Engine", (), {"url": url})()
    settings = OnlineSettings.from_config(
        {
            "ONLINE_MAX_LOAD": "Threads_running=40",
            "ONLINE_CRITICAL_LOAD": "Threads_running=90",
        },
        enabled=False,
    )
    router = OnlineRouter(engine, settings)
    router.program = "/usr/bin/pt-online-schema-change"
    decision = Decision("salaries", "MODIFY salary BIGINT NOT NULL", "copy", 10)
    with _option_file(url) as path:
        assert os.stat(path).st_mode & 0o777 == 0o600
        with open(path) as f:
            text = f.read()
        assert 'user="migrator"' in text and 'password="s3cr@t"' in text
        assert "host=db.internal" in text and "port=3307" in text
        args = router._arguments(decision, path, "employees")
        assert not any("s3cr" in arg or "migrator" in arg for arg in args)
        assert args[-1] == f"F={path},D=employees,t=salaries"
        assert args[args.index("--max-load") + 1] == "Threads_running=40"
        assert args[args.index("--critical-load") + 1] == "Threads_running=90"
        assert args[args.index("--recursion-method") + 1] == "none"
        # A replica to watch: its lag checked, with the same credentials.
        settings.replicas = "h=replica1,P=3306"
        args = router._arguments(decision, path, "employees")
        assert (
            args[args.index("--check-slave-lag") + 1] == f"h=replica1,P=3306,F={path}"
        )
        assert "--max-lag" in args and "--recursion-method" not in args
    assert not os.path.exists(path)


def test_pt_osc_progress_reaches_the_log_with_rows_and_time_left(caplog):
    router = OnlineRouter(None, OnlineSettings())
    decision = Decision("salaries", "MODIFY salary BIGINT NOT NULL", "copy", 2_000_000)
    lines = [
        "No slaves found.  See --recursion-method if host vm has slaves.\n",
        "Operation, tries, wait:\n",
        "  copy_rows, 10, 0.25\n",
        "2026-12-07T02:56:32 Copying approximately 2000000 rows...\n",
        "Copying `employees`.`salaries`:  45% 00:10 remain\n",
        "Successfully altered `employees`.`salaries`.\n",
    ]
    with caplog.at_level("INFO", logger="headway.executor.online"):
        router._follow(_Process(lines), decision, [])
    assert [r.getMessage() for r in caplog.records] == [
        "online: Copying approximately 2000000 rows...",
        "online: copying salaries: 45% (~900,000 of ~2,000,000 rows), 00:10 left",
        "online: Successfully altered `employees`.`salaries`.",
    ]


def test_pt_osc_alters_with_the_statements_clauses():
    assert (
        alter_clauses(
            parse_statement(
                "ALTER TABLE salaries MODIFY salary BIGINT NOT NULL, "
                "ALGORITHM=COPY, LOCK=SHARED"
            )
        )
        == "MODIFY salary BIGINT NOT NULL"
    )
    assert (
        alter_clauses(
            parse_statement("CREATE INDEX ix_t ON titles (title(10), emp_no)")
        )
        == "ADD INDEX `ix_t` (`title`(10), `emp_no`)"
    )
    assert alter_clauses(parse_statement("DROP INDEX ix_t ON titles")) == (
        "DROP INDEX `ix_t`"
    )


def test_online_goes_with_upgrade_and_downgrade_only():
    from pydantic import ValidationError

    from app.dbadmin.web.schemas import NewJob

    assert NewJob(action="upgrade", target="head", online=True).job_request().online
    with pytest.raises(ValidationError, match="online only goes with upgrade"):
        NewJob(action="stamp", target="head", typed_target="head", online=True)


@needs_pt_osc
@pytest.mark.live
def test_a_cancel_stops_pt_osc_and_drops_what_it_left(mysql, app, engine):
    """The console's cancel during the copy: SIGTERM to pt-osc, which 3.2.1
    answers by leaving its triggers and copy; Headway drops them at once
    (triggers first), and the table is as it was."""
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE counters (id INT PRIMARY KEY, n INT)")
        conn.exec_driver_sql("INSERT INTO counters SELECT seq, seq FROM seq_1_to_3000")
        conn.commit()
    before = rows(engine, "SHOW CREATE TABLE counters")
    with app.app_context():
        settings = OnlineSettings.from_config(app.config, enabled=True)
    settings.max_load = "Uptime=1"  # paused after its first chunk
    router = OnlineRouter(engine, settings)
    decision = Decision("counters", "MODIFY n BIGINT", "copy", 3000)

    def cancel_requested() -> bool:
        return len(left_behind(engine)) == 4  # copying: triggers and copy made

    # The row threshold alone (no --online): the copy of a table at least
    # that large goes online; a smaller one, or an instant change, does not.
    sql = "ALTER TABLE counters MODIFY n BIGINT"
    assert OnlineRouter(engine, OnlineSettings(min_rows=5000)).decide(sql) is None
    by_rows = OnlineRouter(engine, OnlineSettings(min_rows=1000))
    routed = by_rows.decide(sql)  # (its rows: the server's estimate)
    assert (routed.table, routed.alter, routed.lock) == (
        "counters",
        "MODIFY n BIGINT",
        "copy",
    )
    assert by_rows.decide("ALTER TABLE counters ADD COLUMN m INT NULL") is None

    raw = engine.raw_connection()
    try:
        with pytest.raises(Cancelled, match="the table is as it was"):
            router.run(raw.cursor(), decision, cancel_requested)
    finally:
        raw.close()
    assert left_behind(engine) == []
    assert rows(engine, "SHOW CREATE TABLE counters") == before
    assert scalar(engine, "SELECT COUNT(*) FROM counters") == 3000


def test_pt_osc_is_refused_what_it_cannot_make_from_the_statement_alone():
    """The refusals read from the statement (before the table is read)."""
    cases = {
        "ALTER TABLE t CHANGE a b INT, MODIFY c BIGINT": "renames",
        "ALTER TABLE t RENAME COLUMN a TO b, MODIFY c BIGINT": "renames",
        "ALTER TABLE t ADD COLUMN k INT NOT NULL, MODIFY c BIGINT": "NOT NULL",
        "ALTER TABLE t ADD UNIQUE KEY u (a), MODIFY c BIGINT": "unique key",
        "ALTER TABLE t DROP PRIMARY KEY, ADD PRIMARY KEY (a, b)": "primary key",
    }
    for sql, why in cases.items():
        assert why in refusal(None, parse_statement(sql)), sql
