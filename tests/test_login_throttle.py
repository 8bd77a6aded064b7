"""Login throttling: the same work for unknown and known names, a lock-out per
(account, address), progressive delays per account, never a lock-out of the
account from elsewhere; all counted in the database. Every dialect."""

import re
import time

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models.accounts import LoginFailures
from tests.helpers import apps_on, client_from, csrf_token, login

WRONG = "wrong password!!"


@pytest.fixture
def make_app(database_url, accounts):
    """An app on the accounts' database with its own throttle settings."""
    with apps_on(database_url) as make:
        yield make


def _normalised(statement: str) -> str:
    return re.sub(r"\s+", " ", statement).strip()


def test_an_unknown_name_costs_the_same_work_as_a_known_one(make_app, monkeypatch):
    """The same SQL statements, in the same order, and one hash check each:
    nothing but the name differs between the two requests."""
    import app.auth.accounts as accounts_module

    app = make_app()
    checks = []
    real_verify = accounts_module.verify_password

    def counting_verify(password_hash, password):
        checks.append(password_hash[:20])
        return real_verify(password_hash, password)

    monkeypatch.setattr(accounts_module, "verify_password", counting_verify)

    def work(username):
        client = client_from(app, f"198.51.100.{len(username)}")
        token = csrf_token(client)
        statements = []

        def record(conn, cursor, statement, parameters, context, executemany):
            statements.append(_normalised(statement))

        with app.app_context():
            sa.event.listen(db.engine, "before_cursor_execute", record)
        checks.clear()
        try:
            response = client.post(
                "/login",
                data={"username": username, "password": WRONG, "csrf_token": token},
            )
        finally:
            with app.app_context():
                sa.event.remove(db.engine, "before_cursor_execute", record)
        assert response.status_code == 200
        page = re.sub(r'value="[^"]*"', "", response.get_data(as_text=True))
        return statements, list(checks), page

    for _ in range(2):  # first failures insert rows, later ones update them
        known = work("operator")
        unknown = work("nobody!!")
        assert known[0] == unknown[0]
        assert len(known[1]) == len(unknown[1]) == 1
        # The dummy hash has the real hashes' algorithm and cost.
        assert known[1][0] == unknown[1][0]
        assert known[2].replace("operator", "nobody!!") == unknown[2]


def test_timing_of_unknown_and_known_names(make_app):
    """With a real argon2 cost, interleaved to share the machine's load."""
    app = make_app(
        ARGON2_TIME_COST=2,
        ARGON2_MEMORY_COST=16384,
        LOGIN_MAX_FAILURES=1000,
        LOGIN_MAX_ADDRESS_FAILURES=1000,
        LOGIN_ACCOUNT_FREE_FAILURES=1000,
    )
    from app.auth.accounts import find_user, set_password
    from tests.helpers import PASSWORD

    with app.app_context():
        set_password(find_user("admin"), PASSWORD)  # hashed at this cost
        db.session.commit()

    def timed(username):
        client = app.test_client()
        token = csrf_token(client)
        started = time.perf_counter()
        client.post(
            "/login",
            data={"username": username, "password": WRONG, "csrf_token": token},
        )
        return time.perf_counter() - started

    timed("nobody")
    unknown, known = [], []
    for _ in range(15):
        unknown.append(timed("nobody"))
        known.append(timed("admin"))
    # Medians, with room for a loaded machine: skipping the hash would make
    # the ratio about 0.05; the exact work is compared statement by statement
    # in the test above.
    ratio = sorted(unknown)[7] / sorted(known)[7]
    assert 0.5 < ratio < 2.0, (unknown, known)


def test_failures_from_one_address_never_lock_the_account_elsewhere(make_app):
    app = make_app()
    attacker = client_from(app, "203.0.113.9")
    for _ in range(6):
        response = login(attacker, "admin", WRONG)
        assert response.status_code == 200
    # The attacker's pair is locked: even the right password fails there ...
    response = login(attacker, "admin")
    assert response.status_code == 200
    assert "Wrong username or password" in response.get_data(as_text=True)
    # ... while the admin, from their own address, logs in at once.
    assert login(client_from(app, "192.0.2.10"), "admin").status_code == 302


def test_the_pair_lock_is_shared_by_workers_and_ends(make_app, login_clock):
    first, second = make_app(LOGIN_LOCK_SECONDS=2), make_app(LOGIN_LOCK_SECONDS=2)
    for app, n in ((first, 3), (second, 2)):
        for _ in range(n):
            login(client_from(app, "203.0.113.5"), "operator", WRONG)
    for app in (first, second):
        assert login(client_from(app, "203.0.113.5"), "operator").status_code == 200
    login_clock.advance(2.1)
    assert login(client_from(second, "203.0.113.5"), "operator").status_code == 302


def test_the_account_as_a_whole_gets_progressive_delays_not_a_lock(
    make_app, login_clock
):
    app = make_app(LOGIN_ACCOUNT_FREE_FAILURES=2, LOGIN_ACCOUNT_MAX_DELAY_SECONDS=2)
    # Failures from many addresses (a botnet): none hits its own limits.
    for i in range(2):
        assert (
            login(client_from(app, f"203.0.113.{i}"), "admin", WRONG).status_code == 200
        )
    # The allowance is used up: the next attempt waits 1 s, whoever makes it.
    response = login(client_from(app, "192.0.2.10"), "admin")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert "try again in 1 second" in response.get_data(as_text=True)
    login_clock.advance(1.05)
    # The delay doubles with each further failure, up to the cap (2 s here) ...
    assert login(client_from(app, "203.0.113.51"), "admin", WRONG).status_code == 200
    response = login(client_from(app, "192.0.2.10"), "admin")
    assert (response.status_code, response.headers["Retry-After"]) == (429, "2")
    login_clock.advance(2.05)
    assert login(client_from(app, "203.0.113.52"), "admin", WRONG).status_code == 200
    response = login(client_from(app, "192.0.2.10"), "admin")
    assert (response.status_code, response.headers["Retry-After"]) == (429, "2")
    # ... and once it has passed, the right password works: never a lock-out.
    login_clock.advance(2.05)
    assert login(client_from(app, "192.0.2.10"), "admin").status_code == 302


def test_unknown_names_are_throttled_like_known_ones(make_app):
    app = make_app(LOGIN_ACCOUNT_FREE_FAILURES=1)
    answers = {}
    for name in ("admin", "nobody"):
        login(client_from(app, "203.0.113.1"), name, WRONG)
        response = login(client_from(app, "203.0.113.2"), name, WRONG)
        answers[name] = (response.status_code, response.headers.get("Retry-After"))
    assert answers["admin"] == answers["nobody"] == (429, "1")


def test_counts_live_in_the_database_and_are_cleared_on_success(make_app):
    app = make_app()
    login(client_from(app, "203.0.113.7"), "viewer", WRONG)
    with app.app_context():
        rows = {
            (r.scope, r.username, r.address): r.failures
            for r in db.session.scalars(sa.select(LoginFailures))
        }
    assert rows == {
        ("address", "", "203.0.113.7"): 1,
        ("account", "viewer", ""): 1,
        ("pair", "viewer", "203.0.113.7"): 1,
    }
    assert login(client_from(app, "203.0.113.7"), "viewer").status_code == 302
    with app.app_context():
        scopes = {r.scope for r in db.session.scalars(sa.select(LoginFailures))}
    assert scopes == {"address"}


def test_a_name_with_control_characters_is_refused_before_any_check(make_app):
    app = make_app()
    for name in ("admin\x00", "ad\nmin", "\x1b[31madmin"):
        response = login(app.test_client(), name)
        assert response.status_code == 200
        assert "Control characters are not allowed" in response.get_data(as_text=True)
    with app.app_context():
        assert (
            db.session.scalar(sa.select(sa.func.count()).select_from(LoginFailures))
            == 0
        )


def test_failure_times_keep_their_microseconds(make_app):
    """A 1 s delay counts from the failure itself, not from the second it fell
    in (MySQL's plain DATETIME would keep whole seconds only)."""
    import datetime

    from app.auth import throttle

    app = make_app()
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, 678901)
    with app.app_context():
        throttle.record_failure("viewer", "203.0.113.3", when)
        rows = db.session.scalars(sa.select(LoginFailures)).all()
        assert {r.last_failed_at for r in rows} == {when}
        assert {r.window_start for r in rows} == {when}
