"""Error responses: JSON under /api/ and for the probes, a page elsewhere.
Never a traceback."""

from flask import Flask, jsonify, render_template
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from app.auth.security import wants_json
from app.dbadmin.core.state import State


def register_errorhandlers(app: Flask) -> None:
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(OperationalError, handle_database_unavailable)
    app.register_error_handler(Exception, handle_unexpected_error)


def _respond(status: int, title: str, message: str, **details):
    if wants_json():
        return jsonify(error=message, **details), status
    return (
        render_template(
            "errors/error.html", status=status, title=title, message=message
        ),
        status,
    )


def handle_csrf_error(error: CSRFError):
    return _respond(400, "Bad request", f"CSRF check failed: {error.description}")


def handle_http_error(error: HTTPException):
    return _respond(error.code or 500, error.name, error.description or error.name)


def handle_database_unavailable(error: OperationalError):
    from flask import current_app

    current_app.logger.warning("Database unavailable: %s", error.orig)
    return _respond(
        503,
        "Database unavailable",
        "The database did not answer, or lacks a table this page needs. "
        "Try again; if it persists, check the database and its migrations.",
        state=State.UNREACHABLE,
    )


def handle_unexpected_error(error: Exception):
    from flask import current_app

    current_app.logger.exception("Unhandled error")
    server_error = InternalServerError()
    return _respond(500, server_error.name, "Something went wrong on our side.")
