"""What the console's pages and JSON share: where things stand, gathered
once per request from the cached catalog and a few small queries (and, while
a job is marked running, whether its process still is). Their JSON shapes
are in serialize.py."""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from types import SimpleNamespace

import sqlalchemy as sa
from flask import current_app, g
from flask_login import current_user

from app.clock import utcnow
from app.dbadmin.core.adoption import (
    Verification,
    adopt,
    existing_first_revision_tables,
    reflect_user_schema,
)
from app.dbadmin.core.catalog import Catalog, load_catalog
from app.dbadmin.core.drift import DriftStatus, drift_status, with_drift_check
from app.dbadmin.core.guards import unversioned_line
from app.dbadmin.core.schema import Schema
from app.dbadmin.core.state import (
    DatabaseState,
    State,
    read_state,
    stamped_on,
    state_of,
    unsettled_step,
    with_schema_check,
)
from app.dbadmin.jobs.service import (
    JobEnvironment,
    JobRequest,
    interruption,
    start_job,
)
from app.dbadmin.web.forms import AuditFilter
from app.errors import HeadwayError, error_line
from app.extensions import db
from app.models.console import DriftCheck, MigrationAudit, MigrationJob


@dataclass
class Overview:
    catalog: Catalog
    database: DatabaseState

    @cached_property
    def drift_status(self) -> DriftStatus:
        """The newest drift check at the current revisions, and whether it is
        stale (core/drift.py's rule): read when a page asks for it (the
        history and the revision pages don't)."""
        if self.database.reachable and self.database.current:
            return drift_status(db.session, self.database.current)
        return DriftStatus(None, None)

    @property
    def drift(self) -> DriftCheck | None:
        return self.drift_status.check

    @property
    def drifted(self) -> bool | None:
        """True when the live schema's cheap check finds drift (on every
        request); otherwise None unless a drift check made since the last
        schema change says."""
        if self.database.kind == State.DRIFT:
            return True
        return self.drift_status.drifted


def overview(fresh: bool = False) -> Overview:
    """Where things stand, read once per request (kept on flask.g, so that
    every part of a page, the navbar's state badge included, shares the one
    reading); `fresh` reads again, after the request changed something."""
    if not fresh and "console_overview" in g:
        return g.console_overview
    catalog = load_catalog()
    view = Overview(catalog, _read_state(catalog))
    # A drift check's finding outranks "up to date" on every surface (the
    # navbar badge included), so it is read with the state: one or two small
    # indexed reads.
    with_drift_check(view.database, view.drift_status)
    g.console_overview = view
    return view


def _read_state(catalog: Catalog) -> DatabaseState:
    """read_state() on the request's own connection (the one the session
    check used): one plain SELECT, no second connection from the pool. Without
    the version table (an unversioned database) or a database, read_state()
    tells which."""
    try:
        connection = db.session.connection()
    except sa.exc.SQLAlchemyError as exc:  # no database: no second try
        db.session.rollback()
        return DatabaseState(
            State.UNREACHABLE, heads=catalog.heads, error=error_line(exc)
        )
    try:
        current = stamped_on(connection)
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        return read_state(db.engine, catalog, db.metadata)
    try:
        partial = unsettled_step(connection)
    except sa.exc.SQLAlchemyError as exc:  # the connection was lost
        db.session.rollback()
        return DatabaseState(
            State.UNREACHABLE, heads=catalog.heads, error=error_line(exc)
        )
    # The live schema checked too, on the same connection: a stamp that lies
    # or a column dropped out of band shows at once (core/fingerprint.py).
    database = with_schema_check(
        state_of(catalog, current, partial), connection, catalog, db.metadata
    )
    if database.kind == State.UNREACHABLE:
        # The connection was lost under the check: the rest of the request
        # gets a new one (or the database's own error), not an unusable
        # transaction.
        db.session.rollback()
    return database


def _rows_or_empty(statement) -> list[sa.Row]:
    """Rows from Headway's own tables; none before `flask headway init`.
    Plain Core on the session's connection: the ORM's execution adds a third
    to a small read, on every console page."""
    try:
        return db.session.connection().execute(statement).all()
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        current_app.logger.info("Headway's tables are not set up yet")
        return []


# What a list of jobs shows, as read-only rows (attributes named like the
# model's): a third of the cost of loading entities, on every dashboard and
# status request. Not the log, the plan or the launch secret.
_jobs = MigrationJob.__table__
_JOB_COLUMNS = [
    *(
        c
        for c in _jobs.c
        if c.name not in ("log", "planned", "launch_secret", "verify_result")
    ),
    _jobs.c.verify_result.label("schema_report"),
]
_audit = MigrationAudit.__table__


# Built once: a statement's construction and its cache key cost more than
# running it (SQLAlchemy keeps the key on the statement object).
_RECENT_JOBS = sa.select(*_JOB_COLUMNS).order_by(_jobs.c.id.desc()).limit(5)
_RECENT_AUDIT = sa.select(_audit).order_by(_audit.c.id.desc()).limit(5)


_JOB_LIST = sa.select(*_JOB_COLUMNS).order_by(_jobs.c.id.desc()).limit(100)


def job_list() -> list:
    """The Jobs tab: the 100 newest jobs (a dead one shown interrupted, as
    in recent_jobs)."""
    newest = recent_jobs()
    jobs = _rows_or_empty(_JOB_LIST)
    if jobs and newest and jobs[0].id == newest[0].id:
        jobs[0] = newest[0]
    return jobs


def recent_jobs() -> list:
    """The 5 newest jobs, read once per request (the page and its navbar
    share them). A job marked running whose process has died is shown
    interrupted, so that no page (the navbar's banner on any admin page
    included) shows a dead job as running; a page only reads: the job's
    supervisor, or the next write, records it. Only a job marked running
    costs that check: one runs at a time, and it is the newest."""
    if "recent_jobs" not in g:
        jobs = _rows_or_empty(_RECENT_JOBS)
        if jobs and jobs[0].status == "running":
            noticed = interruption(db.session, JobEnvironment.of(current_app), jobs[0])
            if noticed is not None:
                jobs[0] = SimpleNamespace(**{**jobs[0]._mapping, **noticed})
        g.recent_jobs = jobs
    return g.recent_jobs


def running_job() -> sa.Row | None:
    """The running job. A job starts only while none runs (and one whose
    process died is marked interrupted first), so it is the newest one."""
    jobs = recent_jobs()
    return jobs[0] if jobs and jobs[0].status == "running" else None


def recent_audit() -> list[sa.Row]:
    """The 5 newest audit rows."""
    return _rows_or_empty(_RECENT_AUDIT)


def checksum_mismatches(
    catalog: Catalog, recent: list[sa.Row] | None = None
) -> dict[str, str]:
    """Revision -> checksum recorded when it was last applied, for every
    revision file changed since (like Flyway's validate). The trail only
    grows: the answer is kept per newest audit row (`recent`, the newest rows
    as recent_audit() gives them, saves reading which one that is)."""
    if recent is not None:
        newest = recent[0].id if recent else None
    else:
        try:
            newest = db.session.scalar(sa.select(sa.func.max(MigrationAudit.id)))
        except sa.exc.SQLAlchemyError:
            db.session.rollback()
            return {}  # Headway's tables are not set up yet
    if newest is None:
        return {}

    def compute() -> dict[str, str]:
        rows = db.session.execute(
            sa.select(MigrationAudit.revision, MigrationAudit.checksum)
            .where(
                MigrationAudit.action == "upgrade",
                MigrationAudit.success.is_(True),
                MigrationAudit.checksum.is_not(None),
            )
            .order_by(MigrationAudit.id)
        )
        recorded = {revision: checksum for revision, checksum in rows}
        return {
            rev: checksum
            for rev, checksum in recorded.items()
            if rev in catalog.by_id and catalog.by_id[rev].checksum != checksum
        }

    return catalog.memo(("checksums", newest), compute)


def audit_rows(audit_filter: AuditFilter) -> list[MigrationAudit]:
    """Audit rows, newest first, as the filter asks."""
    query = sa.select(MigrationAudit).order_by(MigrationAudit.id.desc())
    if audit_filter.revision:
        query = query.where(MigrationAudit.revision == audit_filter.revision)
    if audit_filter.action:
        query = query.where(MigrationAudit.action == audit_filter.action)
    if audit_filter.actor:
        query = query.where(MigrationAudit.actor.contains(audit_filter.actor))
    if audit_filter.job_id is not None:
        query = query.where(MigrationAudit.job_id == audit_filter.job_id)
    if audit_filter.failed_only:
        query = query.where(MigrationAudit.success.is_(False))
    return list(db.session.scalars(query.limit(audit_filter.limit)))


@dataclass
class AdoptionOffer:
    """An unversioned database that already has the first revision's tables:
    what the console offers instead of an upgrade."""

    tables: list[str]
    refusal: str  # why an upgrade is refused, as the CLI and the API say it
    dry_run: Verification | None  # the matching revision, or the closest
    error: str | None  # why the dry run could not be made (the scratch grant)
    checked_at: datetime


# A dry run builds each revision's schema in a scratch database (a second or
# two): kept per database while its schema and the scripts stay the same, so
# that reloading a page does not build them again. The adoption itself checks
# again before it stamps.
_dry_runs: dict[str, tuple[int, Schema, AdoptionOffer]] = {}
# Beyond this many revisions a dry run takes longer than a page may.
DRY_RUN_MAX_REVISIONS = 40
_dry_runs_lock = threading.Lock()


def adoption_offer(view: Overview) -> AdoptionOffer | None:
    """The offer, or None when the database is versioned, or has none of the
    first revision's tables (a new database, which upgrades from base)."""
    if view.database.kind != State.UNVERSIONED:
        return None
    tables = existing_first_revision_tables(db.engine, view.catalog)
    if not tables:
        return None
    if len(view.catalog.revisions) > DRY_RUN_MAX_REVISIONS:
        error = (
            f"it builds each of the {len(view.catalog.revisions)} revisions' "
            "schemas, too long for a page: run `flask db adopt --dry-run`, or "
            "start the adoption (a job, which checks before it stamps)"
        )
        return AdoptionOffer(tables, unversioned_line(tables), None, error, utcnow())
    key = db.engine.url.render_as_string(hide_password=True)
    live = reflect_user_schema(db.engine)
    with _dry_runs_lock:
        kept = _dry_runs.get(key)
    if kept and kept[0] == id(view.catalog) and kept[1] == live:
        return kept[2]
    dry_run = error = None
    try:
        dry_run = adopt(db.engine, dry_run=True).verification
    except HeadwayError as exc:
        error = str(exc)  # not kept: the grant may come
    offer = AdoptionOffer(tables, unversioned_line(tables), dry_run, error, utcnow())
    if error is None:
        with _dry_runs_lock:
            _dry_runs[key] = (id(view.catalog), live, offer)
    return offer


def launch_job(job_request: "JobRequest | Callable[[], JobRequest]") -> MigrationJob:
    """Start a job for the signed-in user, on this app's database and
    scripts: the plan page's form, the drift check and the API (see
    start_job for the order of its checks and for `job_request`)."""
    view = overview()
    return start_job(
        db.session,
        JobEnvironment.of(current_app),
        view.catalog,
        view.database,
        job_request,
        current_user.username,
    )
