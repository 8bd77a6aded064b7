"""Alembic environment for Headway's own tables (`flask headway init`).

Separate from the user's history in migrations/: its own version table
(headway_alembic_version) and only `headway_*` tables, so that `flask db
downgrade` never touches accounts or the audit trail, and `flask db stamp`
means what it says about the user's schema.
"""

from alembic import context
from flask import current_app

from app.own_tables.setup import OWN_VERSION_TABLE, include_own_table

config = context.config
db = current_app.extensions["migrate"].db


def run_migrations(connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # A batch rebuild drops and recreates a table: with foreign keys on,
        # dropping headway_users would cascade to the tokens and sessions.
        # Outside any transaction, or SQLite ignores it.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    try:
        _configure_and_run(connection)
    finally:
        if sqlite and not connection.invalidated:
            connection.rollback()
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()


def _configure_and_run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=db.metadata,
        version_table=OWN_VERSION_TABLE,
        include_object=include_own_table,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    with db.engine.connect() as connection:
        run_migrations(connection)
