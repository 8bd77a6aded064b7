"""A legacy database in any character set and collation adopts, verifies and
upgrades: the legacy DDL names none, so its tables take the database's
defaults, and so do the baseline's (in a scratch database created with the
live one's defaults). A table that differs from its database's default is
still a difference. DDL only: the data does not matter here."""

import pytest
import sqlalchemy as sa

from app import create_app
from app.demo.legacy import LEGACY_DDL
from app.extensions import db
from config import TestingConfig
from tests.helpers import (
    MYSQL_URL,
    migrations_head,
    mysql_server_url,
    new_database,
    version_rows,
)

pytestmark = pytest.mark.skipif(
    not MYSQL_URL, reason="character sets and collations are MySQL/MariaDB's"
)

# Old installs' latin1, a common utf8mb4 one, and MariaDB 11.5+'s default
# (MySQL 8's when the server is MySQL).
COLLATIONS = [
    "latin1_swedish_ci",
    "utf8mb4_unicode_ci",
    "utf8mb4_uca1400_ai_ci",
    "utf8mb4_0900_ai_ci",
]


def server_has(collation: str) -> bool:
    engine = sa.create_engine(mysql_server_url().set(database=""))
    try:
        with engine.connect() as conn:
            return bool(
                conn.execute(
                    sa.text(
                        "SELECT 1 FROM information_schema."
                        "COLLATION_CHARACTER_SET_APPLICABILITY "
                        "WHERE FULL_COLLATION_NAME = :c"
                    ),
                    {"c": collation},
                ).first()
            )
    finally:
        engine.dispose()


@pytest.fixture(params=COLLATIONS)
def legacy_app(request, tmp_path):
    """The app on a database whose default is the collation, holding the
    legacy DDL as it is (no character set named), unversioned."""
    collation = request.param
    if not server_has(collation):
        pytest.skip(f"this server has no {collation} collation")
    with new_database("mysql", tmp_path, collation=collation) as url:
        app = create_app(
            TestingConfig,
            SQLALCHEMY_DATABASE_URI=url,
            JOB_OUTPUT_DIR=str(tmp_path / "jobs"),
        )
        with app.app_context(), db.engine.begin() as conn:
            for statement in LEGACY_DDL["mysql"]:
                conn.exec_driver_sql(statement)
        app.config["TEST_COLLATION"] = collation
        yield app
        with app.app_context():
            db.engine.dispose()


def table_collations(app) -> set[str]:
    with app.app_context(), db.engine.connect() as conn:
        return set(
            conn.exec_driver_sql(
                "SELECT TABLE_COLLATION FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' "
                "AND TABLE_NAME <> 'alembic_version'"
            ).scalars()
        )


def invoke(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def test_a_legacy_database_adopts_verifies_and_upgrades(legacy_app):
    collation = legacy_app.config["TEST_COLLATION"]
    assert table_collations(legacy_app) == {collation}

    result = invoke(legacy_app, "db", "adopt")
    assert result.exit_code == 0, result.output
    assert "adopted at 0001_baseline" in result.output
    result = invoke(legacy_app, "db", "verify")
    assert result.exit_code == 0, result.output
    assert "matches 0001_baseline" in result.output

    result = invoke(legacy_app, "db", "upgrade")
    assert result.exit_code == 0, result.output
    head = migrations_head()
    with legacy_app.app_context():
        assert version_rows(db.engine) == [head]
    result = invoke(legacy_app, "db", "verify")
    assert result.exit_code == 0, result.output
    assert f"matches {head}" in result.output
    # The upgrade kept the database's defaults.
    assert table_collations(legacy_app) == {collation}


def test_a_table_apart_from_the_database_default_is_reported(legacy_app):
    collation = legacy_app.config["TEST_COLLATION"]
    other = "utf8mb4" if collation.startswith("latin1") else "latin1"
    with legacy_app.app_context(), db.engine.begin() as conn:
        conn.exec_driver_sql(f"ALTER TABLE titles CONVERT TO CHARACTER SET {other}")
    result = invoke(legacy_app, "db", "adopt", "--dry-run")
    assert result.exit_code == 1, result.output
    charset = collation.split("_")[0]
    # The differences, listed before the ways forward.
    listed = result.output.split("Ways forward:")[0]
    differences = [line for line in listed.splitlines() if line.startswith("  - ")]
    assert len(differences) == 1, result.output
    assert differences[0].startswith(
        f"  - table titles: default character set and collation are {other} ("
    )
    assert differences[0].endswith(f"expected {charset} ({collation})")
