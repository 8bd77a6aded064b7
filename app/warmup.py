"""A worker's one-off work, done before it takes its first connection.

A gevent worker serves all its connections in one thread: a request that
computes without yielding holds every other request that worker has
accepted. The first console request in a worker used to build the catalog of
the revision files (each file imported: 0.15 s at 1,000 revisions on an idle
core, several times that on a busy one, without .pyc files more) and compile
its templates (0.1 s for the dashboard), and the requests behind it waited
that long. gunicorn.conf.py's post_worker_init calls warm_up() before the
worker accepts; meanwhile the workers already up take the connections.

Files only: no database connection is opened (the database may not be
there yet, and a page says so itself)."""

from flask import Flask

from app.dbadmin.core.catalog import load_catalog


def warm_up(app: object) -> None:
    """Build the catalog of the revision files and compile every template of
    `app` (a worker's WSGI callable: anything but the Flask app, such as
    gunicorn's page for an app that failed to load, is left alone). A failure
    is logged, not raised: the first page that needs what failed meets the
    same error and reports it as it always does."""
    if not isinstance(app, Flask):
        return
    with app.app_context():
        try:
            load_catalog()
        except Exception as exc:  # any error the page would show
            app.logger.warning("warm-up: the revision catalog: %s", exc)
        environment = app.jinja_env
        for name in environment.list_templates(extensions=["html"]):
            try:
                environment.get_template(name)
            except Exception as exc:  # the page would show it
                app.logger.warning("warm-up: template %s: %s", name, exc)
