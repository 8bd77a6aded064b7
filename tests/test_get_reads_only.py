"""A GET only reads: no page or API answer commits, whichever role asks, and
none starts a process (this module is not marked live: tests/conftest.py
fails a test that starts one). A job whose process died is shown
interrupted; it is recorded by its supervisor or by the next write."""

import socket

from sqlalchemy import event

from app.extensions import db
from app.models.console import MigrationJob
from tests.helpers import ROLES, free_pid, migrations_head

# A value for each kind of URL argument the app's GET routes take.
ARGUMENTS = {"export_type": "csv", "rev": None, "job_id": None}


def dead_job(app) -> int:
    """An upgrade marked running whose process has ended on this host: the
    case where a page used to record the interruption and start a report."""
    with app.app_context():
        job = MigrationJob(
            action="upgrade",
            target=migrations_head(),
            requested_by="operator",
            status="running",
            pid=free_pid(),
            host=socket.gethostname(),
            planned=migrations_head(),
            log="",
        )
        db.session.add(job)
        db.session.commit()
        return job.id


def get_urls(app, job_id: int) -> list[str]:
    values = {**ARGUMENTS, "rev": migrations_head(), "job_id": job_id}
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint.endswith("static"):
            continue
        arguments = {name: values[name] for name in rule.arguments}
        urls.append(rule.build(arguments, append_unknown=False)[1])
    # The pages' common queries too.
    urls += [
        "/admin/migrations/plan?target=heads",
        "/admin/migrations/plan.sql?target=heads",
        "/api/migrations/plan?target=heads",
        "/admin/migrations/history?page=2",
    ]
    return sorted(urls)


def test_no_get_request_commits_for_any_role(app, accounts, logged_in):
    job_id = dead_job(app)
    commits: list[str] = []
    current = {"url": None}
    with app.app_context():
        engine = db.engine

    def on_commit(conn):
        if current["url"] is not None:
            commits.append(current["url"])

    event.listen(engine, "commit", on_commit)
    try:
        for role in (None, *ROLES):
            # Logged in just before: the session's last-seen time is fresh.
            client = logged_in(role) if role else app.test_client()
            for url in get_urls(app, job_id):
                current["url"] = f"{role}: GET {url}"
                with client.get(url) as response:
                    response.get_data()  # a streamed answer runs to its end
                current["url"] = None
    finally:
        event.remove(engine, "commit", on_commit)
    assert commits == []
    # The job is still recorded running: a read only showed it interrupted.
    with app.app_context():
        assert db.session.get(MigrationJob, job_id).status == "running"
