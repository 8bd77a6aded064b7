"""Headway's own tables: their migration environment and version."""

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from app.models.own import TABLE_PREFIX

OWN_VERSION_TABLE = "headway_alembic_version"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def include_own_table(obj, name, type_, reflected, compare_to) -> bool:
    """Only Headway's own tables, never the user's."""
    if type_ == "table":
        return name.startswith(TABLE_PREFIX) and name != OWN_VERSION_TABLE
    return True


def own_tables_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def own_revisions(engine: Engine) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(applied, heads) of Headway's own tables."""
    heads = tuple(ScriptDirectory.from_config(own_tables_config()).get_heads())
    with engine.connect() as conn:
        applied = MigrationContext.configure(
            conn, opts={"version_table": OWN_VERSION_TABLE}
        ).get_current_heads()
    return applied, heads


def init_own_tables(engine: Engine) -> tuple[str, ...]:
    """Create or upgrade Headway's own tables; touches nothing else.
    Returns the revisions they are at."""
    command.upgrade(own_tables_config(), "heads")
    return own_revisions(engine)[0]
