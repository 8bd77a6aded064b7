"""Errors Headway reports to the user as one clear line."""


class HeadwayError(Exception):
    """An expected failure with a message meant for the user."""


def error_line(exc: BaseException, with_type: bool = False) -> str:
    """One line for an exception: the driver's message for a database error
    (not SQLAlchemy's wrapper with its SQL and link), else the exception's
    own text; its class name when it has no text. `with_type` prefixes the
    class name (for errors raised by user code, where it says the most)."""
    orig = getattr(exc, "orig", None)
    lines = str(orig if orig is not None else exc).strip().splitlines()
    text = lines[0] if lines else ""
    if with_type:
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text or type(exc).__name__
