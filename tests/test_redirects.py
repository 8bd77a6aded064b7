"""One redirect rule for `next=` and Flask-Admin's `url=`: only a path on this
site is followed, on every secured model view and every route of each."""

import pytest
from flask_admin.contrib.sqla import ModelView

from tests.conftest import read_only_fixture
from tests.helpers import csrf_token, login
from tests.templates import ACCOUNTS

OFF_SITE = [
    "http:evil.example",
    "https://evil.example/",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "http:/evil.example",
    "javascript:alert(1)",
    "/\t/evil.example",
    "ftp://evil.example",
]


# The tests but the last write nothing: one app and database for them all.
read_only = read_only_fixture(ACCOUNTS)


def model_views(app):
    admin = app.extensions["admin"][0]
    return [v for v in admin._views if isinstance(v, ModelView)]


def view_routes(app, view):
    prefix = f"{view.endpoint}."
    return sorted(
        (rule.endpoint.removeprefix(prefix), rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith(prefix) and rule.endpoint != f"{prefix}static"
    )


def assert_stays_on_site(response, where):
    assert response.status_code != 500, where
    location = response.headers.get("Location")
    if location:
        assert location.startswith("/") and not location.startswith("//"), (
            where,
            location,
        )
        assert "evil" not in location, (where, location)


def test_every_model_view_is_covered(read_only):
    assert {v.endpoint for v in model_views(read_only.app)} >= {
        "employee",
        "department",
        "users",
    }


@pytest.mark.parametrize("target", OFF_SITE)
def test_url_is_refused_on_every_route_of_every_model_view(read_only, target):
    app, admin = read_only.app, read_only.logged_in("admin")
    token = csrf_token(admin, "/admin/")
    for view in model_views(app):
        for name, path in view_routes(app, view):
            where = f"{view.endpoint}.{name} url={target!r}"
            response = admin.get(path, query_string={"id": "1", "url": target})
            assert_stays_on_site(response, f"GET {where}")
            if name != "ajax_lookup":  # it takes no url=
                assert response.status_code in (400, 405), where
            response = admin.post(
                path,
                query_string={"id": "1"},
                data={"csrf_token": token, "id": "1", "url": target, "rowid": "1",
                      "action": "delete"},
            )  # fmt: skip
            assert_stays_on_site(response, f"POST {where}")


def test_the_probe_of_the_report(read_only):
    """As a viewer: details, export and edit with url=http:evil.com."""
    viewer = read_only.logged_in("viewer")
    for path in (
        "/admin/employee/details/?id=0&url=http:evil.com",
        "/admin/department/details/?id=0&url=http:evil.com",
        "/admin/employee/export/csv/?url=http:evil.com",
    ):
        response = viewer.get(path)
        assert response.status_code == 400, path
        assert "must be a path on this site" in response.get_data(as_text=True)


def test_a_local_url_is_still_followed(read_only):
    viewer = read_only.logged_in("viewer")
    response = viewer.get("/admin/employee/details/?id=0&url=/admin/employee/?page=1")
    assert response.status_code == 302
    assert response.location == "/admin/employee/?page=1"


def test_chained_through_login_next(app, accounts):
    client = app.test_client()
    response = login(
        client,
        "viewer",
        next_url="/admin/employee/details/?id%3D0%26url%3Dhttp:evil.com",
    )
    assert response.status_code == 302
    assert response.location.startswith("/admin/employee/details/")
    response = client.get(response.location)
    assert response.status_code == 400
