"""Scratch databases: where a revision's schema is built, to compare with.

On SQLite a temporary file; on MySQL/MariaDB a temporary database on the same
server, named with SCRATCH_DATABASE_PREFIX, so the login needs CREATE and DROP
(and the DDL privileges the migrations use) on databases with that prefix.
"""

import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy.engine import Engine

from app.dbadmin.core.alembic_env import (
    ALEMBIC_LOCK,
    alembic_config,
    inside_a_running_migration,
    quiet_alembic,
)
from app.errors import HeadwayError


class ScratchUnavailable(HeadwayError):
    """The login may not create the scratch database (the grant is missing)."""


@contextmanager
def scratch_engine(live: Engine) -> Iterator[Engine]:
    """An empty database of the live one's dialect, dropped afterwards."""
    dialect = live.dialect.name
    if dialect == "sqlite":
        fd, path = tempfile.mkstemp(prefix="headway-scratch-", suffix=".db")
        os.close(fd)
        engine = sa.create_engine(f"sqlite:///{path}", poolclass=sa.pool.NullPool)
        try:
            yield engine
        finally:
            engine.dispose()
            os.unlink(path)
    elif dialect == "mysql":
        prefix = current_app.config["SCRATCH_DATABASE_PREFIX"]
        name = f"{prefix}{secrets.token_hex(6)}"
        with live.connect() as conn:
            charset, collation = conn.execute(
                sa.text(
                    "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME "
                    "FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()"
                )
            ).one()
            try:
                conn.exec_driver_sql(
                    f"CREATE DATABASE `{name}` CHARACTER SET {charset} "
                    f"COLLATE {collation}"
                )
            except sa.exc.DBAPIError as exc:
                pattern = prefix.replace("_", "\\_") + "%"
                raise ScratchUnavailable(
                    f"cannot create the scratch database `{name}` that holds a "
                    f"revision's schema ({exc.orig}); grant this login CREATE, "
                    "DROP and the migrations' DDL privileges there: "
                    f"GRANT ALL ON `{pattern}`.* TO '{live.url.username}'@'...'"
                ) from None
        engine = sa.create_engine(
            live.url.set(database=name), poolclass=sa.pool.NullPool
        )
        try:
            yield engine
        finally:
            engine.dispose()
            with live.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
    else:
        raise HeadwayError(
            f"verifying a {dialect} database is not supported "
            "(Headway supports MySQL/MariaDB and SQLite)"
        )


def upgrade_to(
    engine: Engine, revisions: tuple[str, ...], script: ScriptDirectory | None = None
) -> None:
    """Run the user's migrations on `engine` until it stands at `revisions`.
    Callers building many revisions pass one `script` (parsing every revision
    file once, not once per build)."""
    # Quiet: these steps run on a scratch database, not on the user's.
    with ALEMBIC_LOCK, quiet_alembic(), inside_a_running_migration():
        _upgrade(engine, revisions, script)


def _upgrade(engine: Engine, revisions, script: ScriptDirectory | None) -> None:
    with engine.connect() as conn:
        config = alembic_config(connection=conn, configure_logger=False)
        script = script or ScriptDirectory.from_config(config)
        for rev in revisions:
            # What `alembic upgrade REV` does, with the scripts already parsed.
            def steps(heads, context, rev=rev):
                return script._upgrade_revs(rev, heads)

            with EnvironmentContext(config, script, fn=steps, destination_rev=rev):
                script.run_env()
        conn.commit()
