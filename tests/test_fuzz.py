"""Property-based fuzzing of every route: random query strings, path
arguments, form fields (the names of every form the app renders) and JSON
bodies, sent by a logged-in admin (and anonymously to the login form). The
answer may be anything but a server error: 4xx, never 5xx.

Routes come from the URL map, so a new one is fuzzed without being listed.
"""

import contextlib
import os
import re
import secrets
import time
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import create_app
from app.auth.accounts import create_user, find_user, set_password
from app.extensions import db
from app.models.accounts import LoginFailures
from config import TestingConfig
from tests.helpers import DIALECTS, PASSWORD, csrf_token, login, new_database

# Static files (the favicon's address included) need no fuzzing.
SKIPPED = {"static", "admin.static", "main.favicon"}
# `make test` runs a few per route; set more for a longer hunt.
EXAMPLES_PER_ROUTE = int(os.environ.get("HEADWAY_FUZZ_EXAMPLES", "15"))

TRICKY = [
    "", "0", "-1", "1,2", "1,", ",", "null", "true", "[]", "{}", "9" * 30,
    "-" + "9" * 23, "1e309", "NaN", "2026-13-45", "\x00", "a\x00b", "\n",
    "'", '"', "`", "\\", "%", "%00", "../../etc/passwd", "http:evil.example",
    "//evil.example", "<script>", "\u202e", "ä", "𝔘", " ",
]  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(TRICKY),
    st.text(max_size=40),
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
)
QUERY_NAMES = [
    "page", "page_size", "sort", "desc", "search", "id", "url", "next", "modal",
    "flt0_0", "flt1_1", "flt0_emp_no_equals", "target", "revision", "rev",
    "action", "actor", "job", "failed", "limit", "export_type", "_scheme",
    "_method", "_external", "_anchor",
]  # fmt: skip
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)


# What an accepted request starts a job's process from.
STARTS_A_JOB = {
    ("POST", "/admin/migrations/drift"),
    ("POST", "/admin/migrations/jobs"),
    ("POST", "/api/migrations/jobs"),
}


def _routes():
    app = create_app(TestingConfig)
    routes = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.endpoint in SKIPPED:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            live = (method, rule.rule) in STARTS_A_JOB
            routes.append(
                pytest.param(
                    rule.rule,
                    method,
                    id=f"{method} {rule.rule}",
                    marks=[pytest.mark.live] if live else [],
                )
            )
    return routes


ROUTES = _routes()


class Fuzzer:
    """A logged-in admin on a database with a few rows, and the field names of
    every form the app renders."""

    def __init__(self, url: str, directory) -> None:
        # Made before any test's own instance folder: its own, for the drift
        # checks and jobs the fuzzed forms start.
        self.app = create_app(
            TestingConfig,
            SQLALCHEMY_DATABASE_URI=url,
            INSTANCE_DIR=str(directory / "instance"),
            JOB_OUTPUT_DIR=str(directory / "jobs"),
        )
        runner = self.app.test_cli_runner()
        for command in (["db", "upgrade"], ["headway", "init"]):
            result = runner.invoke(args=command)
            assert result.exit_code == 0, result.output
        with self.app.app_context():
            for role in ("viewer", "operator"):
                create_user(role, PASSWORD, role)
            create_user("fuzzer", PASSWORD, "admin")
            db.session.execute(
                sa.text(
                    "INSERT INTO employees (emp_no, birth_date, first_name, "
                    "last_name, gender, hire_date) VALUES "
                    "(1, '1960-01-01', 'A', 'B', 'F', '1990-01-01'), "
                    "(2, '1961-02-02', 'C', 'D', 'M', '1991-02-02')"
                )
            )
            db.session.execute(
                sa.text("INSERT INTO departments VALUES ('d001', 'Marketing')")
            )
            db.session.commit()
        self.client = self.app.test_client()
        self.log_in()
        self.field_names = sorted(self._form_field_names())

    def log_in(self) -> None:
        assert login(self.client, "fuzzer").status_code == 302
        self.csrf = csrf_token(self.client, "/admin/")

    def _form_field_names(self) -> set[str]:
        names = set()
        for path in ("/admin/employee/new/", "/admin/department/new/",
                     "/admin/users/new/", "/admin/account/", "/admin/migrations/",
                     "/admin/migrations/drift", "/admin/employee/",
                     "/admin/users/details/?id=1", "/login"):  # fmt: skip
            page = self.client.get(path).get_data(as_text=True)
            names |= set(re.findall(r'name="([^"]+)"', page))
        return names - {"csrf_token"}

    def repair(self) -> None:
        """Undo what a fuzzed request may have done to the fuzzer's own
        account (a new password, a role, disabled, throttled), and log in."""
        with self.app.app_context():
            user = find_user("fuzzer")
            user.role, user.active = "admin", True
            set_password(user, PASSWORD)
            db.session.execute(sa.delete(LoginFailures))
            db.session.commit()
        self.client = self.app.test_client()
        self.log_in()

    def still_logged_in(self, response) -> bool:
        if response.status_code == 401:
            return False
        location = response.headers.get("Location", "")
        return not location.startswith("/login")


@pytest.fixture(scope="module", params=DIALECTS)
def fuzzer(request, tmp_path_factory):
    directory = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    with new_database(request.param, directory) as url:
        fuzzer = Fuzzer(url, directory)
        yield fuzzer
        with fuzzer.app.app_context():
            db.engine.dispose()


def path_for(rule: str, draw) -> str:
    def argument(match):
        converter = match.group(1) or ""
        if converter.startswith(("int", "id")):
            value = draw(st.integers(min_value=0, max_value=10**30))
        else:
            value = draw(VALUES.filter(lambda v: v and "/" not in v and v != "."))
        return quote(str(value), safe="")

    return re.sub(r"<(?:([^:<>]+):)?[^<>]+>", argument, rule)


FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_ROUTE,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("rule, method", ROUTES)
@FUZZ_SETTINGS
@given(data=st.data())
def test_no_input_gives_a_server_error(fuzzer, rule, method, data):
    path = path_for(rule, data.draw)
    query = data.draw(st.dictionaries(st.sampled_from(QUERY_NAMES), VALUES, max_size=4))
    kwargs = {"query_string": query}
    if method == "POST":
        if path.startswith("/api/"):
            body = data.draw(
                st.one_of(
                    JSON.map(_json_text),
                    st.dictionaries(
                        st.sampled_from(
                            [
                                "name",
                                "password",
                                "days",
                                "target",
                                "action",
                                "purge",
                                "confirm",
                            ]
                        ),
                        JSON,
                        max_size=4,
                    ).map(_json_text),  # fmt: skip
                    st.binary(max_size=50),
                )
            )
            kwargs.update(
                data=body,
                headers={
                    "Content-Type": "application/json",
                    "X-CSRFToken": fuzzer.csrf,
                },
            )
        else:
            form = data.draw(
                st.dictionaries(st.sampled_from(fuzzer.field_names), VALUES, max_size=8)
            )
            kwargs["data"] = {**form, "csrf_token": fuzzer.csrf}
    with _quiet_job_processes(fuzzer):
        response = fuzzer.client.open(path, method=method, **kwargs)
    assert response.status_code < 500, (
        f"{method} {path} {kwargs} -> {response.status_code}: "
        f"{response.get_data(as_text=True)[:500]}"
    )
    if not fuzzer.still_logged_in(response):
        fuzzer.repair()


@FUZZ_SETTINGS
@given(form=st.dictionaries(st.sampled_from(["username", "password"]), VALUES))
def test_the_login_form(fuzzer, form):
    client = fuzzer.app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"198.51.100.{secrets.randbelow(250)}"
    data = {**form, "csrf_token": csrf_token(client)}
    response = client.post(
        "/login", data=data, query_string={"next": form.get("username", "")}
    )
    assert response.status_code < 500


def _json_text(value) -> bytes:
    import json

    return json.dumps(value).encode()


@contextlib.contextmanager
def _quiet_job_processes(fuzzer):
    """A fuzzed request must not start a migration job. "Check now" on the
    drift page (any valid POST) starts a drift check, a job that changes
    nothing: wait for it to end, so that the next request finds none running."""
    yield
    from app.models.console import MigrationJob

    deadline = time.monotonic() + 60
    while True:
        with fuzzer.app.app_context():
            running = db.session.scalars(
                sa.select(MigrationJob).where(MigrationJob.status == "running")
            ).all()
            actions = [job.action for job in running]
        assert set(actions) <= {"drift-check"}, (
            f"a fuzzed request started a job: {actions}"
        )
        if not running or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not running, "a drift check job did not end within 60 s"
