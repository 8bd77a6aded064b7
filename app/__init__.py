"""Headway: bring a legacy MySQL/MariaDB database under Flask-Migrate, safely."""

from pathlib import Path
from typing import Any

from flask import Flask

from config import Config, config_from_env, load_config


def create_app(
    config_class: type[Config] | None = None,
    *,
    web: bool = True,
    orm: bool = True,
    **overrides: Any,
) -> Flask:
    """Build the application. Raises config.ConfigError on a bad configuration.

    `web=False` builds it without what serves pages (the blueprints, the
    admin, the error pages, the templates' helpers): a shell command or a
    job's process serves none, and the web admin is half of the start-up.
    Flask refuses blueprints once the app has served, so this is decided
    here, once (wsgi.py decides it for `flask` commands).

    `orm=False` (with `web=False`: `flask db`) builds it without
    Flask-SQLAlchemy, whose ORM `flask db` does not use: Flask-Migrate gets
    an engine built from the same settings (app/database.py)."""
    if web and not orm:
        raise ValueError("the web app needs the ORM: orm=False goes with web=False")
    config_class = config_class or config_from_env()
    # Every setting, read and checked in one place (config.py).
    config = load_config(config_class, **overrides)

    app = Flask(
        __name__,
        template_folder="../templates",
        instance_path=str(Path(config["INSTANCE_DIR"]).resolve()),
    )
    app.config.update(config)

    register_extensions(app, web, orm)
    if web:
        register_blueprints(app)
        register_errorhandlers(app)
        register_template_helpers(app)
    register_commands(app)
    return app


def register_extensions(app: Flask, web: bool = True, orm: bool = True) -> None:
    from app.database import migrate

    if web:
        # Every table on the metadata. A shell command imports the models
        # when it needs them (the groups' modules, migrations/env.py for a
        # run): `flask db current` starts without them and the ORM.
        from app import models  # noqa: F401

    if orm:
        from app.extensions import db

        db.init_app(app)
    else:
        from app.database import ShellDatabase

        db = ShellDatabase(app)
    migrate.init_app(app, db, directory=app.config["MIGRATIONS_DIR"])
    if web:
        from app.auth.security import init_security

        init_security(app)


def register_blueprints(app: Flask) -> None:
    from app.admin import init_admin
    from app.api.routes import bp as api_bp
    from app.auth.routes import bp as auth_bp
    from app.dbadmin.web.api import bp as migrations_api_bp
    from app.main.routes import bp as main_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(api_bp, url_prefix="/api")
    app.register_blueprint(migrations_api_bp, url_prefix="/api/migrations")
    init_admin(app)


def register_errorhandlers(app: Flask) -> None:
    from app.main.error_pages import register_errorhandlers

    register_errorhandlers(app)


def register_template_helpers(app: Flask) -> None:
    from app.templating import init_templating

    init_templating(app)


def register_commands(app: Flask) -> None:
    from app.cli import LazyGroup
    from app.dbadmin.cli import db_cli

    # Replaces the `db` group Flask-Migrate registered: the same commands,
    # plus verify and adopt, with clean errors for an unreachable database.
    app.cli.add_command(db_cli)
    # Imported when run: each imports the models (and the ORM), which
    # `flask db current` does without.
    app.cli.add_command(
        LazyGroup(
            "demo",
            "app.demo.cli:demo_cli",
            "Demo data: a legacy database to try Headway on.",
        )
    )
    app.cli.add_command(
        LazyGroup(
            "headway",
            "app.own_tables.cli:headway_cli",
            "Headway's own tables and accounts.",
        )
    )
    app.cli.add_command(
        LazyGroup("users", "app.auth.cli:users_cli", "Login accounts and API tokens.")
    )
