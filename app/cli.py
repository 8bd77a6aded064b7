"""What every `flask ...` command group of Headway shares."""

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from flask.cli import AppGroup
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from app.errors import HeadwayError, error_line
from config import ConfigError

# MySQL/MariaDB error codes that mean the server cannot be used at all (down,
# unreachable, wrong credentials or database, too busy), not that it refused
# one statement: 1040 too many connections, 1044/1045 access denied, 1049
# unknown database, 1129/1130 host blocked or not allowed, 1203 too many
# connections for the user, 2002-2013 and 2055 connection failures.
_SERVER_UNUSABLE = {1040, 1044, 1045, 1049, 1129, 1130, 1203}
_SQLITE_UNUSABLE = ("unable to open", "disk i/o error", "file is not a database")


def cannot_connect(exc: SQLAlchemyError) -> bool:
    """Whether a database error says the database cannot be used at all."""
    if not isinstance(exc, OperationalError):
        return False
    code = exc.orig.args[0] if getattr(exc.orig, "args", None) else None
    if isinstance(code, int):
        return code in _SERVER_UNUSABLE or 2000 <= code < 2100
    return any(text in str(exc.orig).lower() for text in _SQLITE_UNUSABLE)


def database_error_line(exc: SQLAlchemyError) -> str:
    """One readable line for a database error, without SQL or traceback: a
    database that cannot be used (down, wrong credentials) is told from one
    that refused a statement (a duplicate column, say)."""
    detail = error_line(exc)
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return f"the database connection was lost: {detail}"
    if cannot_connect(exc):
        return f"cannot use the database: {detail}"
    if isinstance(exc, DBAPIError):
        return f"the database refused a statement: {detail}"
    return f"database error: {detail}"


class LazyGroup(click.Group):
    """A command group imported when it runs (or shows its own help), named
    and described here for `flask --help`: `import_path` is "module:attribute"."""

    def __init__(self, name: str, import_path: str, help: str) -> None:
        super().__init__(name, help=help)
        self.import_path = import_path

    def load(self) -> click.Group:
        import importlib

        module, attribute = self.import_path.split(":")
        return getattr(importlib.import_module(module), attribute)

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        # The real group parses, invokes and helps from here on.
        return self.load().make_context(info_name, args, parent=parent, **extra)

    def get_command(self, ctx: click.Context, cmd_name: str):
        return self.load().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self.load().list_commands(ctx)


class HeadwayGroup(AppGroup):
    """A command group whose expected failures end in one line on stderr and
    exit status 1, never a traceback; a library's warning is one line too."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with warnings_in_one_line():
                return super().invoke(ctx)
        except (HeadwayError, ConfigError) as exc:
            fail(str(exc))
        except SQLAlchemyError as exc:
            fail(database_error_line(exc))


@contextmanager
def warnings_in_one_line() -> Iterator[None]:
    """A warning (a UserWarning of Alembic's, SQLAlchemy's or a revision's)
    shown as `warning: MESSAGE`, not as Python's file, line, class and source
    line."""
    original = warnings.showwarning
    # Once each: a revision's code also runs when its plan is rendered first.
    seen: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())
        if text not in seen:
            seen.add(text)
            click.echo(f"warning: {text}", err=True)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = original


def fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)
