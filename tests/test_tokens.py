"""API tokens: expiry, last use, created only by the CLI or a session that
re-enters the password (never by a token), at most 20 live per user, listed
and revoked by the user and by admins. On every dialect under test."""

import datetime
import re

import sqlalchemy as sa

from app import create_app
from app.auth.accounts import find_user
from app.auth.tokens import create_token
from app.clock import utcnow
from app.extensions import db
from app.models.accounts import ApiToken
from config import TestingConfig
from tests.helpers import PASSWORD, csrf_token, login


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def new_token(app, username="viewer", name="", days=None):
    with app.app_context():
        record, token = create_token(find_user(username), name, days)
        return record.id, token


def stored(app, token_id) -> ApiToken:
    with app.app_context():
        record = db.session.get(ApiToken, token_id)
        db.session.expunge(record)
        return record


def set_column(app, token_id, **values):
    with app.app_context():
        db.session.execute(
            sa.update(ApiToken).where(ApiToken.id == token_id).values(**values)
        )
        db.session.commit()


def test_tokens_expire_after_90_days_by_default(app, accounts):
    token_id, token = new_token(app)
    record = stored(app, token_id)
    assert record.expires_at - record.created_at == datetime.timedelta(days=90)
    client = app.test_client()
    assert client.get("/api/me", headers=bearer(token)).status_code == 200
    set_column(app, token_id, expires_at=utcnow() - datetime.timedelta(seconds=1))
    response = client.get("/api/me", headers=bearer(token))
    assert response.status_code == 401


def test_the_lifetime_is_configurable(database_url, accounts):
    app = create_app(
        TestingConfig, SQLALCHEMY_DATABASE_URI=database_url, API_TOKEN_DAYS=7
    )
    record = stored(app, new_token(app)[0])
    assert record.expires_at - record.created_at == datetime.timedelta(days=7)
    record = stored(app, new_token(app, days=2)[0])
    assert record.expires_at - record.created_at == datetime.timedelta(days=2)
    with app.app_context():
        db.engine.dispose()


def test_last_use_is_recorded(app, accounts):
    token_id, token = new_token(app)
    assert stored(app, token_id).last_used_at is None
    app.test_client().get("/api/me", headers=bearer(token))
    used = stored(app, token_id).last_used_at
    assert used is not None and utcnow() - used < datetime.timedelta(minutes=1)


def test_a_token_cannot_create_tokens(app, accounts):
    _, token = new_token(app, "admin")
    client = app.test_client()
    for body in ({"password": PASSWORD}, {"name": "more", "password": PASSWORD}):
        response = client.post("/api/me/tokens", json=body, headers=bearer(token))
        assert response.status_code == 403
        assert "cannot create tokens" in response.get_json()["error"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(ApiToken.id))) == 1


def test_a_session_must_re_enter_the_password(app, logged_in):
    client = logged_in("viewer")
    headers = {"X-CSRFToken": csrf_token(client, "/admin/")}
    response = client.post("/api/me/tokens", json={"name": "x"}, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["fields"] == {"password": "Field required"}
    response = client.post(
        "/api/me/tokens",
        json={"name": "x", "password": "not the password"},
        headers=headers,
    )
    assert response.status_code == 403
    response = client.post(
        "/api/me/tokens",
        json={"name": "laptop", "password": PASSWORD, "days": 30},
        headers=headers,
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["name"] == "laptop" and body["token"].startswith("hw_")
    assert app.test_client().get("/api/me", headers=bearer(body["token"])).is_json


def test_the_account_page_creates_lists_and_revokes_tokens(app, logged_in):
    client = logged_in("operator")
    page = "/admin/account/"
    response = client.post(
        "/admin/account/tokens/new",
        data={"csrf_token": csrf_token(client, page), "name": "ci", "password": "no"},
    )
    assert response.status_code == 400
    assert "not your current password" in response.get_data(as_text=True)

    response = client.post(
        "/admin/account/tokens/new",
        data={
            "csrf_token": csrf_token(client, page),
            "name": "ci",
            "password": PASSWORD,
        },
    )
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    token = re.search(r"(hw_[A-Za-z0-9_-]+)", body).group(1)
    assert "shown only once" in body
    assert app.test_client().get("/api/me", headers=bearer(token)).status_code == 200
    # Listed with its dates, never its value.
    listing = client.get(page).get_data(as_text=True)
    assert "ci" in listing and token not in listing and "active" in listing
    [token_id] = [t["id"] for t in client.get("/api/me/tokens").get_json()["tokens"]]

    response = client.post(
        "/admin/account/tokens/revoke",
        data={"csrf_token": csrf_token(client, page), "token_id": token_id},
    )
    assert response.status_code == 302
    assert app.test_client().get("/api/me", headers=bearer(token)).status_code == 401
    assert "revoked" in client.get(page).get_data(as_text=True)


def test_a_user_cannot_revoke_someone_elses_token(app, logged_in):
    admin_token_id, admin_token = new_token(app, "admin")
    client = logged_in("viewer")
    client.post(
        "/admin/account/tokens/revoke",
        data={"csrf_token": csrf_token(client, "/admin/"), "token_id": admin_token_id},
    )
    response = client.post(
        f"/api/me/tokens/{admin_token_id}/revoke",
        headers={"X-CSRFToken": csrf_token(client, "/admin/")},
    )
    assert response.status_code == 404
    assert stored(app, admin_token_id).revoked_at is None


def test_admins_list_and_revoke_tokens_in_the_users_view(app, logged_in):
    token_id, token = new_token(app, "viewer", "deploy")
    admin = logged_in("admin")
    with app.app_context():
        viewer_id = find_user("viewer").id
    page = admin.get(f"/admin/users/details/?id={viewer_id}").get_data(as_text=True)
    assert "deploy" in page and token not in page
    response = admin.post(
        "/admin/users/revoke-token/",
        data={
            "csrf_token": csrf_token(admin, "/admin/users/"),
            "id": viewer_id,
            "token_id": token_id,
        },
    )
    assert response.status_code == 302
    assert f"API token {token_id} of viewer is revoked." in admin.get(
        response.location
    ).get_data(as_text=True)
    assert app.test_client().get("/api/me", headers=bearer(token)).status_code == 401


def test_at_most_20_live_tokens_per_user(app, runner, logged_in):
    ids = [new_token(app, "viewer", f"t{i}")[0] for i in range(20)]
    result = runner.invoke(args=["users", "token", "create", "viewer"])
    assert result.exit_code == 1
    assert "already holds 20 active API tokens" in result.output
    client = logged_in("viewer")
    response = client.post(
        "/api/me/tokens",
        json={"password": PASSWORD},
        headers={"X-CSRFToken": csrf_token(client, "/admin/")},
    )
    assert response.status_code == 400
    assert "20 active API tokens" in response.get_json()["error"]
    # Revoked and expired ones do not count; another user has their own 20.
    set_column(app, ids[0], revoked_at=utcnow())
    set_column(app, ids[1], expires_at=utcnow() - datetime.timedelta(days=1))
    assert runner.invoke(args=["users", "token", "create", "viewer"]).exit_code == 0
    assert runner.invoke(args=["users", "token", "create", "viewer"]).exit_code == 0
    assert runner.invoke(args=["users", "token", "create", "viewer"]).exit_code == 1
    assert runner.invoke(args=["users", "token", "create", "admin"]).exit_code == 0


def test_the_cli_lists_expiry_and_revokes(app, runner, accounts):
    result = runner.invoke(
        args=["users", "token", "create", "viewer", "--name", "ci", "--days", "3"]
    )
    assert result.exit_code == 0, result.output
    assert "expires" in result.output
    listing = runner.invoke(args=["users", "token", "list"]).output
    assert "expires" in listing and "ci" in listing
    for days in ("0", "4000", "x"):
        result = runner.invoke(
            args=["users", "token", "create", "viewer", "--days", days]
        )
        assert result.exit_code == 2, result.output
    result = runner.invoke(args=["users", "token", "revoke", "9" * 30])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_password_change_revokes_tokens(app, runner, accounts):
    _, token = new_token(app, "operator")
    client = app.test_client()
    assert client.get("/api/me", headers=bearer(token)).status_code == 200
    result = runner.invoke(
        args=["users", "set-password", "operator", "--password-stdin"],
        input="another long password\n",
    )
    assert result.exit_code == 0, result.output
    assert "1 API token revoked" in result.output
    assert client.get("/api/me", headers=bearer(token)).status_code == 401


def test_cli_log_out_everywhere_revokes_tokens(app, runner, accounts):
    _, token = new_token(app, "operator")
    client = app.test_client()
    assert login(client, "operator").status_code == 302
    result = runner.invoke(args=["users", "log-out-everywhere", "operator"])
    assert result.exit_code == 0, result.output
    assert "1 session of operator ended and 1 API token revoked." in result.output
    assert client.get("/admin/").status_code == 302
    assert app.test_client().get("/api/me", headers=bearer(token)).status_code == 401


def test_a_bad_token_on_a_post_gets_401_not_a_csrf_answer(app, accounts):
    """Wrong, revoked or expired: 401, which says what to fix, on a POST as on
    a GET (the CSRF check is for browsers' cookies)."""
    token_id, token = new_token(app, "operator")
    client = app.test_client()
    job = {"action": "upgrade", "target": "head"}
    set_column(app, token_id, revoked_at=utcnow())
    for value in (token, "not-a-token", token + "x"):
        for method, url in (
            ("post", "/api/migrations/jobs"),
            ("post", "/api/me/tokens/1/revoke"),
            ("get", "/api/me"),
        ):
            response = getattr(client, method)(url, json=job, headers=bearer(value))
            assert response.status_code == 401, (url, response.get_data(as_text=True))
            assert response.json == {"error": "invalid, expired or revoked API token"}
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
    # A live token still works, without a CSRF token.
    _, live = new_token(app, "operator")
    response = client.post("/api/me/tokens/999/revoke", headers=bearer(live))
    assert response.status_code == 404
