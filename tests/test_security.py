"""The security baseline: default deny, roles, CSRF, tokens, lock-out,
sessions, redirects, headers, escaping. On every dialect under test."""

import datetime
import re
import time

import pytest
import sqlalchemy as sa

from app import create_app
from app.auth.accounts import find_user, set_password
from app.auth.tokens import create_token
from app.clock import utcnow
from app.extensions import db
from app.models.accounts import LoginSession
from config import TestingConfig
from tests.helpers import PASSWORD, csrf_token, login

# Who may do what: endpoint -> (least role for GET, least role for POST).
# Every endpoint of the app must be listed here or be public: a route added
# later makes test_access_matrix fail until someone decides who may use it.
PUBLIC = {
    "auth.login",
    "main.healthz",
    "main.readyz",
    "main.favicon",
    "static",
    "admin.static",
}
MODEL_VIEW = {
    "index_view": ("viewer", None),
    "details_view": ("viewer", None),
    "export": ("viewer", None),
    "ajax_lookup": ("viewer", None),
    "create_view": ("operator", "operator"),
    "edit_view": ("operator", "operator"),
    "delete_view": (None, "operator"),
    "action_view": (None, "operator"),
    "ajax_update": (None, "operator"),
}
# The employee data admin (app/employees): the same rules on each of its views.
EMPLOYEE_DATA_VIEWS = (
    "employee",
    "department",
    "dept_emp",
    "dept_manager",
    "title",
    "salary",
    "current_dept_emp",
    "dept_emp_latest_date",
)
EXPECTED = {
    "main.index": ("viewer", None),
    "admin.index": ("viewer", None),
    "auth.logout": (None, "viewer"),
    "api.me": ("viewer", None),
    "api.my_tokens": ("viewer", None),
    "api.create_my_token": (None, "viewer"),
    "api.revoke_my_token": (None, "viewer"),
    "api.users": ("admin", None),
    "api.openapi": ("viewer", None),
    "users.logout_everywhere_view": (None, "admin"),
    "users.end_session_view": (None, "admin"),
    "users.revoke_token_view": (None, "admin"),
    "account.index": ("viewer", None),
    "account.new_token_view": (None, "viewer"),
    "account.revoke_token_view": (None, "viewer"),
    "account.end_session_view": (None, "viewer"),
    "account.log_out_everywhere_view": (None, "viewer"),
    "account.password_view": (None, "viewer"),
    "migrations.index": ("viewer", None),
    "migrations.history": ("viewer", None),
    "migrations.history_svg": ("viewer", None),
    "migrations.revision": ("viewer", None),
    "migrations.plan": ("viewer", None),
    "migrations.plan_start": (None, "operator"),
    "migrations.plan_sql": ("viewer", None),
    "migrations.drift": ("viewer", None),
    "migrations.drift_check": (None, "operator"),
    "migrations_api.status": ("viewer", None),
    "migrations_api.revisions": ("viewer", None),
    "migrations_api.plan": ("viewer", None),
    "migrations.audit": ("viewer", None),
    "migrations.job": ("viewer", None),
    "migrations.start_job": (None, "operator"),
    "migrations_api.create_job": (None, "operator"),
    "migrations.cancel_job": (None, "operator"),
    "migrations_api.cancel_job": (None, "operator"),
    "migrations_api.get_job": ("viewer", None),
    "migrations_api.audit": ("viewer", None),
    "migrations.jobs": ("viewer", None),
    "migrations.job_log": ("viewer", None),
    "migrations.preflight_check": (None, "operator"),
    **{
        f"{view}.{name}": roles
        for view in EMPLOYEE_DATA_VIEWS
        for name, roles in MODEL_VIEW.items()
    },
    **{f"users.{name}": ("admin", "admin") for name in MODEL_VIEW},
}
RANK = {None: 0, "viewer": 1, "operator": 2, "admin": 3}


def sample_url(rule) -> str:
    return re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "1", rule.rule)


@pytest.mark.live
def test_access_matrix(app, accounts):
    rules = [r for r in app.url_map.iter_rules()]
    endpoints = {r.endpoint for r in rules}
    assert endpoints - PUBLIC == set(EXPECTED), (
        "routes without a declared access rule: "
        f"{sorted(endpoints - PUBLIC - set(EXPECTED))}"
    )
    for rule in rules:
        if rule.endpoint in PUBLIC:
            continue
        url = sample_url(rule)
        json_route = url.startswith("/api/")
        get_role, post_role = EXPECTED[rule.endpoint]
        for method in ("GET", "POST"):
            if method not in rule.methods:
                continue
            least = get_role if method == "GET" else post_role
            for role in (None, "viewer", "operator", "admin"):
                client = app.test_client()
                if role:
                    assert login(client, role).status_code == 302
                token_page = "/admin/" if role else "/login"
                data = (
                    {"csrf_token": csrf_token(client, token_page)}
                    if method == "POST"
                    else None
                )
                response = client.open(url, method=method, data=data)
                where = f"{method} {url} as {role or 'anonymous'}"
                assert response.status_code != 500, where
                if role is None:
                    if json_route:
                        assert response.status_code == 401, where
                        assert response.get_json() == {"error": "login required"}
                    else:
                        assert response.status_code == 302, where
                        assert response.location.startswith("/login?next="), where
                elif RANK[role] < RANK[least]:
                    assert response.status_code == 403, where
                    if json_route:
                        assert response.get_json() == {"error": "forbidden"}
                else:
                    assert response.status_code not in (401, 403), where
    # "Check now" (POST /admin/migrations/drift) started a drift check job:
    # let its process end before the database is dropped.
    wait_for_jobs(app)


def wait_for_jobs(app, seconds: float = 60) -> None:
    from app.models.console import MigrationJob

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with app.app_context():
            running = db.session.scalar(
                sa.select(sa.func.count())
                .select_from(MigrationJob)
                .where(MigrationJob.status == "running")
            )
        if not running:
            return
        time.sleep(0.2)
    raise AssertionError(f"{running} job(s) still running after {seconds} s")


def post_routes(app):
    for rule in app.url_map.iter_rules():
        if "POST" in rule.methods and rule.endpoint not in PUBLIC - {"auth.login"}:
            yield sample_url(rule)


def test_every_post_needs_a_valid_csrf_token(app, logged_in):
    client = logged_in("admin")
    for url in post_routes(app):
        for data in ({}, {"csrf_token": "wrong"}):
            response = client.post(url, data=data)
            assert response.status_code == 400, f"{url} {data}"
            assert "CSRF" in response.get_data(as_text=True)
    # Still logged in: the failed posts changed nothing.
    assert client.get("/api/me").get_json()["username"] == "admin"


def test_login_form_needs_csrf(client, accounts):
    response = client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert response.status_code == 400
    response = client.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": "x"},
    )
    assert response.status_code == 400


def test_bearer_tokens(app, runner, accounts):
    result = runner.invoke(
        args=["users", "token", "create", "operator", "--name", "ci"]
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("hw_")
    auth = {"Authorization": f"Bearer {token}"}
    client = app.test_client()

    response = client.get("/api/me", headers=auth)
    assert response.status_code == 200
    assert response.get_json() == {"username": "operator", "role": "operator"}
    # A state change with a bearer token needs no CSRF token.
    response = client.post("/api/me/tokens/999/revoke", headers=auth)
    assert response.status_code == 404
    # The operator's role applies: admin-only routes are refused.
    assert client.get("/api/users", headers=auth).status_code == 403
    # A token is for the API only, never for pages.
    response = client.get("/admin/", headers=auth)
    assert response.status_code == 302
    # No session cookie was issued on the way.
    assert not any(c.key == "session" for c in client._cookies.values())

    token_id = int(re.search(r"Token (\d+)", result.output).group(1))
    result = runner.invoke(args=["users", "token", "revoke", str(token_id)])
    assert result.exit_code == 0, result.output
    response = client.get("/api/me", headers=auth)
    assert response.status_code == 401
    assert response.get_json() == {"error": "invalid, expired or revoked API token"}

    for bad in ("Bearer nonsense", "Bearer ", "Basic abc", f"Token {token}"):
        assert client.get("/api/me", headers={"Authorization": bad}).status_code == 401


def test_a_disabled_users_token_is_refused(app, runner, accounts):
    with app.app_context():
        _, token = create_token(find_user("viewer"), "x")
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/me", headers=auth).status_code == 200
    assert runner.invoke(args=["users", "disable", "viewer"]).exit_code == 0
    assert client.get("/api/me", headers=auth).status_code == 401


def test_api_with_a_session_cookie_still_needs_csrf(logged_in):
    client = logged_in("viewer")
    response = client.post("/api/me/tokens", json={"password": PASSWORD})
    assert response.status_code == 400
    assert "CSRF" in response.get_json()["error"]
    response = client.post(
        "/api/me/tokens",
        json={"name": "web", "password": PASSWORD},
        headers={"X-CSRFToken": csrf_token(client, "/admin/")},
    )
    assert response.status_code == 201


def test_api_bad_input(app, runner, accounts):
    with app.app_context():
        _, token = create_token(find_user("operator"))
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    response = client.post(
        "/api/migrations/jobs",
        data="{not json",
        headers={**auth, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    response = client.post("/api/migrations/jobs", json={"action": 5}, headers=auth)
    assert response.status_code == 400
    response = client.post(
        "/api/migrations/jobs",
        json={"action": "upgrade", "target": "x" * 256},
        headers=auth,
    )
    assert response.status_code == 400
    # A token may not create tokens: refused before its body is even read.
    response = client.post(
        "/api/me/tokens",
        data="{not json",
        headers={**auth, "Content-Type": "application/json"},
    )
    assert response.status_code == 403
    assert client.post("/api/me/tokens/999/revoke", headers=auth).status_code == 404
    response = client.get("/api/nope", headers=auth)
    assert response.status_code == 404
    assert response.is_json


def _failed_login(client, username="admin", password="wrong password!!"):
    response = login(client, username, password)
    assert response.status_code == 200, response.status_code
    return response


def test_lockout_is_shared_by_two_app_instances(database_url, accounts, login_clock):
    overrides = dict(SQLALCHEMY_DATABASE_URI=database_url, LOGIN_LOCK_SECONDS=2)
    first = create_app(TestingConfig, **overrides)
    second = create_app(TestingConfig, **overrides)
    try:
        for _ in range(3):
            _failed_login(first.test_client(), "operator")
        for _ in range(2):
            _failed_login(second.test_client(), "operator")
        # Locked: the right password is refused too, on both instances, with
        # the same message as a wrong one.
        for instance in (first, second):
            response = login(instance.test_client(), "operator")
            assert response.status_code == 200
            assert "Wrong username or password" in response.get_data(as_text=True)
        # Others are not affected.
        assert login(first.test_client(), "viewer").status_code == 302
        login_clock.advance(2.1)
        assert login(second.test_client(), "operator").status_code == 302
    finally:
        for instance in (first, second):
            with instance.app_context():
                db.engine.dispose()


def test_failures_outside_the_window_do_not_lock(database_url, accounts, login_clock):
    app = create_app(
        TestingConfig, SQLALCHEMY_DATABASE_URI=database_url, LOGIN_WINDOW_SECONDS=1
    )
    for _ in range(4):
        _failed_login(app.test_client(), "operator")
    login_clock.advance(1.1)
    for _ in range(4):
        _failed_login(app.test_client(), "operator")
    assert login(app.test_client(), "operator").status_code == 302
    with app.app_context():
        db.engine.dispose()


def test_failures_per_client_address_are_limited(database_url, accounts):
    app = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=database_url,
        LOGIN_MAX_ADDRESS_FAILURES=3,
    )
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for name in ("nobody", "admin", "someone"):
        _failed_login(attacker, name)
    response = login(attacker, "viewer")  # even the right password
    assert response.status_code == 429
    assert "too many failed logins" in response.get_data(as_text=True)
    # Another address is not affected.
    assert login(app.test_client(), "viewer").status_code == 302
    with app.app_context():
        db.engine.dispose()


def test_password_change_ends_existing_sessions(app, logged_in):
    client = logged_in("operator")
    assert client.get("/admin/").status_code == 200
    with app.app_context():
        set_password(find_user("operator"), "another long password")
        db.session.commit()
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.location.startswith("/login")
    assert client.get("/api/me").status_code == 401


def test_log_out_everywhere_from_the_users_view(app, logged_in):
    victim = logged_in("viewer")
    second_session = logged_in("viewer")
    admin = logged_in("admin")
    with app.app_context():
        user_id = find_user("viewer").id
    response = admin.post(
        "/admin/users/logout-everywhere/",
        data={"id": user_id, "csrf_token": csrf_token(admin, "/admin/users/")},
    )
    assert response.status_code == 302
    for client in (victim, second_session):
        assert client.get("/admin/").status_code == 302
    assert admin.get("/admin/").status_code == 200
    # The viewer can log in again.
    assert login(app.test_client(), "viewer").status_code == 302


def test_logout(logged_in):
    client = logged_in("viewer")
    response = client.post(
        "/logout", data={"csrf_token": csrf_token(client, "/admin/")}
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 302


def test_sessions_expire(app, logged_in):
    client = logged_in("viewer")
    assert client.get("/admin/").status_code == 200
    age = datetime.timedelta(seconds=app.config["SESSION_MAX_AGE_SECONDS"] + 1)
    with app.app_context():
        db.session.execute(sa.update(LoginSession).values(created_at=utcnow() - age))
        db.session.commit()
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.location.startswith("/login")
    with app.app_context():  # the expired record is gone
        assert db.session.scalar(sa.select(sa.func.count(LoginSession.id))) == 0


def test_session_cookie_flags(app, accounts):
    client = app.test_client()
    response = login(client, "viewer")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Expires" not in cookie  # a browser-session cookie
    from config import ProductionConfig

    assert ProductionConfig.SESSION_COOKIE_SECURE is True


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "http:/evil.example",
        "http:evil.example",
        "/%09/evil.example",
        "javascript:alert(1)",
        "/\t/evil.example",
    ],
)
def test_open_redirects_are_refused(client, accounts, target):
    response = login(client, "viewer", next_url=target)
    assert response.status_code == 302
    assert response.location == "/admin/"


def test_a_local_next_is_followed(client, accounts):
    response = login(client, "viewer", next_url="/admin/employee/?page=2")
    assert response.location == "/admin/employee/?page=2"


SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def assert_security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]


def test_security_headers_everywhere(app, logged_in):
    @app.get("/boom")
    def boom():
        raise RuntimeError("kaboom")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    anonymous = app.test_client()
    client = logged_in("viewer")
    responses = [
        anonymous.get("/login"),
        anonymous.get("/healthz"),
        anonymous.get("/admin/"),
        anonymous.get("/api/me"),
        anonymous.post("/login", data={}),
        client.get("/admin/"),
        client.get("/admin/employee/"),
        client.get("/api/me"),
        client.get("/api/users"),
        client.get("/no/such/page"),
        client.get("/api/no/such/thing"),
        client.get("/admin/employee/new/"),
    ]
    server_error = client.get("/boom")
    assert server_error.status_code == 500
    assert "kaboom" not in server_error.get_data(as_text=True)
    assert "Traceback" not in server_error.get_data(as_text=True)
    responses.append(server_error)
    for response in responses:
        assert_security_headers(response)
    assert [r.status_code for r in responses] == [
        200, 200, 302, 401, 400, 200, 200, 200, 403, 404, 404, 403, 500,
    ]  # fmt: skip


XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def test_names_render_escaped(app, runner, logged_in):
    from app.auth.accounts import create_user
    from app.models import Employee

    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with app.app_context():
        create_user(XSS, PASSWORD, "admin")
        db.session.add(
            Employee(
                emp_no=1,
                birth_date=__import__("datetime").date(1960, 1, 1),
                first_name="<b>x</b>",
                last_name="<i>y</i>",
                gender="F",
                hire_date=__import__("datetime").date(1990, 1, 1),
                email=XSS,
            )
        )
        db.session.commit()
    admin = logged_in("admin")
    xss_user = app.test_client()
    assert login(xss_user, XSS).status_code == 302
    failed = login(app.test_client(), XSS, "wrong password!!")
    pages = [
        admin.get("/admin/users/"),
        admin.get("/admin/employee/"),
        admin.get("/admin/employee/details/?id=1"),
        admin.get("/admin/employee/edit/?id=1"),
        xss_user.get("/admin/"),
        failed,
    ]
    for page in pages:
        body = page.get_data(as_text=True)
        assert page.status_code == 200
        assert XSS not in body
        assert "<b>x</b>" not in body
    assert ESCAPED in pages[0].get_data(as_text=True)
    assert ESCAPED in pages[1].get_data(as_text=True)
    assert ESCAPED in pages[4].get_data(as_text=True)


def test_users_view_never_shows_secrets(app, logged_in):
    admin = logged_in("admin")
    logged_in("viewer")
    with app.app_context():
        user = find_user("viewer")
        _, token = create_token(user)
        session_hashes = [s.secret_hash for s in user.sessions]
        secrets_ = [user.password_hash, user.tokens[0].token_hash, *session_hashes]
    pages = [
        admin.get("/admin/users/"),
        admin.get(f"/admin/users/edit/?id={user.id}"),
        admin.get(f"/admin/users/details/?id={user.id}"),
        admin.get("/api/users"),
    ]
    for page in pages:
        body = page.get_data(as_text=True)
        for secret in [*secrets_, token, "$argon2"]:
            assert secret not in body


def test_session_protection_drops_a_stolen_cookie(app, accounts):
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = "Firefox on the operator's laptop"
    assert login(client, "viewer").status_code == 302
    assert client.get("/admin/").status_code == 200
    # The same cookie from another browser: the session is not honoured.
    client.environ_base["HTTP_USER_AGENT"] = "curl on an attacker's box"
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.location.startswith("/login")


def _stolen(app, client, address: str, forwarded: str):
    """A copy of `client`'s cookie and user agent, sent from `address` with
    an X-Forwarded-For header of the thief's choosing."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    thief.environ_base["HTTP_USER_AGENT"] = client.environ_base["HTTP_USER_AGENT"]
    thief.environ_base["REMOTE_ADDR"] = address
    thief.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded
    return thief


def test_a_stolen_cookie_with_a_spoofed_forwarded_address_gets_nothing(app, accounts):
    """Without a proxy configured, X-Forwarded-For is the client's own say:
    the session stays bound to the peer address that logged in."""
    victim = app.test_client()
    victim.environ_base["HTTP_USER_AGENT"] = "Firefox on the victim's laptop"
    victim.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert login(victim, "admin").status_code == 302
    assert victim.get("/api/me").status_code == 200
    thief = _stolen(app, victim, "203.0.113.9", forwarded="192.0.2.7")
    assert thief.get("/api/me").status_code == 401
    response = thief.get("/admin/")
    assert response.status_code == 302
    assert response.location.startswith("/login")
    # The victim's own session is unharmed.
    assert victim.get("/api/me").json["username"] == "admin"


def test_behind_a_configured_proxy_the_session_follows_its_address(
    database_url, accounts
):
    app = create_app(
        TestingConfig, SQLALCHEMY_DATABASE_URI=database_url, PROXY_FIX_X_FOR=1
    )
    victim = app.test_client()
    victim.environ_base["HTTP_USER_AGENT"] = "Firefox on the victim's laptop"
    victim.environ_base["REMOTE_ADDR"] = "10.0.0.2"  # the proxy
    victim.environ_base["HTTP_X_FORWARDED_FOR"] = "192.0.2.7"
    assert login(victim, "admin").status_code == 302
    assert victim.get("/api/me").status_code == 200
    # The thief's own header comes first; the proxy appends the real address.
    thief = _stolen(app, victim, "10.0.0.2", forwarded="192.0.2.7, 203.0.113.9")
    assert thief.get("/api/me").status_code == 401
    with app.app_context():
        db.engine.dispose()


def test_proxy_fix_by_configuration(database_url, accounts):
    app = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=database_url,
        PROXY_FIX_X_FOR=1,
        LOGIN_MAX_ADDRESS_FAILURES=2,
    )
    behind_proxy = app.test_client()
    behind_proxy.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.7"
    for _ in range(2):
        _failed_login(behind_proxy, "nobody")
    assert login(behind_proxy, "viewer").status_code == 429
    # Another client behind the same proxy has its own count.
    other = app.test_client()
    other.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.8"
    assert login(other, "viewer").status_code == 302
    with app.app_context():
        db.engine.dispose()


def _user_form(client, user_id, **fields):
    data = {"csrf_token": csrf_token(client, "/admin/users/"), **fields}
    return client.post(f"/admin/users/edit/?id={user_id}", data=data)


def test_users_view_manages_accounts(app, logged_in):
    admin = logged_in("admin")
    operator = logged_in("operator")
    with app.app_context():
        operator_id = find_user("operator").id
        admin_id = find_user("admin").id

    # Create an account through the form.
    response = admin.post(
        "/admin/users/new/",
        data={
            "csrf_token": csrf_token(admin, "/admin/users/"),
            "username": "carol",
            "role": "viewer",
            "active": "y",
            "new_password": "carol's long password",
        },
    )
    assert response.status_code == 302
    assert login(app.test_client(), "carol", "carol's long password").status_code == 302

    # A short password is refused, and changes nothing.
    response = _user_form(
        admin, operator_id, username="operator", role="operator", active="y",
        new_password="short",
    )  # fmt: skip
    assert "at least 12 characters" in response.get_data(as_text=True)
    assert operator.get("/admin/").status_code == 200

    # Setting a password ends the operator's session.
    _user_form(
        admin, operator_id, username="operator", role="operator", active="y",
        new_password="a brand new password",
    )  # fmt: skip
    assert operator.get("/admin/").status_code == 302
    assert (
        login(app.test_client(), "operator", "a brand new password").status_code == 302
    )

    # Change the role, then disable.
    _user_form(admin, operator_id, username="operator", role="viewer", active="y")
    with app.app_context():
        assert find_user("operator").role == "viewer"
    _user_form(admin, operator_id, username="operator", role="viewer")
    with app.app_context():
        assert find_user("operator").active is False
    assert (
        login(app.test_client(), "operator", "a brand new password").status_code == 200
    )

    # The last active admin cannot disable or demote itself.
    response = _user_form(admin, admin_id, username="admin", role="viewer", active="y")
    assert "at least one active admin" in response.get_data(as_text=True)
    with app.app_context():
        assert find_user("admin").role == "admin"
