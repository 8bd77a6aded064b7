"""What every admin page shows around its content: the title, the database's
name and state in the navbar, and a banner while a migration job runs.

Asked for on every request, so it stays a few small reads (the
alembic_version row, the newest running job, and the cheap check of the live
schema: core/fingerprint.py), made once per request and kept for that request
only: a state kept longer would go stale."""

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, g, request, url_for
from flask_admin.contrib.sqla import ModelView
from jinja2 import pass_context
from markupsafe import Markup

from app.dbadmin.core.state import STATES, State
from app.dbadmin.web.overview import overview, running_job
from app.employees.views import CATEGORY as DATA_CATEGORY
from app.extensions import db

# The console's pages by view method: their title, and the tab they belong to
# (a revision is part of the history, a job of the jobs).
CONSOLE_PAGES = {
    "index": ("Dashboard", "index"),
    "history": ("History", "history"),
    "revision": ("Revision {rev}", "history"),
    "plan": ("Plan", "plan"),
    "start_job": ("Plan", "plan"),  # a refused start shows the plan again
    "plan_start": ("Plan", "plan"),
    "drift": ("Drift", "drift"),
    "audit": ("Audit trail", "audit"),
    "jobs": ("Jobs", "jobs"),
    "job": ("Job #{job_id}", "jobs"),
}
MODEL_PAGES = {"create_view": "New", "edit_view": "Edit", "details_view": "Details"}
# The employee data's menu is "Employees", like its main list: "Data" in titles.
SECTIONS = {DATA_CATEGORY: "Data"}


@dataclass
class NavStatus:
    database_name: str
    state: State
    running_job: sa.Row | None  # id, action, target, requested_by, started_at

    @property
    def badge(self) -> tuple[str, str]:
        info = STATES[self.state]
        return info.words, info.colour


def database_name() -> str:
    """The database's name, never its URL (which may hold a password): the
    file's name for SQLite."""
    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        return Path(url.database).name if url.database else "in memory"
    return url.database or "?"


@pass_context
def nav_status(context) -> NavStatus:
    """The navbar's facts for this request. A console page has read the state
    already (its overview, kept for the request): not read twice."""
    if "headway_nav" not in g:
        database = overview().database
        # No second try at an unreachable database: the page says so already.
        job = running_job() if database.reachable else None
        g.headway_nav = NavStatus(database_name(), database.kind, job)
    return g.headway_nav


def console_page() -> str:
    """The console's view method serving this request ('' elsewhere)."""
    endpoint = request.endpoint or ""
    view, _, method = endpoint.partition(".")
    return method if view == "migrations" else ""


def console_tab() -> str:
    """The endpoint of the console tab this page belongs to."""
    page = CONSOLE_PAGES.get(console_page())
    return f"migrations.{page[1]}" if page else ""


CONSOLE_TABS = (
    ("migrations.index", "Dashboard"),
    ("migrations.history", "History"),
    ("migrations.plan", "Plan"),
    ("migrations.jobs", "Jobs"),
    ("migrations.drift", "Drift"),
    ("migrations.audit", "Audit trail"),
)


def console_tabs() -> Markup:
    """The console's tabs, this page's highlighted."""
    active = console_tab()
    items = Markup("").join(
        Markup(
            '<li class="nav-item"><a class="nav-link{}" href="{}"{}>{}</a></li>'
        ).format(
            " active" if endpoint == active else "",
            url_for(endpoint),
            Markup(' aria-current="page"') if endpoint == active else "",
            label,
        )
        for endpoint, label in CONSOLE_TABS
    )
    return Markup('<ul class="nav nav-tabs mb-3" id="console-tabs">{}</ul>').format(
        items
    )


@pass_context
def page_title(context) -> str:
    """'History · Migrations · Headway', 'Edit · Employees · Data · Headway'."""
    view = context.get("admin_view")
    if view is None:
        return "Headway"
    method = (request.endpoint or "").partition(".")[2]
    if view.endpoint == "admin":
        parts = ["Home"]
    elif view.endpoint == "migrations" and console_page() in CONSOLE_PAGES:
        title = CONSOLE_PAGES[console_page()][0]
        parts = [title.format(**(request.view_args or {})), view.name]
    elif isinstance(view, ModelView):
        section = SECTIONS.get(view.category, view.category)
        parts = [MODEL_PAGES.get(method), view.name, section]
    else:
        parts = [view.name]
    return " · ".join([p for p in parts if p] + ["Headway"])


def init_navigation(app: Flask) -> None:
    app.add_template_global(nav_status)
    app.add_template_global(page_title)
    app.add_template_global(console_tabs)
