"""Configuration classes, read from the environment (and `.env`, if present).

`HEADWAY_CONFIG` picks the class: `development` (the default), `production`
or `testing`.
"""

import os
import secrets
from pathlib import Path

from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"

load_dotenv(BASE_DIR / ".env")

# The embedded default: no server needed.
DEFAULT_DATABASE_URI = f"sqlite:///{INSTANCE_DIR / 'headway.db'}"


class ConfigError(Exception):
    """The configuration cannot start the application."""


def _instance_secret_key() -> str:
    """A random key kept under instance/ so that every gunicorn worker and every
    restart signs sessions with the same key, without a guessable default."""
    path = INSTANCE_DIR / "secret_key"
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))
    return path.read_text().strip()


class Config:
    NAME = "base"
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URI
    # Connections can sit idle in the pool longer than the MySQL wait_timeout.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    MIGRATIONS_DIR = os.environ.get("HEADWAY_MIGRATIONS_DIR") or str(
        BASE_DIR / "migrations"
    )
    # What a console job's process prints, one file per job (see the job page).
    JOB_OUTPUT_DIR = os.environ.get("HEADWAY_JOB_OUTPUT_DIR") or str(
        INSTANCE_DIR / "jobs"
    )
    # A job whose database stops answering as it ends retries recording its
    # end after each of these waits (seconds), then leaves its last words in
    # a file beside its output (the job page shows them).
    JOB_END_RETRY_SECONDS = (1, 2, 4, 8, 15)
    # The console re-reads migrations/versions/ when a file there changes,
    # looking at most this often.
    SCRIPT_CACHE_CHECK_SECONDS = 1.0
    # Where `flask db verify/adopt` build a revision's schema on MySQL/MariaDB:
    # databases named with this prefix on the same server.
    SCRATCH_DATABASE_PREFIX = os.environ.get(
        "HEADWAY_SCRATCH_PREFIX", "headway_scratch_"
    )
    # A scratch database whose owner is gone (core/scratch.py) is dropped by
    # the next job, verify or adopt once it is this old.
    SCRATCH_GRACE_SECONDS = int(os.environ.get("HEADWAY_SCRATCH_GRACE_SECONDS", "600"))
    ARGON2_TIME_COST = int(os.environ.get("HEADWAY_ARGON2_TIME_COST", "3"))
    ARGON2_MEMORY_COST = int(os.environ.get("HEADWAY_ARGON2_MEMORY_COST", "65536"))

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
    # The server ends them after SESSION_MAX_AGE.
    SESSION_MAX_AGE_SECONDS = int(os.environ.get("HEADWAY_SESSION_HOURS", "12")) * 3600
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
    API_TOKEN_DAYS = int(os.environ.get("HEADWAY_TOKEN_DAYS", "90"))
    MAX_ACTIVE_TOKENS = 20

    # Request bodies: forms and JSON are small; anything bigger is refused (413).
    MAX_CONTENT_LENGTH = 1024 * 1024

    # The employee data admin's CSV export holds every row the list selects.
    # An operator may cap it: an export beyond the cap is then refused before
    # it starts (with the count), never cut short. Unset or 0: no cap.
    EXPORT_MAX_ROWS: int | str | None = os.environ.get("HEADWAY_EXPORT_MAX_ROWS")

    # Online schema changes (`flask db upgrade --online`, core/online.py):
    # pt-online-schema-change's throttles (status variable=threshold: pause
    # the copy above --max-load, abort above --critical-load); replicas to
    # watch (unset: none; "auto": pt-osc finds them; or one replica's DSN,
    # h=host,P=port) and their largest lag in seconds; the program's path
    # (default: found on PATH). ONLINE_MIN_ROWS: a statement that would copy
    # a table of at least this many rows goes online even without --online
    # (unset: only with --online).
    ONLINE_MAX_LOAD = os.environ.get("HEADWAY_ONLINE_MAX_LOAD", "Threads_running=25")
    ONLINE_CRITICAL_LOAD = os.environ.get(
        "HEADWAY_ONLINE_CRITICAL_LOAD", "Threads_running=50"
    )
    ONLINE_REPLICAS = os.environ.get("HEADWAY_ONLINE_REPLICAS") or None
    ONLINE_MAX_LAG = float(os.environ.get("HEADWAY_ONLINE_MAX_LAG", "1"))
    ONLINE_CHUNK_TIME = float(os.environ.get("HEADWAY_ONLINE_CHUNK_TIME", "0.5"))
    ONLINE_MIN_ROWS = os.environ.get("HEADWAY_ONLINE_MIN_ROWS") or None
    PT_OSC = os.environ.get("HEADWAY_PT_OSC") or None

    # Behind a reverse proxy: how many proxies set X-Forwarded-* (0: none).

    PROXY_FIX_X_FOR = int(os.environ.get("HEADWAY_PROXY_FIX_X_FOR", "0"))
    PROXY_FIX_X_PROTO = int(os.environ.get("HEADWAY_PROXY_FIX_X_PROTO", "0"))
    PROXY_FIX_X_HOST = int(os.environ.get("HEADWAY_PROXY_FIX_X_HOST", "0"))

    @classmethod
    def prepare(cls) -> None:
        """Fill in what can be derived; raise ConfigError when it cannot run."""
        cap = cls.EXPORT_MAX_ROWS
        if isinstance(cap, str):
            if not (cap.strip().isascii() and cap.strip().isdigit()):
                raise ConfigError(
                    f"HEADWAY_EXPORT_MAX_ROWS must be a whole number (0: no cap), "
                    f"not {cap!r}"
                )
            cls.EXPORT_MAX_ROWS = int(cap) or None


class DevelopmentConfig(Config):
    NAME = "development"

    @classmethod
    def prepare(cls) -> None:
        if not cls.SECRET_KEY:
            cls.SECRET_KEY = _instance_secret_key()
        super().prepare()


class ProductionConfig(Config):
    NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True

    @classmethod
    def prepare(cls) -> None:
        missing = [
            name for name in ("SECRET_KEY", "DATABASE_URL") if not os.environ.get(name)
        ]
        if missing:
            raise ConfigError(
                f"production configuration needs {' and '.join(missing)} "
                "in the environment"
            )
        super().prepare()


class TestingConfig(Config):
    NAME = "testing"
    TESTING = True
    SCRIPT_CACHE_CHECK_SECONDS = 0.0
    SECRET_KEY = "testing"
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or "sqlite://"
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024
    JOB_END_RETRY_SECONDS = (0.2, 0.2)


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


def config_from_env() -> type[Config]:
    name = os.environ.get("HEADWAY_CONFIG", "development")
    try:
        return CONFIGS[name]
    except KeyError:
        raise ConfigError(
            f"HEADWAY_CONFIG={name!r} is unknown; use one of {', '.join(CONFIGS)}"
        ) from None
