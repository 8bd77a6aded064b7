"""Entry point for `gunicorn wsgi:app` and for `flask ...` (found without FLASK_APP)."""

import sys

from app import create_app
from config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    # One clear line and a non-zero exit, for gunicorn and the flask CLI alike.
    sys.exit(f"Error: {exc}")
