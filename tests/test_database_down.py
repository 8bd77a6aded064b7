"""While the database is down, every page answers 503 with the security
headers and a human message, whoever is logged in; if even the error page
fails, a static one. /readyz tells anonymous clients the state only."""

import re

import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db
from config import TestingConfig
from tests.helpers import logged_in_on, login, unreachable_url
from tests.test_security import PUBLIC, assert_security_headers, sample_url

MESSAGE = "The database did not answer"


@pytest.fixture
def down(app, accounts, database_url, tmp_path):
    """(up, down): the app on its database, and the same app (same secret) on
    a database that does not answer."""
    url = unreachable_url(database_url, tmp_path)
    dead = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=url)
    yield app, dead
    with dead.app_context():
        db.engine.dispose()


def page_urls(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC or "GET" not in rule.methods:
            continue
        yield sample_url(rule)


@pytest.mark.parametrize("role", ["viewer", "admin"])
def test_every_page_answers_503_whoever_is_logged_in(down, role):
    up, dead = down
    client = logged_in_on(up, dead, role)
    urls = sorted(set(page_urls(dead)))
    assert len(urls) > 20
    for url in urls:
        response = client.get(url)
        assert response.status_code == 503, url
        assert_security_headers(response)
        assert response.headers["Retry-After"] == "5"
        body = response.get_data(as_text=True)
        assert MESSAGE in body, url
        assert "Traceback" not in body and "OperationalError" not in body
        if url.startswith("/api/"):
            assert response.get_json()["state"] == "unreachable"
        else:
            # The full error page, as to a visitor (not the static fallback),
            # with its stylesheet, which loads without the database.
            assert "navbar" in body and "Log out" not in body
            stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', body)
            css = client.get(stylesheet.group(1))
            css.close()
            assert css.status_code == 200


def test_a_bearer_token_gets_503_json(down):
    _, dead = down
    response = dead.test_client().get(
        "/api/me", headers={"Authorization": "Bearer hw_anything"}
    )
    assert response.status_code == 503
    assert response.get_json()["state"] == "unreachable"


def test_a_static_page_when_even_the_error_page_fails(down, monkeypatch):
    import app.main.error_pages as errors

    def broken(*args, **kwargs):
        raise RuntimeError("the template engine is broken too")

    monkeypatch.setattr(errors, "render_template", broken)
    up, dead = down
    response = logged_in_on(up, dead, "viewer").get("/admin/employee/")
    assert response.status_code == 503
    assert_security_headers(response)
    body = response.get_data(as_text=True)
    assert MESSAGE in body and "<h1>503 · Database unavailable</h1>" in body
    assert "broken too" not in body


def test_anonymous_readyz_gives_the_state_and_a_generic_reason(down):
    up, dead = down
    response = up.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "state": "up_to_date",
        "state_words": "up to date",
        "reason": "the schema is at head",
    }
    response = dead.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "unavailable",
        "state": "unreachable",
        "state_words": "unreachable",
        "reason": "the database does not answer",
    }
    # Not ready for another reason: still no details.
    assert up.test_cli_runner().invoke(args=["db", "downgrade", "base"]).exit_code == 0
    response = up.test_client().get("/readyz")
    assert response.get_json() == {
        "status": "unavailable",
        "state": "unversioned",
        "state_words": "unversioned",
        "reason": "the database has no schema version",
    }


def test_readyz_details_for_logged_in_users(app, runner, logged_in):
    client = logged_in("viewer")
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["current"] == body["heads"] and "Up to date" in body["detail"]
    assert runner.invoke(args=["db", "downgrade", "base"]).exit_code == 0
    body = client.get("/readyz").get_json()
    assert body["state"] == "unversioned"
    assert "Unversioned" in body["detail"] and body["current"] == []


def test_a_connection_lost_during_a_request_is_no_server_error(app, logged_in):
    """The database goes away after the page's queries: closing the session
    at the end of the request fails, after the response was made. That must
    not become a bare 500 (the soak found it during its outage)."""

    @app.get("/loses-its-connection")
    def loses_its_connection():
        db.session.execute(sa.text("SELECT 1"))  # a transaction is open
        connection = db.session.connection()
        if connection.dialect.name == "mysql":
            killer = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)
            thread = connection.exec_driver_sql("SELECT CONNECTION_ID()").scalar()
            with killer.connect() as other:
                other.exec_driver_sql(f"KILL {thread}")
            killer.dispose()
        else:
            connection.connection.dbapi_connection.close()
        return "the page"

    response = logged_in("viewer").get("/loses-its-connection")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "the page"
    # The next request gets a working connection from the pool.
    client = app.test_client()
    assert login(client, "viewer").status_code == 302


def test_a_connection_lost_while_the_state_is_read_is_no_server_error(app, logged_in):
    """The connection dies while the navbar reads where the database stands
    (the journal of a half-applied step): the read took it for a missing
    table and left the request's transaction unusable, and the page's own
    query then failed with a bare 500 (the soak found it during its outage).
    MySQL/MariaDB: SQLite keeps no such journal."""
    client = logged_in("viewer")
    died = []

    def lose_the_connection(conn, cursor, statement, *args):
        if died or "headway_step_runs" not in statement:
            return
        died.append(statement)
        thread = conn.connection.dbapi_connection.thread_id()
        killer = sa.create_engine(conn.engine.url, poolclass=sa.pool.NullPool)
        with killer.connect() as other:
            other.exec_driver_sql(f"KILL {thread}")
        killer.dispose()

    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "mysql":
        pytest.skip("MySQL/MariaDB only: SQLite keeps no journal of steps")
    sa.event.listen(engine, "before_cursor_execute", lose_the_connection)
    try:
        response = client.get("/admin/employee/")
    finally:
        sa.event.remove(engine, "before_cursor_execute", lose_the_connection)
    assert died, "the journal was not read"
    assert response.status_code in (200, 503), response.get_data(as_text=True)[:500]
    # The next request gets a working connection.
    assert client.get("/admin/employee/").status_code == 200
