"""`flask headway release`, run as a deploy script runs it: in a subprocess,
on SQLite and MySQL/MariaDB, judged by its exit status, its output and the
database afterwards."""

import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from app.dbadmin.core.lock import migration_lock
from app.demo.legacy import create_legacy
from app.own_tables.setup import OWN_VERSION_TABLE, own_tables_config
from tests.helpers import (
    ROOT,
    data_fingerprint,
    migrations_chain,
    migrations_head,
    run_flask,
    subprocess_env,
    version_rows,
)

# Every test here runs `flask` in a subprocess (make test-fast skips them).
pytestmark = pytest.mark.live

HEAD = migrations_head()
OWN_HEAD = ScriptDirectory.from_config(own_tables_config()).get_current_head()


@pytest.fixture
def engine(database_url):
    # NullPool: no connection stays open to keep the database from its DROP.
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    yield engine
    engine.dispose()


@pytest.fixture
def release(database_url, scripts):
    """release(*args): `flask headway release ARGS` on the test's database and
    on the `scripts` copy of migrations/."""

    def run(*args: str):
        return run_flask(
            "headway",
            "release",
            *args,
            DATABASE_URL=database_url,
            HEADWAY_MIGRATIONS_DIR=str(scripts.directory),
        )

    return run


def assert_ok(result) -> list[str]:
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[-1] == "release ok"
    return lines


def assert_one_line_error(result, *fragments: str) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: ")
    for fragment in fragments:
        assert fragment in line
    assert "release ok" not in result.stdout
    return line


def audit(engine) -> list[tuple[str, str, bool]]:
    with engine.connect() as conn:
        return [
            (action, revision, bool(success))
            for action, revision, success in conn.exec_driver_sql(
                "SELECT action, revision, success FROM headway_audit ORDER BY id"
            )
        ]


def drift_checks(engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT revisions, stamp_differences, stamp_error, model_differences "
            "FROM headway_drift_checks ORDER BY id"
        ).all()


def test_fresh_database(release, engine):
    lines = assert_ok(release())
    assert lines == [
        f"Headway tables at {OWN_HEAD}",
        f"upgrading base -> {HEAD}",
        f"upgraded: the database is at {HEAD}",
        f"verified: the schema is {HEAD}'s and the models'",
        "release ok",
    ]
    assert version_rows(engine) == [HEAD]
    assert version_rows(engine, OWN_VERSION_TABLE) == [OWN_HEAD]
    assert audit(engine) == [("upgrade", rev, True) for rev in migrations_chain()]
    # The verification is the console's drift check: the dashboard shows it.
    assert drift_checks(engine) == [(HEAD, "", None, "")]


def test_already_at_head_does_nothing(release, engine):
    assert_ok(release())
    lines = assert_ok(release())
    assert f"already at {HEAD}" in lines
    assert version_rows(engine) == [HEAD]
    assert len(audit(engine)) == len(migrations_chain())  # none ran the second time


def test_legacy_database_with_adopt(release, engine):
    create_legacy(engine, scale=0.003)
    data = data_fingerprint(engine)

    lines = assert_ok(release("--adopt"))
    assert lines[:4] == [
        f"Headway tables at {OWN_HEAD}",
        "adopted at 0001_baseline",
        f"upgrading 0001_baseline -> {HEAD}",
        f"upgraded: the database is at {HEAD}",
    ]
    assert version_rows(engine) == [HEAD]
    assert data_fingerprint(engine) == data
    assert audit(engine) == [("adopt", "0001_baseline", True)] + [
        ("upgrade", rev, True) for rev in migrations_chain()[1:]
    ]
    # Idempotent: --adopt on a versioned database adopts nothing.
    assert f"already at {HEAD}" in assert_ok(release("--adopt"))
    assert data_fingerprint(engine) == data


def test_fresh_database_with_adopt_upgrades_from_base(release, engine):
    lines = assert_ok(release("--adopt"))
    assert not [line for line in lines if "adopted" in line]
    assert version_rows(engine) == [HEAD]


def test_legacy_database_without_adopt_is_refused(release, engine):
    create_legacy(engine, scale=0.003)
    data = data_fingerprint(engine)
    assert_one_line_error(
        release(),
        "unversioned but already has tables (departments, dept_emp",
        "flask headway release --adopt",
    )
    assert version_rows(engine) is None
    assert data_fingerprint(engine) == data


def test_adopt_when_no_revision_matches_writes_nothing(release, engine):
    create_legacy(engine, scale=0.003)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE departments ADD COLUMN budget INTEGER")
    assert_one_line_error(
        release("--adopt"),
        "no revision matches the database, nothing was written",
        "departments.budget",
        "flask db adopt --dry-run",
    )
    assert version_rows(engine) is None


def test_a_failing_migration(release, engine, scripts):
    assert_ok(release())
    scripts.write(
        "0003_broken",
        HEAD,
        'op.add_column("employees", sa.Column("nickname", sa.String(20)))\n'
        'op.execute("UPDATE no_such_table SET x = 1")',
        'op.drop_column("employees", "nickname")',
    )
    # (Preflight would refuse it first: this is the step that fails.)
    result = release("--no-preflight")
    assert_one_line_error(
        result,
        f"the upgrade to 0003_broken failed, the database is at {HEAD}",
        "no_such_table",
    )
    assert "Traceback" not in result.stdout + result.stderr
    assert version_rows(engine) == [HEAD]
    assert audit(engine)[-1] == ("upgrade", "0003_broken", False)
    if engine.dialect.name == "mysql":
        # MySQL DDL is not transactional: the column the step added stays, the
        # journal records the step as partial, and the next release refuses,
        # naming what ran, still in one line.
        assert_one_line_error(
            release(), "partially applied: 0003_broken (upgrade) failed", "nickname"
        )
    else:
        # SQLite runs the step in one transaction: nothing of it stayed, and
        # the next release fails the same way.
        assert "nickname" not in {
            c["name"] for c in sa.inspect(engine).get_columns("employees")
        }
        assert_one_line_error(
            release("--no-preflight"), "0003_broken failed", "no_such_table"
        )
    assert version_rows(engine) == [HEAD]


def test_a_revision_that_raises(release, engine, scripts):
    scripts.write("0003_raises", HEAD, 'raise RuntimeError("cannot go on")')
    result = release("--no-preflight")
    assert_one_line_error(
        result,
        "the upgrade to 0003_raises failed",
        f"at {HEAD}: RuntimeError: cannot go on",
    )
    assert "Traceback" not in result.stderr
    assert version_rows(engine) == [HEAD]


def test_a_schema_that_differs_is_not_released(release, engine):
    assert_ok(release())
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE departments ADD COLUMN budget INTEGER")
    assert_one_line_error(
        release(),
        f"the schema differs from {HEAD}'s schema (1 difference(s))",
        "departments.budget",
    )


def test_two_releases_at_once_one_waits_both_succeed(
    database_url, scripts, engine, tmp_path
):
    # A revision slow enough that the second release certainly finds the first
    # one running.
    scripts.write("0003_slow", HEAD, "import time\ntime.sleep(4)")
    env = subprocess_env(
        DATABASE_URL=database_url, HEADWAY_MIGRATIONS_DIR=str(scripts.directory)
    )
    command = [sys.executable, "-m", "flask", "headway", "release", "--lock-wait", "60"]
    processes = [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, out.decode() + err.decode()
        assert err == b""
        outputs.append(out.decode())
    waited = [out for out in outputs if "waiting up to" in out]
    upgraded = [out for out in outputs if "upgrading base -> 0003_slow" in out]
    assert len(waited) == 1 and len(upgraded) == 1, outputs
    assert "already at 0003_slow" in waited[0]
    assert version_rows(engine) == ["0003_slow"]
    # Each step ran once.
    assert [revision for _, revision, _ in audit(engine)] == [
        *migrations_chain(),
        "0003_slow",
    ]


def test_the_wait_for_another_release_is_bounded(release, engine):
    """A release waits --lock-wait seconds for the lock, then gives up in one
    line; started while the lock is held, it goes on once it is free."""
    with engine.connect() as conn, migration_lock(conn, purpose="release"):
        assert_one_line_error(
            release("--lock-wait", "1"),
            "another release or adoption is still running",
            "--lock-wait",
        )
        assert version_rows(engine) is None

        waiting = {}
        thread = threading.Thread(
            target=lambda: waiting.update(result=release("--lock-wait", "60"))
        )
        thread.start()
        time.sleep(3)  # it starts and finds the lock held
        assert thread.is_alive()
    thread.join(120)
    lines = assert_ok(waiting["result"])
    assert lines[0].startswith("waiting up to")
    assert version_rows(engine) == [HEAD]


def test_an_unreachable_database_is_one_line():
    result = run_flask(
        "headway",
        "release",
        DATABASE_URL="mysql+pymysql://nobody@127.0.0.1:1/employees",
    )
    assert_one_line_error(result, "cannot use the database")


def test_a_database_newer_than_the_code_is_refused(release, engine, scripts):
    """Code rolled back alone: the database is at a revision the scripts no
    longer have. Nothing moves; the line says what to do."""
    newer = scripts.write("0003_newer", HEAD)
    assert "upgraded: the database is at 0003_newer" in assert_ok(release())
    newer.unlink()
    assert_one_line_error(
        release(),
        "the database is at 0003_newer, which these migration scripts do not have",
        "downgrade with that code first",
    )
    assert version_rows(engine) == ["0003_newer"]


def test_a_broken_revision_file_stops_the_release(release, engine, scripts):
    assert_ok(release())
    (scripts.versions / "0003_broken.py").write_text("revision = (\n")
    assert_one_line_error(
        release(),
        "a release needs every revision file, and this one is broken (0003_broken.py",
    )
    assert version_rows(engine) == [HEAD]
