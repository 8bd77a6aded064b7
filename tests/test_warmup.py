"""A worker's warm-up (app/warmup.py), which gunicorn.conf.py's
post_worker_init runs before the worker takes a connection: the revision
catalog built and every template compiled, no database touched."""

from types import SimpleNamespace

import pytest
from sqlalchemy import event

from app.dbadmin.core import catalog
from app.extensions import db
from app.warmup import warm_up
from tests.test_first_run import gunicorn_conf


@pytest.fixture
def empty_catalog_cache(monkeypatch):
    cache = catalog._CatalogCache()
    monkeypatch.setattr(catalog, "_cache", cache)
    return cache


def compiled_templates(app) -> set[str]:
    return {template.name for template in app.jinja_env.cache.values()}


def test_warm_up_builds_the_catalog_and_compiles_every_template(
    app, empty_catalog_cache, monkeypatch
):
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        warm_up(app)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert statements == []  # files only

    assert set(empty_catalog_cache._entries) == {app.config["MIGRATIONS_DIR"]}
    assert "dbadmin/dashboard.html" in compiled_templates(app)
    assert compiled_templates(app) == set(
        app.jinja_env.list_templates(extensions=["html"])
    )

    # A console page finds the catalog built: nothing is built again.
    def no_second_build(directory):
        raise AssertionError(f"the catalog of {directory} was built again")

    monkeypatch.setattr(catalog, "_build", no_second_build)
    with app.app_context():
        assert catalog.load_catalog().revisions


def test_a_broken_migrations_directory_does_not_stop_the_warm_up(
    app, empty_catalog_cache, tmp_path, caplog
):
    app.config["MIGRATIONS_DIR"] = str(tmp_path / "missing")
    warm_up(app)  # logged, not raised: the pages report it as usual
    assert "warm-up: the revision catalog" in caplog.text
    assert "dbadmin/dashboard.html" in compiled_templates(app)


def test_gunicorn_warms_each_worker_up_before_it_serves(app, empty_catalog_cache):
    conf = gunicorn_conf()
    # preload_app: the hook leaves the garbage collector alone.
    cfg = SimpleNamespace(preload_app=True)
    conf.post_worker_init(SimpleNamespace(wsgi=app, cfg=cfg))
    assert app.config["MIGRATIONS_DIR"] in empty_catalog_cache._entries

    # gunicorn's own page for an app that failed to load is left alone.
    conf.post_worker_init(SimpleNamespace(wsgi=lambda env, start: [], cfg=cfg))
