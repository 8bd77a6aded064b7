"""Server-side login sessions: a record per login, named by the cookie, ended
by logout, log out everywhere, a password change and disabling; listed and
ended by admins and by the user. On every dialect under test."""

import datetime

import sqlalchemy as sa

from app.auth.accounts import find_user
from app.auth.tokens import create_token
from app.clock import utcnow
from app.extensions import db
from app.models.accounts import ApiToken, LoginSession
from tests.helpers import PASSWORD, csrf_token, login


def sessions(app, username=None) -> list[LoginSession]:
    with app.app_context():
        query = sa.select(LoginSession).order_by(LoginSession.id)
        if username:
            query = query.where(LoginSession.user_id == find_user(username).id)
        rows = db.session.scalars(query).all()
        db.session.expunge_all()
        return rows


def copy_of(app, client):
    """Another client holding the same session cookie (a stolen cookie)."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def post(client, url, page="/admin/", **data):
    return client.post(url, data={"csrf_token": csrf_token(client, page), **data})


def test_login_records_a_session_the_cookie_names(app, accounts):
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = "Firefox\x00 on a laptop"
    client.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert login(client, "viewer").status_code == 302
    [record] = sessions(app)
    with app.app_context():
        assert record.user_id == find_user("viewer").id
    assert record.address == "192.0.2.7"
    assert record.user_agent == "Firefox on a laptop"  # control characters dropped
    assert record.created_at <= record.last_seen_at <= utcnow()
    # The cookie carries a secret, not the user id; the table only its hash.
    with client.session_transaction() as session:
        secret = session["_user_id"]
    assert len(secret) >= 40 and secret != str(record.user_id)
    assert secret not in record.secret_hash


def test_logout_ends_the_session_on_the_server(app, logged_in):
    client = logged_in("viewer")
    thief = copy_of(app, client)
    assert thief.get("/admin/").status_code == 200
    response = post(client, "/logout")
    assert response.status_code == 302
    assert sessions(app) == []
    # The copied cookie no longer works either.
    response = thief.get("/admin/")
    assert response.status_code == 302 and response.location.startswith("/login")
    assert thief.get("/api/me").status_code == 401


def test_a_logged_in_request_is_one_lookup_and_last_seen_moves_per_minute(
    app, logged_in
):
    client = logged_in("viewer")
    [before] = sessions(app)
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert client.get("/api/me").status_code == 200
    finally:
        with app.app_context():
            sa.event.remove(db.engine, "before_cursor_execute", record)
    # One query: the session by its unique hash, the user joined in. No write.
    assert len(statements) == 1, statements
    assert "headway_sessions.secret_hash = " in statements[0]
    assert "JOIN headway_users" in statements[0]
    [after] = sessions(app)
    assert after.last_seen_at == before.last_seen_at

    a_while_ago = utcnow() - datetime.timedelta(minutes=2)
    with app.app_context():
        db.session.execute(sa.update(LoginSession).values(last_seen_at=a_while_ago))
        db.session.commit()
    assert client.get("/api/me").status_code == 200
    [seen] = sessions(app)
    assert seen.last_seen_at > a_while_ago + datetime.timedelta(minutes=1)


def test_admin_sees_and_ends_one_session(app, logged_in):
    laptop, phone = logged_in("viewer"), logged_in("viewer")
    admin = logged_in("admin")
    with app.app_context():
        viewer_id = find_user("viewer").id
    page = admin.get(f"/admin/users/details/?id={viewer_id}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    first, second = sessions(app, "viewer")
    assert body.count('name="session_id"') == 2

    response = post(
        admin, "/admin/users/end-session/", id=viewer_id, session_id=first.id
    )
    assert response.status_code == 302
    assert [s.id for s in sessions(app, "viewer")] == [second.id]
    assert laptop.get("/admin/").status_code == 302
    assert phone.get("/admin/").status_code == 200
    # A session of another user, or one that does not exist, is not ended.
    [admin_session] = sessions(app, "admin")
    for session_id in (admin_session.id, 10**30, "x"):
        response = post(
            admin, "/admin/users/end-session/", id=viewer_id, session_id=session_id
        )
        assert response.status_code == 302
    assert len(sessions(app)) == 2
    # Viewers may not use the Users view at all.
    assert post(phone, "/admin/users/end-session/", id=viewer_id,
                session_id=second.id).status_code == 403  # fmt: skip


def test_a_user_ends_their_own_other_session(app, logged_in):
    laptop, phone = logged_in("operator"), logged_in("operator")
    admin = logged_in("admin")
    page = laptop.get("/admin/account/").get_data(as_text=True)
    assert "this session" in page
    laptop_session, phone_session = sessions(app, "operator")
    response = post(laptop, "/admin/account/sessions/end", session_id=phone_session.id)
    assert response.status_code == 302
    assert phone.get("/admin/").status_code == 302
    assert laptop.get("/admin/").status_code == 200
    # Never someone else's.
    [admin_session] = sessions(app, "admin")
    post(laptop, "/admin/account/sessions/end", session_id=admin_session.id)
    assert admin.get("/admin/").status_code == 200


def _token_count(app, username, live=True):
    with app.app_context():
        query = sa.select(sa.func.count(ApiToken.id)).where(
            ApiToken.user_id == find_user(username).id
        )
        if live:
            query = query.where(ApiToken.revoked_at.is_(None))
        return db.session.scalar(query)


def test_log_out_everywhere_ends_sessions_and_revokes_tokens(app, logged_in):
    laptop, phone = logged_in("viewer"), logged_in("viewer")
    admin = logged_in("admin")
    with app.app_context():
        viewer = find_user("viewer")
        viewer_id = viewer.id
        _, token = create_token(viewer, "ci")
    auth = {"Authorization": f"Bearer {token}"}
    assert app.test_client().get("/api/me", headers=auth).status_code == 200

    response = post(admin, "/admin/users/logout-everywhere/", id=viewer_id)
    assert response.status_code == 302
    page = admin.get(response.location).get_data(as_text=True)
    assert "2 sessions of viewer ended and 1 API token revoked." in page
    for client in (laptop, phone):
        assert client.get("/admin/").status_code == 302
    assert app.test_client().get("/api/me", headers=auth).status_code == 401
    assert sessions(app, "viewer") == [] and _token_count(app, "viewer") == 0
    assert admin.get("/admin/").status_code == 200


def test_own_log_out_everywhere(app, logged_in):
    laptop, phone = logged_in("viewer"), logged_in("viewer")
    response = post(laptop, "/admin/account/log-out-everywhere")
    assert response.status_code == 302 and response.location == "/login"
    page = laptop.get("/login").get_data(as_text=True)
    assert "Logged out everywhere: 2 sessions of viewer ended" in page
    assert phone.get("/admin/").status_code == 302
    assert sessions(app) == []


def test_password_change_in_the_users_view_ends_access_and_says_so(app, logged_in):
    victim = logged_in("operator")
    admin = logged_in("admin")
    with app.app_context():
        operator = find_user("operator")
        operator_id = operator.id
        create_token(operator, "one")
        create_token(operator, "two")
    response = admin.post(
        f"/admin/users/edit/?id={operator_id}",
        data={
            "csrf_token": csrf_token(admin, "/admin/users/"),
            "username": "operator",
            "role": "operator",
            "active": "y",
            "new_password": "a brand new password",
        },
    )
    assert response.status_code == 302
    page = admin.get(response.location).get_data(as_text=True)
    assert "1 session of operator ended and 2 API tokens revoked." in page
    assert victim.get("/admin/").status_code == 302
    assert _token_count(app, "operator") == 0
    # The form says so before it is used.
    form = admin.get(f"/admin/users/edit/?id={operator_id}").get_data(as_text=True)
    assert "revokes their API tokens" in form


def test_disabling_ends_access(app, logged_in):
    victim = logged_in("operator")
    admin = logged_in("admin")
    with app.app_context():
        operator_id = find_user("operator").id
        create_token(find_user("operator"), "ci")
    response = admin.post(
        f"/admin/users/edit/?id={operator_id}",
        data={
            "csrf_token": csrf_token(admin, "/admin/users/"),
            "username": "operator",
            "role": "operator",
        },
    )
    assert response.status_code == 302
    page = admin.get(response.location).get_data(as_text=True)
    assert "1 session of operator ended and 1 API token revoked." in page
    assert victim.get("/admin/").status_code == 302
    assert sessions(app, "operator") == [] and _token_count(app, "operator") == 0


def test_own_password_change(app, logged_in):
    client, other = logged_in("viewer"), logged_in("viewer")

    def change(current, new, confirm=None):
        return post(
            client,
            "/admin/account/password",
            page="/admin/account/",
            current_password=current,
            new_password=new,
            confirm=new if confirm is None else confirm,
        )

    response = change("not my password", "a brand new password")
    assert response.status_code == 400
    assert "not your current password" in response.get_data(as_text=True)
    response = change(PASSWORD, "short")
    assert response.status_code == 400
    assert "at least 12 characters" in response.get_data(as_text=True)
    response = change(PASSWORD, "a brand new password", "another one entirely")
    assert response.status_code == 400
    assert "The two new passwords differ." in response.get_data(as_text=True)
    assert other.get("/admin/").status_code == 200

    response = change(PASSWORD, "a brand new password")
    assert response.status_code == 302 and response.location == "/login"
    page = client.get("/login").get_data(as_text=True)
    assert "Password changed: 2 sessions of viewer ended" in page
    assert other.get("/admin/").status_code == 302
    assert login(app.test_client(), "viewer").status_code == 200
    fresh = app.test_client()
    assert login(fresh, "viewer", "a brand new password").status_code == 302
