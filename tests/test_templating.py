"""One timestamp format on every page: seconds, UTC, the age on hover."""

from datetime import UTC, datetime, timedelta, timezone

from flask import render_template_string

from app.templating import FORMAT, age, timestamp


def test_timestamp_is_seconds_in_utc_whatever_the_dialect_kept():
    sqlite_value = datetime(2026, 11, 22, 3, 21, 59, 574369)  # naive UTC
    html = str(timestamp(sqlite_value))
    assert ">2026-11-22 03:21:59 UTC</time>" in html
    assert 'datetime="2026-11-22T03:21:59+00:00"' in html
    aware = datetime(2026, 11, 22, 4, 21, 59, tzinfo=timezone(timedelta(hours=1)))
    assert ">2026-11-22 03:21:59 UTC<" in str(timestamp(aware))


def test_timestamp_shows_format_and_iso_of_the_same_second():
    for value in (
        datetime(2026, 1, 2, 3, 4, 5),
        datetime(1999, 12, 31, 23, 59, 59, 999999),
        datetime(2026, 6, 30, 0, 0, 0, tzinfo=timezone(timedelta(hours=-7))),
    ):
        moment = (
            (value.replace(tzinfo=UTC) if value.tzinfo is None else value)
            .astimezone(UTC)
            .replace(microsecond=0)
        )
        html = str(timestamp(value))
        assert f">{moment.strftime(FORMAT)}</time>" in html
        assert f'datetime="{moment.isoformat()}"' in html


def test_missing_timestamp_and_escaping():
    assert str(timestamp(None)) == "-"
    assert str(timestamp(None, "<never>")) == "&lt;never&gt;"


def test_age_reads_like_a_person_wrote_it():
    now = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
    assert age(now - timedelta(seconds=5), now) == "just now"
    assert age(now - timedelta(minutes=5), now) == "5 min ago"
    assert age(now - timedelta(hours=3), now) == "3 h ago"
    assert age(now - timedelta(days=1), now) == "1 day ago"
    assert age(now - timedelta(days=2), now) == "2 days ago"
    assert age(now + timedelta(hours=2), now) == "in 2 h"


def test_templates_url_for_follows_the_site_root_and_blueprint(app):
    page = (
        "{{ url_for('.job', job_id=7) }} {{ url_for('static', filename='a.css') }}"
        " {{ url_for('static', filename='a.css', _external=True) }}"
    )
    sites = (
        ("http://localhost/", ""),
        ("http://localhost/hw/", "/hw"),
        ("http://example.test/hw/", "/hw"),
    )
    for base, root in sites:
        expected = (
            f"{root}/admin/migrations/jobs/7 {root}/static/a.css "
            f"{base.rstrip('/').removesuffix(root)}{root}/static/a.css"
        )
        with app.test_request_context("/admin/migrations/", base_url=base):
            # '.job' is the console's (the blueprint of the page's route).
            assert render_template_string(page) == expected
            assert render_template_string(page) == expected
