"""One parser for the ids, page numbers and integers that requests carry."""

import pytest

from app.extensions import db
from app.models.console import MigrationJob
from app.validation import MAX_ID, parse_id, parse_integer


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0", 0),
        ("42", 42),
        ("-7", -7),
        (str(MAX_ID), MAX_ID),
        (str(-MAX_ID - 1), -MAX_ID - 1),
        (str(MAX_ID + 1), None),
        ("9" * 5000, None),  # refused before int() runs
        ("", None),
        ("-", None),
        ("--5", None),
        ("+5", None),
        (" 5", None),
        ("1_000", None),
        ("١٢", None),  # Arabic-Indic digits: int() takes them
        ("²", None),  # isdigit() passes it, int() refuses it
        ("1.0", None),
        (None, None),
    ],
)
def test_parse_integer(text, expected):
    assert parse_integer(text) == expected


def test_bounds_and_ids():
    assert parse_integer("5", 1, 5) == 5
    assert parse_integer("6", 1, 5) is None
    assert parse_integer("0", 1, 5) is None
    assert parse_id("1") == 1 and parse_id(str(MAX_ID)) == MAX_ID
    assert parse_id("0") is None and parse_id("-1") is None
    assert parse_id(str(MAX_ID + 1)) is None


def test_a_job_log_offset_is_parsed_once(app, logged_in):
    """The job page's `after=`: the log's tail from there; past the end, or
    not a number (superscripts and other scripts' digits too), from the
    start again."""
    with app.app_context():
        job = MigrationJob(
            action="upgrade", target="heads", requested_by="someone",
            status="succeeded", from_revisions="", planned="", log="hello",
        )  # fmt: skip
        db.session.add(job)
        db.session.commit()
        job_id = job.id
    viewer = logged_in("viewer")
    url = f"/admin/migrations/jobs/{job_id}/log"
    answer = viewer.get(f"{url}?after=2").get_json()
    assert (answer["text"], answer["reset"], answer["next"]) == ("llo", False, 5)
    assert viewer.get(url).get_json()["text"] == "hello"
    for bad in ("6", "-1", "abc", "²", "١", "9" * 30):
        response = viewer.get(f"{url}?after={bad}")
        assert response.status_code == 200, bad
        assert (response.get_json()["text"], response.get_json()["reset"]) == (
            "hello",
            True,
        )
