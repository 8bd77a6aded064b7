"""wsgi.py with the migrations directory taken from HEADWAY_MIGRATIONS_DIR.

config.py has no environment variable for MIGRATIONS_DIR, and bench/console.py
needs the app (gunicorn and `flask`) to read a temporary copy of migrations/
with generated revisions, not the project's own. Everything else comes from
the environment exactly as for `gunicorn wsgi:app` (HEADWAY_CONFIG, SECRET_KEY,
DATABASE_URL, ...).

    gunicorn bench._app:app        flask --app bench._app:app db current
"""

import os
import sys

from app import create_app
from config import ConfigError

try:
    _migrations = os.environ["HEADWAY_MIGRATIONS_DIR"]
except KeyError:
    sys.exit("Error: bench._app needs HEADWAY_MIGRATIONS_DIR in the environment")

try:
    app = create_app(MIGRATIONS_DIR=_migrations)
except ConfigError as exc:
    sys.exit(f"Error: {exc}")
