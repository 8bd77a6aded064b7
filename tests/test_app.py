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
