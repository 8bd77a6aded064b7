"""Flask extensions, created unbound; `create_app` binds them. CSRF
protection lives with the web's security (app/auth/security.py): a shell
command, which serves no form, does not import WTForms."""

import sqlite3

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine

db = SQLAlchemy(metadata=MetaData())
# Batch mode and type comparison are set per dialect in migrations/env.py.
migrate = Migrate(compare_type=True, render_as_batch=False)
login_manager = LoginManager()


@event.listens_for(Engine, "connect")
def _sqlite_enforces_foreign_keys(dbapi_connection, connection_record) -> None:
    # SQLite ignores foreign keys (and so ON DELETE CASCADE) unless asked, per
    # connection. migrations/env.py turns them off while it migrates.
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
