"""Headway: bring a legacy MySQL/MariaDB database under Flask-Migrate, safely."""

from typing import Any

from flask import Flask

from config import INSTANCE_DIR, Config, check_database_url, config_from_env


def create_app(config_class: type[Config] | None = None, **overrides: Any) -> Flask:
    """Build the application. Raises config.ConfigError on a bad configuration."""
    config_class = config_class or config_from_env()
    config_class.prepare()

    app = Flask(
        __name__, template_folder="../templates", instance_path=str(INSTANCE_DIR)
    )
    app.config.from_object(config_class)
    app.config.update(overrides)
    check_database_url(app.config["SQLALCHEMY_DATABASE_URI"])

    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_template_helpers(app)
    return app


def register_extensions(app: Flask) -> None:
    from app import models  # noqa: F401  (every table on the metadata)
    from app.auth.security import init_security
    from app.extensions import db, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=app.config["MIGRATIONS_DIR"])
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
    from app.main.errors import register_errorhandlers

    register_errorhandlers(app)


def register_template_helpers(app: Flask) -> None:
    from app.templating import init_templating

    init_templating(app)


def register_commands(app: Flask) -> None:
    from app.auth.commands import users_cli
    from app.dbadmin.cli import db_cli
    from app.demo.commands import demo_cli
    from app.own_tables.cli import headway_cli

    # Replaces the `db` group Flask-Migrate registered: the same commands,
    # plus verify and adopt, with clean errors for an unreachable database.
    app.cli.add_command(db_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(headway_cli)
    app.cli.add_command(users_cli)
