"""Two admins demoting each other at the same instant leave one admin: the
check and the change run under a lock, in the Users view and in the CLI's
functions alike. Real concurrent transactions on every dialect."""

import threading

import pytest
import sqlalchemy as sa

from app.auth.accounts import create_user, disable, find_user, set_role
from app.errors import HeadwayError
from app.extensions import db
from app.models.accounts import User
from tests.helpers import PASSWORD, csrf_token, login

# How long the first transaction waits, after its check, for the second one
# to check too: without the lock both checks pass before either commits.
RENDEZVOUS_SECONDS = 1.5


@pytest.fixture
def two_admins(app, accounts):
    with app.app_context():
        create_user("admin2", PASSWORD, "admin")
    return app


class Rendezvous:
    """Holds each transaction just after it has read the active admins, until
    the other one has read them too (or RENDEZVOUS_SECONDS have passed, which
    is what happens when the other one is waiting for the lock)."""

    def __init__(self, app) -> None:
        self.app = app
        self.barrier = threading.Barrier(2, timeout=RENDEZVOUS_SECONDS)

    def after_execute(self, conn, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith("SELECT") and (
            "headway_users.role = " in statement
        ):
            try:
                self.barrier.wait()
            except threading.BrokenBarrierError:
                pass

    def __enter__(self):
        with self.app.app_context():
            sa.event.listen(db.engine, "after_cursor_execute", self.after_execute)
        return self

    def __exit__(self, *exc) -> None:
        with self.app.app_context():
            sa.event.remove(db.engine, "after_cursor_execute", self.after_execute)


def run_together(*actions):
    results = [None] * len(actions)

    def run(i, action):
        try:
            results[i] = action()
        except Exception as exc:  # reported by the assertions below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def active_admins(app) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(User.username).where(
                    User.role == "admin", User.active.is_(True)
                )
            )
        )


def test_two_admins_demote_each_other_in_the_users_view(two_admins):
    app = two_admins
    clients = {}
    for name in ("admin", "admin2"):
        clients[name] = app.test_client()
        assert login(clients[name], name).status_code == 302
    with app.app_context():
        ids = {name: find_user(name).id for name in ("admin", "admin2")}

    def demote(who, whom):
        client = clients[who]
        token = csrf_token(client, "/admin/users/")

        def post():
            with app.app_context():
                return client.post(
                    f"/admin/users/edit/?id={ids[whom]}",
                    data={"csrf_token": token, "username": whom, "role": "viewer",
                          "active": "y"},
                )  # fmt: skip

        return post

    with Rendezvous(app):
        responses = run_together(demote("admin", "admin2"), demote("admin2", "admin"))
    for response in responses:
        assert not isinstance(response, Exception), response
        assert response.status_code in (200, 302)
    assert len(active_admins(app)) == 1
    refused = [r for r in responses if r.status_code == 200]
    assert len(refused) == 1
    assert "at least one active admin" in refused[0].get_data(as_text=True)


def test_two_concurrent_cli_changes_leave_an_admin(two_admins):
    """set_role and disable are what `flask users set-role/disable` run."""
    app = two_admins

    def change(username, how):
        def run():
            with app.app_context():
                user = find_user(username)
                how(user)
                db.session.commit()
                return "done"

        return run

    with Rendezvous(app):
        results = run_together(
            change("admin", lambda u: set_role(u, "viewer")),
            change("admin2", disable),
        )
    assert sorted(map(type, results), key=str) == sorted([str, HeadwayError], key=str)
    assert len(active_admins(app)) == 1
    assert "last active admin" in str(next(r for r in results if r != "done"))
