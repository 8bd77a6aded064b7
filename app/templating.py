"""What every template shares: one timestamp format, with the age on hover,
and URLs built once."""

from datetime import UTC, datetime
from functools import lru_cache

from flask import Flask, g, has_app_context, has_request_context, request, url_for
from markupsafe import Markup, escape

FORMAT = "%Y-%m-%d %H:%M:%S UTC"


def _as_utc(value: datetime) -> datetime:
    # Headway stores naive UTC (SQLite keeps microseconds, MariaDB seconds):
    # both print to the second.
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
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


@lru_cache(maxsize=4096)
def _tag(value: datetime) -> tuple[datetime, str, str]:
    """The UTC moment and the <time> tag around its title: a pure function of
    the value, so a page shown again (a hundred dates on the history) does not
    format them again. Digits, letters, spaces and "-:+" only: nothing to
    escape (and Markup.format costs ~10x more)."""
    moment = _as_utc(value)
    return (
        moment,
        f'<time datetime="{moment.isoformat()}" title="',
        f'">{moment.strftime(FORMAT)}</time>',
    )


def timestamp(value: datetime | None, empty: str = "-") -> Markup:
    """`YYYY-MM-DD HH:MM:SS UTC` in a <time> whose title says how long ago."""
    if value is None:
        return Markup(escape(empty))
    moment, before, after = _tag(value)
    seconds = int((_page_now() - moment).total_seconds())  # both in UTC already
    return Markup(before + _age_in_words(seconds) + after)


# (site root, blueprint, endpoint, arguments) -> URL. The URL map does not
# change once the app runs, so the same arguments always build the same URL.
_urls: dict[tuple, str] = {}
URLS_KEPT = 10_000


def kept_url_for(endpoint: str, **values) -> str:
    """The templates' url_for: a page builds a dozen URLs (tabs, navbar,
    links), the same ones on every request; each is built once. The key holds
    what url_for reads from the request for a path: the site's root and the
    blueprint ('.job' is relative to it). External URLs (`_external`,
    `_scheme`, which read the host) are built every time."""
    if not has_request_context() or any(k.startswith("_") for k in values):
        return url_for(endpoint, **values)
    # The blueprint matters to a relative endpoint only (reading it costs as
    # much as the rest of the lookup).
    relative_to = request.blueprint if endpoint.startswith(".") else None
    key = (request.script_root, relative_to, endpoint, *sorted(values.items()))
    try:
        return _urls[key]
    except KeyError:
        pass
    except TypeError:  # an argument that cannot be a key: built every time
        return url_for(endpoint, **values)
    if len(_urls) > URLS_KEPT:
        _urls.clear()
    url = _urls[key] = url_for(endpoint, **values)
    return url


def init_templating(app: Flask) -> None:
    from app.dbadmin.web.joblog import hide_os_user_host, hide_server_details

    app.add_template_filter(timestamp)
    app.add_template_filter(hide_server_details)
    app.add_template_filter(hide_os_user_host)
    app.add_template_global(kept_url_for, "url_for")
