"""Each console page runs a fixed, small number of SQL statements, whatever
the size of the history, the jobs and the audit trail: counted with
SQLAlchemy's events at 10 and at 50 revisions (and as many jobs and audit
rows). A count that grows with them fails."""

import sqlalchemy as sa
from sqlalchemy import event

from app.auth.accounts import create_user
from app.clock import utcnow
from app.extensions import db
from app.models.console import MigrationAudit, MigrationJob
from tests.helpers import PASSWORD, login, migrations_head

PAGES = (
    "/admin/",
    "/admin/migrations/",
    "/admin/migrations/history",
    "/admin/migrations/plan",
    "/admin/migrations/audit",
    "/admin/migrations/jobs",
    "/api/migrations/status",
)


def grow(app, scripts, runner, after: str, first: int, count: int) -> str:
    """`count` more revisions after `after` (r<first>, ...), the database
    upgraded to all but the last 5, and as many jobs and audit rows. Returns
    the new head."""
    previous = after
    for n in range(first, first + count):
        rev = f"r{n:04d}"
        scripts.write(rev, previous)
        previous = rev
    result = runner.invoke(args=["db", "upgrade", "heads"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["db", "downgrade", "--", "-5"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        now = utcnow()
        db.session.add_all(
            MigrationJob(
                action="upgrade",
                target="heads",
                requested_by="op",
                status="succeeded",
                started_at=now,
                finished_at=now,
            )
            for _ in range(count)
        )
        db.session.add_all(
            MigrationAudit(action="upgrade", revision=after, actor="op", started_at=now)
            for _ in range(count)
        )
        db.session.commit()
    return previous


def counts(app) -> dict[str, int]:
    client = app.test_client()
    assert login(client, "viewer").status_code == 302
    found = {}
    with app.app_context():
        engine = db.engine
    for page in PAGES:
        client.get(page)  # warm: the catalog, the statements' caches
        statements: list[str] = []

        def count(conn, cursor, statement, *args, seen=statements):
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            response = client.get(page)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert response.status_code == 200, (page, response.status_code)
        found[page] = len(statements)
    return found


def test_console_pages_run_as_many_statements_at_50_revisions_as_at_10(
    scripted_app, scripts
):
    app = scripted_app
    runner = app.test_cli_runner()
    for args in (["db", "upgrade"], ["headway", "init"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    with app.app_context():
        create_user("viewer", PASSWORD, "viewer")
    head = grow(app, scripts, runner, migrations_head(), 0, 10)
    small = counts(app)
    grow(app, scripts, runner, head, 10, 40)
    large = counts(app)
    assert large == small
    # Something was counted, and few: a page reads where the database stands,
    # the session, the newest jobs and audit rows, not the history.
    # Home reads a little more: the newest data changes, and on MySQL/MariaDB
    # an exact count of the tables the statistics call small.
    assert all(1 <= n <= (14 if p == "/admin/" else 12) for p, n in small.items()), (
        small
    )
    with app.app_context():
        assert sa.inspect(db.engine).has_table("headway_jobs")
