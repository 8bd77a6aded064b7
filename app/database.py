"""The database's parts that need no ORM: the tables' MetaData, Flask-Migrate,
the engines' connection hooks, and the engine `flask db` works on.

A `flask db` command changes and reads the schema through Alembic, which needs
an engine and the models' MetaData; Flask-SQLAlchemy's `db` brings
SQLAlchemy's ORM with it (sessions, the declarative base), a fifth of the
command's start-up. So `flask db` hands Flask-Migrate a `ShellDatabase`
(create_app's `orm=False`, decided in wsgi.py), and every other app, the web's,
a job's, the other command groups', hands it Flask-SQLAlchemy's `db`
(app/extensions.py). Either way there is one engine per app:
`current_app.extensions["migrate"].db.engine`."""

import functools
import os
import sqlite3
import ssl
from typing import Any

from flask import Flask
from flask_migrate import Migrate
from sqlalchemy import MetaData, engine_from_config, event, make_url, pool
from sqlalchemy.engine import Engine

# Every table Headway maps (app/models, through Flask-SQLAlchemy's `db`), and
# what migrations/env.py compares the schema with.
metadata = MetaData()
# Batch mode and type comparison are set per dialect in migrations/env.py.
migrate = Migrate(compare_type=True, render_as_batch=False)


class ShellDatabase:
    """What `flask db` uses of Flask-SQLAlchemy's `db`: `metadata`, and an
    `engine` built from the same settings as Flask-SQLAlchemy builds its own
    (tests/test_database.py compares the two)."""

    metadata = metadata

    def __init__(self, app: Flask) -> None:
        self._options = flask_sqlalchemy_engine_options(app)

    @functools.cached_property
    def engine(self) -> Engine:
        return engine_from_config(self._options, prefix="")


def flask_sqlalchemy_engine_options(app: Flask) -> dict[str, Any]:
    """The arguments Flask-SQLAlchemy 3.1 gives its default engine
    (SQLAlchemy.init_app and _apply_driver_defaults), for the databases
    Headway supports."""
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}))
    options["url"] = app.config["SQLALCHEMY_DATABASE_URI"]
    echo = app.config.get("SQLALCHEMY_ECHO", False)
    options.setdefault("echo", echo)
    options.setdefault("echo_pool", echo)
    url = make_url(options["url"])
    if url.drivername in {"sqlite", "sqlite+pysqlite"}:
        if url.database in {None, "", ":memory:"}:
            options["poolclass"] = pool.StaticPool
            options["connect_args"] = {
                **options.get("connect_args", {}),
                "check_same_thread": False,
            }
        else:
            # A relative path is under the instance folder (config.py makes
            # the default one absolute); sqlite:///file:path?uri=true too.
            is_uri = url.query.get("uri", False)
            path = url.database[5:] if is_uri else url.database
            if not os.path.isabs(path):
                os.makedirs(app.instance_path, exist_ok=True)
                path = os.path.join(app.instance_path, path)
                options["url"] = url.set(database=f"file:{path}" if is_uri else path)
    elif url.drivername.startswith("mysql"):
        if options.get("pool_class", pool.QueuePool) is pool.QueuePool:
            options.setdefault("pool_recycle", 7200)
        if "charset" not in url.query:
            options["url"] = url.update_query_dict({"charset": "utf8mb4"})
    return options


@event.listens_for(Engine, "connect")
def _sqlite_enforces_foreign_keys(dbapi_connection, connection_record) -> None:
    # SQLite ignores foreign keys (and so ON DELETE CASCADE) unless asked, per
    # connection. migrations/env.py turns them off while it migrates.
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


@event.listens_for(Engine, "do_connect")
def _pymysql_shares_its_tls_context(dialect, connection_record, cargs, cparams):
    # PyMySQL's default ("preferred") TLS builds a new SSL context for every
    # connection, loading the system's CA certificates: 50-250 ms here, more
    # than the rest of connecting. Preflight and verify open several short
    # connections (scratch databases): they share one context, configured as
    # PyMySQL configures each (no certificate checked, as before).
    if dialect.driver != "pymysql":
        return None
    return _pymysql_connection_class()(*cargs, **cparams)


@functools.cache
def _pymysql_connection_class():
    from pymysql.connections import Connection

    class SharedContextConnection(Connection):
        def _create_ssl_ctx(self, sslp):
            if sslp == {}:  # the preferred mode: no TLS option was given
                return _preferred_tls_context()
            return super()._create_ssl_ctx(sslp)

    @functools.cache
    def _preferred_tls_context():
        # PyMySQL's own, less the system's CA certificates it loads (~18 ms
        # of every shell command's first connection): it checks no
        # certificate, so none would be read. tests/test_app.py compares them.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context

    return SharedContextConnection
