"""Bad input gets a clear 4xx, never a 500: JSON bodies validated by schema,
a body size limit, deep nesting, page numbers, ids and control characters.
The OpenAPI description comes from the same schemas. Every dialect."""

import json
import time

import pytest

from app.api.schemas import NewToken
from app.auth.accounts import find_user
from app.auth.tokens import create_token
from tests.conftest import read_only_fixture
from tests.helpers import PASSWORD, csrf_token
from tests.templates import ACCOUNTS

# The tests that share `read_only` (and `api`) write nothing: one app and
# database for them all.
read_only = read_only_fixture(ACCOUNTS)


@pytest.fixture
def api(read_only):
    """A logged-in session posting JSON with its CSRF header."""
    client = read_only.logged_in("viewer")
    headers = {"X-CSRFToken": csrf_token(client, "/admin/")}

    def post(path, **kwargs):
        kwargs.setdefault("headers", {}).update(headers)
        return client.post(path, **kwargs)

    post.client = client
    return post


@pytest.mark.parametrize("body", ["true", "1", '"str"', "[1,2]", "null", "{}"])
def test_json_bodies_of_the_wrong_shape(api, body):
    response = api(
        "/api/me/tokens", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    answer = response.get_json()
    assert answer["error"].startswith("invalid request body")
    if body == "{}":
        assert answer["fields"] == {"password": "Field required"}
    else:
        assert answer["fields"] == {"(body)": "Input should be an object"}


@pytest.mark.parametrize(
    "body, field",
    [
        ({"password": PASSWORD, "name": 5}, "name"),
        ({"password": PASSWORD, "name": "x" * 65}, "name"),
        ({"password": PASSWORD, "name": "ci\x00"}, "name"),
        ({"password": PASSWORD, "days": "5"}, "days"),
        ({"password": PASSWORD, "days": 0}, "days"),
        ({"password": PASSWORD, "days": 10**30}, "days"),
        ({"password": 12}, "password"),
        ({"password": PASSWORD, "admin": True}, "admin"),
    ],
)
def test_a_wrong_field_is_named(api, body, field):
    response = api("/api/me/tokens", json=body)
    assert response.status_code == 400
    assert list(response.get_json()["fields"]) == [field]
    assert field in response.get_json()["error"]


def test_deep_nesting_and_broken_json(api):
    for body in ("[" * 100_000, '{"a":' * 100_000, "{not json", "\xff"):
        response = api(
            "/api/me/tokens", data=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, body[:10]
        assert response.get_json()["fields"]["(body)"].startswith("Invalid JSON")


def test_a_megabyte_of_unknown_fields_gets_a_small_answer_quickly(read_only, api):
    """Every unknown name would be an error of its own: the answer names the
    first 20 and says how many, in a few kilobytes, not ten megabytes."""
    limit = read_only.app.config["MAX_CONTENT_LENGTH"]
    names = {f"{i:07d}{'x' * 100}": 1 for i in range(limit // 120)}
    body = json.dumps(names).encode()
    assert limit // 2 < len(body) <= limit
    started = time.perf_counter()
    response = api(
        "/api/me/tokens", data=body, headers={"Content-Type": "application/json"}
    )
    elapsed = time.perf_counter() - started
    assert response.status_code == 400
    answer = response.get_json()
    assert len(answer["fields"]) == 20
    assert f"({len(names)} errors in all)" in answer["error"]
    assert len(response.get_data()) < 10_000
    assert elapsed < 2, elapsed  # 2.4 s of worker time before the bound


def test_many_errors_are_cut_to_twenty(app):
    from pydantic import ValidationError

    from app.api.schemas import Request
    from app.api.validation import field_errors, validation_message

    class Many(Request):
        items: list[int]

    try:
        Many.model_validate_json(json.dumps({"items": ["x" * 1000] * 500}))
    except ValidationError as exc:
        errors, message = field_errors(exc), validation_message(exc)
    assert len(errors) == 20
    assert "(500 errors in all)" in message
    assert len(message) < 3000


def test_a_token_is_refused_before_its_body_is_read(app, accounts):
    """Creating a token needs a session: a bearer token's request is answered
    403 from its headers, whatever the body holds."""
    with app.app_context():
        _, token = create_token(find_user("viewer"), "x")
    response = app.test_client().post(
        "/api/me/tokens",
        data=b"{" + b'"a":1,' * 150_000 + b'"b":1}',
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 403
    assert "cannot create tokens" in response.get_json()["error"]


def test_the_body_size_is_limited(read_only, api):
    big = "x" * (read_only.app.config["MAX_CONTENT_LENGTH"] + 1)
    response = api("/api/me/tokens", json={"password": PASSWORD, "name": big})
    assert response.status_code == 413
    assert response.is_json
    response = api.client.post(
        "/admin/account/tokens/new", data={"name": big, "password": "x"}
    )
    assert response.status_code == 413


@pytest.mark.parametrize("page", ["-1", "1" * 23, "1000000001"])
def test_page_numbers_out_of_range(read_only, page):
    client = read_only.logged_in("viewer")
    for view in ("employee", "department"):
        response = client.get(f"/admin/{view}/?page={page}")
        assert response.status_code == 400
        assert "page number must be from 0" in response.get_data(as_text=True)
    assert (
        read_only.logged_in("admin").get(f"/admin/users/?page={page}").status_code
        == 400
    )


@pytest.mark.parametrize("key", ["1,2", "9" * 30, "-" + "9" * 30, "x", "1,"])
def test_record_keys_that_cannot_be(read_only, key):
    admin = read_only.logged_in("admin")
    # The employee data views answer 400 for an id that cannot be a key ...
    for path in (
        f"/admin/employee/details/?id={key}",
        f"/admin/employee/edit/?id={key}",
        f"/admin/salary/details/?id={key}",
        f"/admin/department/edit/?id={key}",
    ):
        response = admin.get(path)
        if "department" in path and "," not in key:  # a dept_no, not found
            assert response.status_code == 302, path
        else:
            assert response.status_code == 400, path
    # ... the Users view says the record does not exist.
    for path in (f"/admin/users/details/?id={key}", f"/admin/users/edit/?id={key}"):
        response = admin.get(path)
        assert response.status_code == 302, path
        page = admin.get(response.location).get_data(as_text=True)
        assert "Record does not exist" in page, path


@pytest.mark.parametrize("token_id", ["9" * 30, "9" * 19, "0", "-1"])
def test_token_ids_out_of_range_are_404(api, token_id):
    response = api(f"/api/me/tokens/{token_id}/revoke")
    assert response.status_code == 404
    assert response.is_json


def test_ids_in_forms_out_of_range(read_only):
    admin = read_only.logged_in("admin")
    token = csrf_token(admin, "/admin/users/")
    for path, field in (
        ("/admin/users/end-session/", "session_id"),
        ("/admin/users/revoke-token/", "token_id"),
        ("/admin/account/sessions/end", "session_id"),
        ("/admin/account/tokens/revoke", "token_id"),
    ):
        for value in ("9" * 30, "-5", "x"):
            with read_only.app.app_context():
                user_id = find_user("viewer").id
            response = admin.post(
                path, data={"csrf_token": token, "id": user_id, field: value}
            )
            assert response.status_code == 302, (path, value)
        response = admin.post(path, data={"csrf_token": token, "id": "9" * 30})
        assert response.status_code in (302, 404), path


@pytest.mark.parametrize("name", ["bad\x00name", "new\nline", "rtl\u202eoverride"])
def test_control_characters_in_names(app, runner, logged_in, name):
    result = runner.invoke(
        args=["users", "create", name, "--role", "viewer", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 1
    assert "must not contain control characters" in result.output
    admin = logged_in("admin")
    response = admin.post(
        "/admin/users/new/",
        data={
            "csrf_token": csrf_token(admin, "/admin/users/"),
            "username": name,
            "role": "viewer",
            "active": "y",
            "new_password": PASSWORD,
        },
    )
    assert response.status_code == 200
    assert "must not contain control characters" in response.get_data(as_text=True)
    result = runner.invoke(args=["users", "token", "create", "viewer", "--name", name])
    assert result.exit_code == 1
    assert "must not contain control characters" in result.output
    with app.app_context():
        with pytest.raises(Exception, match="control characters"):
            create_token(find_user("viewer"), name)


def test_openapi_describes_every_api_route_from_the_schemas(read_only):
    document = read_only.logged_in("viewer").get("/api/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    documented = {
        (path, method)
        for path, operations in document["paths"].items()
        for method in operations
    }
    routes = set()
    for rule in read_only.app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = rule.rule
            for converter in ("<id:", "<int:", "<"):
                path = path.replace(converter, "{")
            path = path.replace(">", "}")
            routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == routes
    operation = document["paths"]["/api/me/tokens"]["post"]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    # The very schema the route validates with.
    expected = NewToken.model_json_schema(ref_template="#/components/schemas/{model}")
    assert schema["properties"] == expected["properties"]
    assert schema["required"] == ["password"]
    assert "400" in operation["responses"] and "401" in operation["responses"]
    job = document["paths"]["/api/migrations/jobs"]["post"]
    ref = job["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/NewJob")
    assert document["components"]["schemas"]["NewJob"]["properties"]["action"][
        "enum"
    ] == ["upgrade", "downgrade", "stamp", "adopt", "rollback", "resume", "preflight"]
    # The deliberate yes to a downgrade, a stamp or data loss, documented.
    typed = document["components"]["schemas"]["NewJob"]["properties"]["typed_target"]
    assert (
        "required for downgrade and stamp, and with allow_data_loss"
        in (typed["description"])
    )
    assert "typed_target" in job["description"]
    revoke = document["paths"]["/api/me/tokens/{token_id}/revoke"]["post"]
    assert revoke["parameters"][0]["schema"]["maximum"] == 2**63 - 1


def test_openapi_needs_a_login(read_only):
    assert read_only.app.test_client().get("/api/openapi.json").status_code == 401


@pytest.mark.parametrize("query", ["export_type=", "_scheme=x", "_method=PUT"])
def test_list_arguments_that_clash_with_the_export_link(read_only, query):
    """The list's export link repeats its arguments: found by tests/test_fuzz.py."""
    client = read_only.logged_in("viewer")
    for view in ("employee", "department", "salary"):
        response = client.get(f"/admin/{view}/?{query}")
        assert response.status_code == 200, view
