"""Headway's own tables: their migration environment and version."""

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from app.models.headway import TABLE_PREFIX

VERSION_TABLE = "headway_alembic_version"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Only Headway's own tables, never the user's."""
    if type_ == "table":
        return name.startswith(TABLE_PREFIX) and name != VERSION_TABLE
    return True


def headway_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def headway_revisions(engine: Engine) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(applied, heads) of Headway's own tables."""
    heads = tuple(ScriptDirectory.from_config(headway_config()).get_heads())
    with engine.connect() as conn:
        applied = MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE}
        ).get_current_heads()
    return applied, heads


def init_headway_tables(engine: Engine) -> tuple[str, ...]:
    """Create or upgrade Headway's own tables; touches nothing else.
    Returns the revisions they are at."""
    command.upgrade(headway_config(), "heads")
    return headway_revisions(engine)[0]
