"""What every `flask ...` command group of Headway shares."""

import sys
from typing import Any

import click
from flask.cli import AppGroup
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from app.errors import HeadwayError, error_line
from config import ConfigError


def database_error_line(exc: SQLAlchemyError) -> str:
    """One readable line for a database error, without SQL or traceback."""
    detail = error_line(exc)
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return f"the database connection was lost: {detail}"
    if isinstance(exc, OperationalError):
        return f"cannot use the database: {detail}"
    return f"database error: {detail}"


class HeadwayGroup(AppGroup):
    """A command group whose expected failures end in one line on stderr and
    exit status 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (HeadwayError, ConfigError) as exc:
            fail(str(exc))
        except SQLAlchemyError as exc:
            fail(database_error_line(exc))


def fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)
