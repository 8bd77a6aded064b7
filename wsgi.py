"""Entry point for `gunicorn wsgi:app` and for `flask ...` (found without FLASK_APP)."""

import os
import sys

from app import create_app
from config import ConfigError

# `flask db|users|headway|demo ...` serves no page: the app is built without
# the web admin (app.create_app's `web`), half of a command's start-up; and
# `flask db ...` without Flask-SQLAlchemy's ORM (`orm`), a fifth of what is left.
SHELL_GROUPS = {"db", "users", "headway", "demo"}
# The flask command's own options that take a value.
_VALUED_OPTIONS = {"-A", "--app", "-e", "--env-file"}


def flask_command() -> str | None:
    """The command group `flask` runs (None when this is not `flask`)."""
    if os.environ.get("FLASK_RUN_FROM_CLI") != "true":
        return None
    args = iter(sys.argv[1:])
    for arg in args:
        if arg in _VALUED_OPTIONS:
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


try:
    group = flask_command()
    app = create_app(web=group not in SHELL_GROUPS, orm=group != "db")
except ConfigError as exc:
    # One clear line and a non-zero exit, for gunicorn and the flask CLI alike.
    sys.exit(f"Error: {exc}")
