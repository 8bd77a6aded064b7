"""The factory, the configuration and the probes."""

import pytest

from app import create_app
from config import Config, ConfigError, ProductionConfig


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_default_database_is_sqlite_under_instance():
    assert Config.SQLALCHEMY_DATABASE_URI.startswith("sqlite:///")
    assert Config.SQLALCHEMY_DATABASE_URI.endswith("/instance/headway.db")


def test_production_refuses_to_start_without_secrets(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ConfigError, match="needs SECRET_KEY and DATABASE_URL"):
        create_app(ProductionConfig)


def test_two_apps_side_by_side(database_url):
    # The factory keeps no state between calls (tests build many apps).
    first = create_app(Config, SQLALCHEMY_DATABASE_URI=database_url)
    second = create_app(Config, SQLALCHEMY_DATABASE_URI=database_url)
    assert first.extensions["migrate"] is not second.extensions["migrate"]


def test_the_shared_pymysql_tls_context_checks_what_pymysql_checks():
    """PyMySQL's connections share one TLS context (app/database.py): the
    same settings as PyMySQL's own preferred context, which checks no
    certificate, without the CA certificates that one loads and never reads."""
    from pymysql.connections import Connection

    from app.database import _pymysql_connection_class

    own = Connection._create_ssl_ctx(None, {})
    shared = _pymysql_connection_class()._create_ssl_ctx(None, {})
    assert shared is _pymysql_connection_class()._create_ssl_ctx(None, {})
    for setting in (
        "protocol",
        "verify_mode",
        "check_hostname",
        "verify_flags",
        "options",
        "minimum_version",
        "maximum_version",
    ):
        assert getattr(shared, setting) == getattr(own, setting), setting
    assert shared.get_ciphers() == own.get_ciphers()
    assert shared.cert_store_stats()["x509_ca"] == 0
