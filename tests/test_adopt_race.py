"""`flask db upgrade --adopt` decides under the release lock: deploy scripts
running it at once on a legacy database take turns, and the database ends
stamped once, verified at head. (`make soak` runs three trials of this.)"""

import subprocess
import sys

import pytest
import sqlalchemy as sa

from app.demo.legacy import LEGACY_DDL
from tests.helpers import (
    ROOT,
    migrations_head,
    subprocess_env,
    version_rows,
)

RUNS = 3


@pytest.mark.live
def test_three_upgrade_adopt_at_once_end_with_one_stamp_at_head(database_url, runner):
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        # DDL only: the data does not matter to the race.
        with engine.begin() as conn:
            for statement in LEGACY_DDL[engine.dialect.name]:
                conn.exec_driver_sql(statement)
        assert runner.invoke(args=["headway", "init"]).exit_code == 0
        command = [sys.executable, "-m", "flask", "db", "upgrade", "--adopt"]
        processes = [
            subprocess.Popen(
                [*command, "-x", "lock_wait=120"],
                cwd=ROOT,
                env=subprocess_env(DATABASE_URL=database_url),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(RUNS)
        ]
        outputs = []
        for process in processes:
            out, err = process.communicate(timeout=180)
            assert process.returncode == 0, out + err
            assert "Traceback" not in err and "Error" not in err, err
            outputs.append(out)
        adopted = [out for out in outputs if "adopted at 0001_baseline" in out]
        assert len(adopted) == 1, outputs

        head = migrations_head()
        assert version_rows(engine) == [head]
        verified = runner.invoke(args=["db", "verify"])
        assert verified.exit_code == 0, verified.output
        assert verified.output.strip() == f"matches {head}"
        with engine.connect() as conn:
            actions = conn.exec_driver_sql(
                "SELECT action, revision FROM headway_audit ORDER BY id"
            ).all()
        # One adoption, then each step once.
        assert [tuple(row) for row in actions][0] == ("adopt", "0001_baseline")
        assert [a for a, _ in actions].count("adopt") == 1
        assert len(actions) == len({r for _, r in actions})
    finally:
        engine.dispose()
