"""Error responses: JSON under /api/ and for the probes, a page elsewhere.
Never a traceback, and never a bare server error: when even the error page
cannot be rendered, a static one is sent."""

from html import escape

from flask import Flask, current_app, g, jsonify, render_template
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, InternalServerError

from app.auth.security import login_manager, wants_json
from app.dbadmin.core.state import State
from app.errors import error_line
from app.extensions import db

# The database is down, restarting, out of connections, or lacks a table.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)


def register_errorhandlers(app: Flask) -> None:
    # After db.init_app: teardown functions run in reverse order, so this one
    # runs before Flask-SQLAlchemy's.
    app.teardown_appcontext(close_the_database_session)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    for error in DATABASE_UNAVAILABLE:
        app.register_error_handler(error, handle_database_unavailable)
    app.register_error_handler(Exception, handle_unexpected_error)


def _respond(status: int, title: str, message: str, **details):
    if wants_json():
        return jsonify(error=message, **details), status
    try:
        page = render_template(
            "errors/error.html", status=status, title=title, message=message
        )
    except Exception:
        current_app.logger.exception("The error page failed; sending a static one")
        page = STATIC_PAGE.format(
            status=status, title=escape(title), message=escape(message)
        )
    return page, status


STATIC_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{status} {title} · Headway</title>
</head><body><h1>{status} · {title}</h1><p>{message}</p>
<p><a href="/admin/">Back to Headway</a></p></body></html>
"""


def handle_csrf_error(error: CSRFError):
    return _respond(400, "Bad request", f"CSRF check failed: {error.description}")


def handle_http_error(error: HTTPException):
    return _respond(error.code or 500, error.name, error.description or error.name)


def handle_database_unavailable(error: Exception):
    current_app.logger.warning(
        "Database unavailable: %s", getattr(error, "orig", None) or error
    )
    _forget_the_user()
    response = _respond(
        503,
        "Database unavailable",
        "The database did not answer, or lacks a table this page needs. "
        "Try again in a moment; if it persists, check the database and its "
        "migrations.",
        state=State.UNREACHABLE,
    )
    return (*response, {"Retry-After": "5"})


def _forget_the_user() -> None:
    """Render the error as for an anonymous visitor: the page reads
    `current_user`, whose loader would ask the dead database again."""
    g._login_user = login_manager.anonymous_user()
    try:
        db.session.rollback()
    except Exception:  # the connection is gone; the pool replaces it
        current_app.logger.debug("rollback after a database error failed")


def close_the_database_session(error: BaseException | None) -> None:
    """End the request's database session. When the database went away
    during the request, the rollback that closing does fails too; that would
    escape after the response was made, as gunicorn's bare 500. The pool
    replaces the dead connection on the next checkout."""
    try:
        db.session.remove()
    except DBAPIError as exc:
        current_app.logger.warning(
            "Closing the database session failed: %s", error_line(exc)
        )
        db.session.registry.clear()


def handle_unexpected_error(error: Exception):
    current_app.logger.exception("Unhandled error")
    server_error = InternalServerError()
    return _respond(500, server_error.name, "Something went wrong on our side.")
