"""Flask extensions, created unbound; `create_app` binds them. The login
manager and CSRF protection live with the web's security
(app/auth/security.py): a shell command, which serves no page, imports neither
Flask-Login nor WTForms."""

import functools
import sqlite3
import ssl

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine

db = SQLAlchemy(metadata=MetaData())
# Batch mode and type comparison are set per dialect in migrations/env.py.
migrate = Migrate(compare_type=True, render_as_batch=False)


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
