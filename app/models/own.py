"""What Headway's own tables share: they carry the `headway_` prefix, are
ignored by migrations/env.py and are versioned by their own small migration
environment (app/own_tables/migrations, table headway_alembic_version), applied
with `flask headway init`. They are never part of the user's schema history."""

from app.dbadmin.core.alembic_env import TABLE_PREFIX  # noqa: F401 (one definition)
