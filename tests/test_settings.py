"""Every setting is read and checked in one place (config.py's SETTINGS): a
bad value stops the app, the `flask` command and gunicorn with one line that
names the variable."""

import pytest

from config import (
    SETTINGS,
    ConfigError,
    DevelopmentConfig,
    TestingConfig,
    load_config,
    read_settings,
)
from tests.helpers import (
    ROOT,
    assert_refused_in_one_line,
    check_gunicorn_config,
    run_flask,
)

# A bad value for each setting that can have one; the others take any text.
BAD = {
    "HEADWAY_CONFIG": "staging",
    "DATABASE_URL": "nonsense://x",
    "HEADWAY_SCRATCH_PREFIX": "scratch-db",
    "HEADWAY_SCRATCH_GRACE_SECONDS": "ten",
    "HEADWAY_ARGON2_TIME_COST": "0",
    "HEADWAY_ARGON2_MEMORY_COST": "4",
    "HEADWAY_SESSION_HOURS": "12h",
    "HEADWAY_TOKEN_DAYS": "abc",
    "HEADWAY_EXPORT_MAX_ROWS": "-5",
    "HEADWAY_PROXY_FIX_X_FOR": "one",
    "HEADWAY_PROXY_FIX_X_PROTO": "1.5",
    "HEADWAY_PROXY_FIX_X_HOST": "x",
    "HEADWAY_ONLINE_MAX_LOAD": "25",
    "HEADWAY_ONLINE_CRITICAL_LOAD": "Threads_running=lots",
    "HEADWAY_ONLINE_MAX_LAG": "1s",
    "HEADWAY_ONLINE_CHUNK_TIME": "0",
    "HEADWAY_ONLINE_MIN_ROWS": "a million",
    "HEADWAY_WORKERS": "two",
    "HEADWAY_WORKER_CLASS": "eventlet",
    "HEADWAY_WORKER_CONNECTIONS": "0",
    "HEADWAY_KEEPALIVE": "5s",
    "HEADWAY_TIMEOUT": "0",
    "HEADWAY_GRACEFUL_TIMEOUT": "-1",
}
ANY_TEXT = {
    "SECRET_KEY",
    "HEADWAY_INSTANCE_DIR",
    "HEADWAY_MIGRATIONS_DIR",
    "HEADWAY_JOB_OUTPUT_DIR",
    "HEADWAY_ADMIN_PASSWORD",
    "HEADWAY_ONLINE_REPLICAS",
    "HEADWAY_PT_OSC",
    "HEADWAY_BIND",
    "HEADWAY_FORWARDED_ALLOW_IPS",
    "HEADWAY_CONTROL_SOCKET",
    "HEADWAY_ACCESS_LOG",
}


def test_every_setting_is_listed_here_once():
    variables = [setting.variable for setting in SETTINGS]
    assert len(variables) == len(set(variables))
    assert set(variables) == set(BAD) | ANY_TEXT


def test_the_readme_lists_every_setting_once():
    readme = (ROOT / "README.md").read_text()
    for setting in SETTINGS:
        assert readme.count(f"| `{setting.variable}` |") == 1, setting.variable


@pytest.mark.parametrize("variable", sorted(BAD))
def test_a_bad_setting_is_one_line_naming_it(variable):
    with pytest.raises(ConfigError) as error:
        load_config(TestingConfig, {variable: BAD[variable]})
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(variable), message
    if variable != "DATABASE_URL":  # which may hold a password
        assert repr(BAD[variable]) in message


def test_good_settings_reach_the_app_config(tmp_path):
    config = load_config(
        TestingConfig,
        {
            "HEADWAY_TOKEN_DAYS": "7",
            "HEADWAY_SESSION_HOURS": "2",
            "HEADWAY_EXPORT_MAX_ROWS": "0",
            "HEADWAY_PROXY_FIX_X_FOR": "1",
            "HEADWAY_SCRATCH_PREFIX": "hw_scratch_",
            "HEADWAY_INSTANCE_DIR": str(tmp_path),
        },
    )
    assert config["API_TOKEN_DAYS"] == 7
    assert config["SESSION_MAX_AGE_SECONDS"] == 2 * 3600
    assert config["EXPORT_MAX_ROWS"] is None  # 0: no cap
    assert config["PROXY_FIX_X_FOR"] == 1
    assert config["SCRATCH_DATABASE_PREFIX"] == "hw_scratch_"
    assert config["JOB_OUTPUT_DIR"] == str(tmp_path / "jobs")
    # An empty value is unset: the default.
    assert read_settings({"HEADWAY_TOKEN_DAYS": " "}) == {}


def test_development_keeps_its_secret_key_in_the_instance_folder(tmp_path):
    environ = {"HEADWAY_INSTANCE_DIR": str(tmp_path)}
    first = load_config(DevelopmentConfig, environ)["SECRET_KEY"]
    assert len(first) == 64
    assert (tmp_path / "secret_key").read_text() == first
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"
    assert load_config(DevelopmentConfig, environ)["SECRET_KEY"] == first
    assert load_config(DevelopmentConfig, environ)["SQLALCHEMY_DATABASE_URI"] == (
        f"sqlite:///{tmp_path / 'headway.db'}"
    )


@pytest.mark.live
def test_flask_says_one_line_for_a_bad_setting(tmp_path):
    assert_refused_in_one_line(
        run_flask("routes", HEADWAY_TOKEN_DAYS="abc"),
        "HEADWAY_TOKEN_DAYS must be a whole number above 0, not 'abc'",
    )


@pytest.mark.live
def test_gunicorn_says_one_line_for_a_bad_app_setting():
    assert_refused_in_one_line(
        check_gunicorn_config(HEADWAY_SESSION_HOURS="forever"),
        "HEADWAY_SESSION_HOURS must be a whole number above 0, not 'forever'",
    )
