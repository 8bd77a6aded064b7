"""What every template shares: one timestamp format, with the age on hover."""

from datetime import UTC, datetime

from flask import Flask, g, has_app_context
from markupsafe import Markup, escape

FORMAT = "%Y-%m-%d %H:%M:%S UTC"


def _as_utc(value: datetime) -> datetime:
    # Headway stores naive UTC (SQLite keeps microseconds, MariaDB seconds):
    # both print to the second.
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC, microsecond=0)
    return value.astimezone(UTC).replace(microsecond=0)


def age(value: datetime, now: datetime | None = None) -> str:
    """'just now', '5 min ago', '3 h ago', '2 days ago' (or 'in ...')."""
    now = now or datetime.now(UTC)
    return _age_in_words(int((now - _as_utc(value)).total_seconds()))


def _age_in_words(seconds: int) -> str:
    later, seconds = seconds < 0, abs(seconds)
    for size, unit in ((86400, "day"), (3600, "h"), (60, "min")):
        if seconds >= size:
            count = seconds // size
            text = f"{count} {unit}{'s' if unit == 'day' and count > 1 else ''}"
            return f"in {text}" if later else f"{text} ago"
    return "just now"


def _page_now() -> datetime:
    """The clock read once per request: every age on a page is from the same
    moment, and a page of a hundred dates does not read it a hundred times."""
    if not has_app_context():
        return datetime.now(UTC)
    now = g.get("timestamp_now")
    if now is None:
        now = g.timestamp_now = datetime.now(UTC)
    return now


def timestamp(value: datetime | None, empty: str = "-") -> Markup:
    """`YYYY-MM-DD HH:MM:SS UTC` in a <time> whose title says how long ago."""
    if value is None:
        return Markup(escape(empty))
    moment = _as_utc(value)
    seconds = int((_page_now() - moment).total_seconds())  # both in UTC already
    # One isoformat() gives both forms (`2026-11-22T03:21:59+00:00` and
    # FORMAT's `2026-11-22 03:21:59 UTC`): digits and punctuation only, like
    # the age's words, so there is nothing to escape. Each row of the history
    # has one: strftime() and escape() were half of a row's time.
    iso = moment.isoformat()
    words = _age_in_words(seconds)
    return Markup(
        f'<time datetime="{iso}" title="{words}">{iso[:10]} {iso[11:19]} UTC</time>'
    )


def init_templating(app: Flask) -> None:
    from app.dbadmin.web.joblog import hide_os_user_host, hide_server_details

    app.add_template_filter(timestamp)
    app.add_template_filter(hide_server_details)
    app.add_template_filter(hide_os_user_host)
