"""Configuration classes, read from the environment (and `.env`, if present).

`HEADWAY_CONFIG` picks the class: `development` (the default), `production`
or `testing`.
"""

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"

load_dotenv(BASE_DIR / ".env")

# The embedded default: no server needed.
DEFAULT_DATABASE_URI = f"sqlite:///{INSTANCE_DIR / 'headway.db'}"


class ConfigError(Exception):
    """The configuration cannot start the application."""


def _instance_secret_key(instance_dir: Path) -> str:
    """A random key kept under instance/ so that every gunicorn worker and every
    restart signs sessions with the same key, without a guessable default."""
    path = instance_dir / "secret_key"
    instance_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))
    return path.read_text().strip()


# Every setting Headway reads from the environment, read and checked here
# only (read_settings): the app's (create_app) and gunicorn's
# (gunicorn.conf.py). A bad value is one line naming the variable.


def text(name: str, value: str) -> str:
    return value


def config_name(name: str, value: str) -> str:
    if value.strip() not in CONFIGS:
        raise ConfigError(
            f"{name}={value.strip()!r} is unknown; use one of {', '.join(CONFIGS)}"
        )
    return value.strip()


def whole(minimum: int):
    """A whole number of at least `minimum`."""

    def parse(name: str, value: str) -> int:
        stripped = value.strip()
        if not (stripped.isascii() and stripped.isdigit()) or int(stripped) < minimum:
            words = "above 0" if minimum == 1 else f"of at least {minimum}"
            if minimum == 0:
                words = "(0 or more)"
            raise ConfigError(f"{name} must be a whole number {words}, not {value!r}")
        return int(stripped)

    return parse


def one_of(*choices: str):
    def parse(name: str, value: str) -> str:
        if value.strip() not in choices:
            raise ConfigError(
                f"{name} must be one of {', '.join(choices)}, not {value!r}"
            )
        return value.strip()

    return parse


def seconds(name: str, value: str) -> float:
    """A number of seconds above 0 (0.5 allowed)."""
    try:
        number = float(value.strip())
    except ValueError:
        number = -1.0
    if not number > 0 or number == float("inf"):
        raise ConfigError(f"{name} must be a number of seconds above 0, not {value!r}")
    return number


def status_thresholds(name: str, value: str) -> str:
    """pt-osc's --max-load / --critical-load: status variable=threshold,
    comma-separated (Threads_running=25)."""
    for part in value.split(","):
        variable, _, threshold = part.strip().partition("=")
        if not (variable.replace("_", "").isalnum() and threshold.strip().isdigit()):
            raise ConfigError(
                f"{name} must be status variable=number, comma-separated "
                f"(Threads_running=25), not {value!r}"
            )
    return value.strip()


def identifier_prefix(name: str, value: str) -> str:
    # It names databases: letters, digits and underscores, as MySQL allows
    # unquoted, so no name built from it needs quoting rules.
    if not value or not all(c.isascii() and (c.isalnum() or c == "_") for c in value):
        raise ConfigError(
            f"{name} must be letters, digits and underscores, not {value!r}"
        )
    return value


def off_or_path(name: str, value: str) -> str | None:
    return None if value.strip().lower() in OFF else value


OFF = ("", "off", "none", "0", "false", "no")
WORKER_CLASSES = ("gevent", "gthread", "sync")


@dataclass(frozen=True)
class Setting:
    """An environment variable: its config key (None: gunicorn's only), how
    it is parsed and checked, and what it means (the README's table)."""

    variable: str
    key: str | None
    parse: Callable[[str, str], Any]
    help: str


SETTINGS = (
    Setting(
        "HEADWAY_CONFIG",
        None,
        config_name,
        "development (default), production or testing",
    ),
    Setting(
        "DATABASE_URL",
        "SQLALCHEMY_DATABASE_URI",
        text,
        "the database (default: SQLite in instance/headway.db)",
    ),
    Setting(
        "SECRET_KEY",
        "SECRET_KEY",
        text,
        "signs sessions (development: kept in instance/secret_key)",
    ),
    Setting(
        "HEADWAY_INSTANCE_DIR",
        "INSTANCE_DIR",
        text,
        "where the default database, secret key and job output live "
        "(default: instance/ beside the code)",
    ),
    Setting(
        "HEADWAY_MIGRATIONS_DIR",
        "MIGRATIONS_DIR",
        text,
        "the migrations (default: migrations/ beside the code)",
    ),
    Setting(
        "HEADWAY_JOB_OUTPUT_DIR",
        "JOB_OUTPUT_DIR",
        text,
        "what job processes print (default: instance/jobs)",
    ),
    Setting(
        "HEADWAY_SCRATCH_PREFIX",
        "SCRATCH_DATABASE_PREFIX",
        identifier_prefix,
        "name prefix of the scratch databases (default headway_scratch_)",
    ),
    Setting(
        "HEADWAY_SCRATCH_GRACE_SECONDS",
        "SCRATCH_GRACE_SECONDS",
        whole(0),
        "age at which an orphaned scratch database is dropped (default 600)",
    ),
    Setting(
        "HEADWAY_ARGON2_TIME_COST",
        "ARGON2_TIME_COST",
        whole(1),
        "Argon2 passes per password hash (default 3)",
    ),
    Setting(
        "HEADWAY_ARGON2_MEMORY_COST",
        "ARGON2_MEMORY_COST",
        whole(8),
        "Argon2 memory per hash in KiB (default 65536)",
    ),
    Setting(
        "HEADWAY_SESSION_HOURS",
        "SESSION_MAX_AGE_SECONDS",
        lambda name, value: whole(1)(name, value) * 3600,
        "a login session's lifetime in hours (default 12)",
    ),
    Setting(
        "HEADWAY_TOKEN_DAYS",
        "API_TOKEN_DAYS",
        whole(1),
        "an API token's default lifetime in days (default 90)",
    ),
    Setting(
        "HEADWAY_EXPORT_MAX_ROWS",
        "EXPORT_MAX_ROWS",
        whole(0),
        "the most rows a CSV export may hold (default 0: no cap)",
    ),
    Setting(
        "HEADWAY_PROXY_FIX_X_FOR",
        "PROXY_FIX_X_FOR",
        whole(0),
        "proxies that set X-Forwarded-For (default 0)",
    ),
    Setting(
        "HEADWAY_PROXY_FIX_X_PROTO",
        "PROXY_FIX_X_PROTO",
        whole(0),
        "proxies that set X-Forwarded-Proto (default 0)",
    ),
    Setting(
        "HEADWAY_PROXY_FIX_X_HOST",
        "PROXY_FIX_X_HOST",
        whole(0),
        "proxies that set X-Forwarded-Host (default 0)",
    ),
    Setting(
        "HEADWAY_ONLINE_MAX_LOAD",
        "ONLINE_MAX_LOAD",
        status_thresholds,
        "online changes: pt-osc pauses its copy above this (Threads_running=25)",
    ),
    Setting(
        "HEADWAY_ONLINE_CRITICAL_LOAD",
        "ONLINE_CRITICAL_LOAD",
        status_thresholds,
        "online changes: pt-osc aborts above this (Threads_running=50)",
    ),
    Setting(
        "HEADWAY_ONLINE_REPLICAS",
        "ONLINE_REPLICAS",
        text,
        "replicas pt-osc watches: auto, or one replica's DSN (default none)",
    ),
    Setting(
        "HEADWAY_ONLINE_MAX_LAG",
        "ONLINE_MAX_LAG",
        seconds,
        "the replica lag pt-osc waits below, in seconds (default 1)",
    ),
    Setting(
        "HEADWAY_ONLINE_CHUNK_TIME",
        "ONLINE_CHUNK_TIME",
        seconds,
        "seconds each chunk of pt-osc's copy aims at (default 0.5)",
    ),
    Setting(
        "HEADWAY_ONLINE_MIN_ROWS",
        "ONLINE_MIN_ROWS",
        whole(1),
        "a table copy of at least this many rows goes online (default: none)",
    ),
    Setting(
        "HEADWAY_PT_OSC",
        "PT_OSC",
        text,
        "the pt-online-schema-change program (default: found on PATH)",
    ),
    Setting(
        "HEADWAY_ADMIN_PASSWORD",
        None,
        text,
        "`flask headway ensure-admin`'s password (default: generated, shown once)",
    ),
    # gunicorn.conf.py's.
    Setting("HEADWAY_BIND", None, text, "gunicorn's address (default 127.0.0.1:8000)"),
    Setting(
        "HEADWAY_WORKERS",
        None,
        whole(1),
        "gunicorn workers (default: the CPUs this process may use)",
    ),
    Setting(
        "HEADWAY_WORKER_CLASS",
        None,
        one_of(*WORKER_CLASSES),
        "gevent (default), gthread or sync",
    ),
    Setting(
        "HEADWAY_WORKER_CONNECTIONS",
        None,
        whole(1),
        "connections per gevent worker (default 1000)",
    ),
    Setting(
        "HEADWAY_KEEPALIVE",
        None,
        whole(1),
        "seconds for a request's headers and an idle keep-alive (default 5)",
    ),
    Setting(
        "HEADWAY_TIMEOUT",
        None,
        whole(1),
        "seconds of a silent worker before it is killed (default 30)",
    ),
    Setting(
        "HEADWAY_GRACEFUL_TIMEOUT",
        None,
        whole(1),
        "seconds for requests in flight on a restart (default 30)",
    ),
    Setting(
        "HEADWAY_FORWARDED_ALLOW_IPS",
        None,
        text,
        "front ends gunicorn believes about HTTPS (default 127.0.0.1,::1)",
    ),
    Setting(
        "HEADWAY_CONTROL_SOCKET",
        None,
        off_or_path,
        "gunicorn's control socket, or off (default instance/gunicorn.ctl)",
    ),
    Setting("HEADWAY_ACCESS_LOG", None, text, "gunicorn's access log (default -)"),
)


def read_settings(environ=None) -> dict[str, Any]:
    """The settings the environment gives (variable -> parsed value), each
    checked; ConfigError, naming the variable, on the first bad one. An
    empty value counts as unset."""
    environ = os.environ if environ is None else environ
    values = {}
    for setting in SETTINGS:
        value = environ.get(setting.variable, "")
        if value.strip():
            values[setting.variable] = setting.parse(setting.variable, value)
    return values


class Config:
    """Defaults; the environment (read_settings) and create_app's overrides
    come on top (load_config)."""

    NAME = "base"
    SECRET_KEY = None
    SQLALCHEMY_DATABASE_URI = DEFAULT_DATABASE_URI
    INSTANCE_DIR = str(INSTANCE_DIR)
    # Connections can sit idle in the pool longer than the MySQL wait_timeout.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    MIGRATIONS_DIR = str(BASE_DIR / "migrations")
    # What a console job's process prints, one file per job (see the job page);
    # None: jobs/ in INSTANCE_DIR.
    JOB_OUTPUT_DIR = None
    # A job whose database stops answering as it ends retries recording its
    # end after each of these waits (seconds), then leaves its last words in
    # a file beside its output (the job page shows them).
    JOB_END_RETRY_SECONDS = (1, 2, 4, 8, 15)
    # The console re-reads migrations/versions/ when a file there changes,
    # looking at most this often.
    SCRIPT_CACHE_CHECK_SECONDS = 1.0
    # Where `flask db verify/adopt` build a revision's schema on MySQL/MariaDB:
    # databases named with this prefix on the same server.
    SCRATCH_DATABASE_PREFIX = "headway_scratch_"
    # A scratch database whose owner is gone (core/scratch.py) is dropped by
    # the next job, verify or adopt once it is this old.
    SCRATCH_GRACE_SECONDS = 600
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 65536

    # Login failures, counted within a window of 15 minutes: 5 for one
    # account from one address lock that pair for 15 minutes; one address may
    # fail 20 times, whatever the accounts; an account (from anywhere) fails
    # 10 times freely, then waits 1, 2, 4 ... at most 30 seconds per failure.
    LOGIN_WINDOW_SECONDS = 15 * 60
    LOGIN_MAX_FAILURES = 5
    LOGIN_LOCK_SECONDS = 15 * 60
    LOGIN_MAX_ADDRESS_FAILURES = 20
    LOGIN_ACCOUNT_FREE_FAILURES = 10
    LOGIN_ACCOUNT_MAX_DELAY_SECONDS = 30

    # Sessions: records in headway_sessions, named by the (browser-session)
    # cookie; not "permanent", which would quietly weaken SESSION_PROTECTION.
    # The server ends them after SESSION_MAX_AGE_SECONDS (HEADWAY_SESSION_HOURS).
    SESSION_MAX_AGE_SECONDS = 12 * 3600
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    SESSION_PROTECTION = "strong"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # CSRF is checked by the app's guard (cookie sessions), not for bearer tokens.
    WTF_CSRF_CHECK_DEFAULT = False
    WTF_CSRF_TIME_LIMIT = None

    # API tokens: their lifetime, and how many live ones a user may hold.
    API_TOKEN_DAYS = 90
    MAX_ACTIVE_TOKENS = 20

    # Request bodies: forms and JSON are small; anything bigger is refused (413).
    MAX_CONTENT_LENGTH = 1024 * 1024

    # The employee data admin's CSV export holds every row the list selects.
    # An operator may cap it: an export beyond the cap is then refused before
    # it starts (with the count), never cut short. None or 0: no cap.
    EXPORT_MAX_ROWS: int | None = None

    # Online schema changes (`flask db upgrade --online`, core/online.py):
    # pt-online-schema-change's throttles (status variable=threshold: pause
    # the copy above --max-load, abort above --critical-load); replicas to
    # watch (unset: none; "auto": pt-osc finds them; or one replica's DSN,
    # h=host,P=port) and their largest lag in seconds; the program's path
    # (default: found on PATH). ONLINE_MIN_ROWS: a statement that would copy
    # a table of at least this many rows goes online even without --online
    # (unset: only with --online).
    ONLINE_MAX_LOAD = "Threads_running=25"
    ONLINE_CRITICAL_LOAD = "Threads_running=50"
    ONLINE_REPLICAS: str | None = None
    ONLINE_MAX_LAG = 1.0
    ONLINE_CHUNK_TIME = 0.5
    ONLINE_MIN_ROWS: int | None = None
    PT_OSC: str | None = None

    # Behind a reverse proxy: how many proxies set X-Forwarded-* (0: none).
    PROXY_FIX_X_FOR = 0
    PROXY_FIX_X_PROTO = 0
    PROXY_FIX_X_HOST = 0

    @classmethod
    def finish(cls, config: dict[str, Any], given: dict[str, Any]) -> None:
        """Fill in what is derived from other settings; raise ConfigError when
        this configuration cannot run. `given`: the environment's settings."""
        if not config.get("JOB_OUTPUT_DIR"):
            config["JOB_OUTPUT_DIR"] = str(Path(config["INSTANCE_DIR"]) / "jobs")
        # The embedded default database, in this instance folder (`flask demo
        # prepare` sets up only this one).
        default = f"sqlite:///{Path(config['INSTANCE_DIR']) / 'headway.db'}"
        if config["SQLALCHEMY_DATABASE_URI"] == DEFAULT_DATABASE_URI:
            config["SQLALCHEMY_DATABASE_URI"] = default
        config["DEFAULT_DATABASE_URI"] = default
        config["EXPORT_MAX_ROWS"] = config["EXPORT_MAX_ROWS"] or None


class DevelopmentConfig(Config):
    NAME = "development"

    @classmethod
    def finish(cls, config, given) -> None:
        if not config.get("SECRET_KEY"):
            config["SECRET_KEY"] = _instance_secret_key(Path(config["INSTANCE_DIR"]))
        super().finish(config, given)


class ProductionConfig(Config):
    NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True

    @classmethod
    def finish(cls, config, given) -> None:
        missing = [
            name for name in ("SECRET_KEY", "DATABASE_URL") if not given.get(name)
        ]
        if missing:
            raise ConfigError(
                f"production configuration needs {' and '.join(missing)} "
                "in the environment"
            )
        super().finish(config, given)


class TestingConfig(Config):
    NAME = "testing"
    TESTING = True
    SCRIPT_CACHE_CHECK_SECONDS = 0.0
    SECRET_KEY = "testing"
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024
    JOB_END_RETRY_SECONDS = (0.2, 0.2)


def load_config(
    config_class: "type[Config]", environ=None, **overrides: Any
) -> dict[str, Any]:
    """Every setting of an app: `config_class`'s defaults, then the
    environment's (read_settings), then `overrides`; derived values filled
    in. ConfigError, one line naming the variable, when it cannot run."""
    given = read_settings(environ)
    config = {
        key: getattr(config_class, key) for key in dir(config_class) if key.isupper()
    }
    for setting in SETTINGS:
        if setting.key and setting.variable in given:
            config[setting.key] = given[setting.variable]
    config.update(overrides)
    config_class.finish(config, given)
    check_database_url(config["SQLALCHEMY_DATABASE_URI"])
    return config


# The databases Headway knows (SQLAlchemy's backend names) and its MySQL driver.
SUPPORTED_BACKENDS = ("mysql", "mariadb", "sqlite")
SUPPORTED = "MySQL/MariaDB (mysql+pymysql://...) and SQLite (sqlite:///path.db)"


def check_database_url(url: str) -> None:
    """Raise ConfigError unless `url` names a database Headway supports, with
    a driver that is installed: a `mysql://` URL (the form most tutorials use,
    which means the MySQLdb driver) gets the `mysql+pymysql://` it needs."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
        dialect = parsed.get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise ConfigError(
            f"DATABASE_URL is not a usable database URL: {exc}; Headway supports "
            f"{SUPPORTED}"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise ConfigError(
            f"DATABASE_URL names {backend} ({parsed.drivername}://...), "
            f"which Headway does not support; it supports {SUPPORTED}"
        )
    try:
        dialect.import_dbapi()
    except ImportError:
        if backend == "sqlite":
            raise ConfigError(
                "Python's sqlite3 module is missing: install a Python with SQLite"
            ) from None
        fixed = parsed.set(drivername=f"{backend}+pymysql")
        raise ConfigError(
            f"DATABASE_URL uses the {parsed.get_driver_name()} driver "
            f"({parsed.drivername}://...), which is not installed; Headway uses "
            f"PyMySQL: {fixed.render_as_string(hide_password=True)}"
        ) from None


CONFIGS = {
    "development": DevelopmentConfig,
    "production": ProductionConfig,
    "testing": TestingConfig,
}


def config_from_env(environ=None) -> type[Config]:
    """The class HEADWAY_CONFIG names (development by default)."""
    name = read_settings(environ).get("HEADWAY_CONFIG", "development")
    return CONFIGS[name]
