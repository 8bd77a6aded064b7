"""The migration console's pages: Flask-Admin views under /admin/migrations/."""

from flask import Response, current_app, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user

from app.auth.admin_views import WRITE_VIEWS, SecureViewMixin
from app.dbadmin.core.catalog import load_catalog
from app.dbadmin.core.drift import latest_drift_check, run_drift_check
from app.dbadmin.core.guards import data_at_risk
from app.dbadmin.core.plan import PlanError, make_plan, step_plan
from app.dbadmin.jobs.service import (
    JobConflict,
    JobEnvironment,
    JobNotStarted,
    JobRefused,
    job_progress,
    notice_interrupted_jobs,
    start_job,
)
from app.dbadmin.web.forms import BadInput, parse_audit_filter, parse_job_request
from app.dbadmin.web.highlight import python_html
from app.dbadmin.web.history import (
    BadPage,
    created_at,
    history_page,
    history_rows,
    rows_html,
    whole_graph_svg,
)
from app.dbadmin.web.overview import (
    adoption_offer,
    audit_rows,
    checksum_mismatches,
    overview,
    recent_audit,
    recent_jobs,
)
from app.errors import HeadwayError
from app.extensions import db
from app.models.console import MigrationJob

# Actions whose target must be typed in again to confirm them.
TYPED_CONFIRMATION = ("downgrade", "stamp")


# (site root, revision) -> the revision page's URL: a dozen links on the
# dashboard, built once.
_revision_urls: dict[tuple[str, str], str] = {}
REVISION_URLS_KEPT = 10_000


def revision_url(rev: str) -> str:
    """The URL of revision `rev`'s page (the templates' revision_url)."""
    key = (request.script_root, rev)
    url = _revision_urls.get(key)
    if url is None:
        if len(_revision_urls) > REVISION_URLS_KEPT:
            _revision_urls.clear()
        url = _revision_urls[key] = url_for("migrations.revision", rev=rev)
    return url


class MigrationsView(SecureViewMixin, BaseView):
    """Where the schema stands, its history, what a change would do; and, for
    operators, doing it as a job."""

    # A drift check builds the stamped revision's schema in scratch databases
    # on the server: an operator's action, like a job.
    write_views = WRITE_VIEWS | {"start_job", "drift_check"}

    def create_blueprint(self, admin):
        blueprint = super().create_blueprint(admin)
        blueprint.add_app_template_global(revision_url)
        return blueprint

    def _render_console(self, template: str, view, **context):
        status = 200 if view.database.reachable else 503
        return (
            self.render(template, view=view, database=view.database, **context),
            status,
        )

    @expose("/")
    def index(self):
        view = overview()
        if not view.database.reachable:
            return self._render_console(
                "dbadmin/dashboard.html",
                view,
                adoption=None,
                jobs=[],
                audit=[],
                mismatches={},
            )
        jobs = recent_jobs()
        # One job runs at a time (a second is refused while it does), so a
        # job still marked running is the newest one.
        if jobs and jobs[0].status == "running":
            notice_interrupted_jobs(db.session, JobEnvironment.of(current_app))
            jobs = recent_jobs()
        audit = recent_audit()
        return self._render_console(
            "dbadmin/dashboard.html",
            view,
            adoption=adoption_offer(view),
            jobs=jobs,
            audit=audit,
            mismatches=checksum_mismatches(view.catalog, audit),
        )

    @expose("/history")
    def history(self):
        view = overview()
        page = error = None
        if view.database.reachable:
            rows = history_rows(view.catalog, view.database)
            try:
                page = history_page(rows, request.args.get("page"))
            except BadPage as exc:
                error = str(exc)
        response = self._render_console(
            "dbadmin/history.html",
            view,
            page=page,
            rows_html=rows_html(page.rows) if page else None,
            error=error,
        )
        return (response[0], 400) if error else response

    @expose("/history.svg")
    def history_svg(self):
        view = overview()
        if not view.database.reachable:
            return self._render_console(
                "dbadmin/history.html", view, page=None, error=None
            )
        svg = whole_graph_svg(view.catalog, view.database)
        return Response(
            svg,
            mimetype="image/svg+xml",
            headers={
                "Content-Disposition": 'attachment; filename="revision-graph.svg"'
            },
        )

    @expose("/revision/<rev>")
    def revision(self, rev: str):
        view = overview()
        full = view.catalog.resolve(rev)
        if full is None:
            return self.render("dbadmin/unknown.html", rev=rev), 404
        revision = view.catalog.by_id[full]
        upgrade = step_plan(db.engine, view.catalog, full, "upgrade")
        downgrade = step_plan(db.engine, view.catalog, full, "downgrade")
        source = (view.catalog.versions_path / revision.filename).read_text()
        return self._render_console(
            "dbadmin/revision.html",
            view,
            revision=revision,
            created_at=created_at(revision),
            source=python_html(source),
            upgrade=upgrade,
            downgrade=downgrade,
            applied=full in view.database.applied(view.catalog),
        )

    @expose("/plan")
    def plan(self):
        view = overview()
        target = request.args.get("target", "").strip()
        plan = error = None
        at_risk = []
        adoption = adoption_offer(view) if view.database.reachable else None
        if target and view.database.reachable:
            try:
                plan = make_plan(db.engine, view.catalog, view.database, target)
                # What the confirmation says yes to dropping, with counts.
                at_risk = data_at_risk(db.engine, plan)
            except PlanError as exc:
                error = str(exc)
        response = self._render_console(
            "dbadmin/plan.html",
            view,
            target=target,
            plan=plan,
            error=error,
            adoption=adoption,
            at_risk=at_risk,
        )
        return (response[0], 400) if error else response

    @expose("/drift")
    def drift(self):
        view = overview()
        check = (
            latest_drift_check(db.session, view.database.current)
            if view.database.current
            else None
        )
        return self._render_console("dbadmin/drift.html", view, check=check)

    @expose("/drift", methods=["POST"])
    def drift_check(self):
        try:
            check = run_drift_check(
                db.session, load_catalog(), db.metadata, current_user.username
            )
        except HeadwayError as exc:
            flash(f"No drift check: {exc}", "danger")
            return redirect(url_for(".drift"))
        drifted = (
            check.stamp_differences or check.stamp_error or check.model_differences
        )
        flash(
            "Drift found: see below." if drifted else "No drift: the schema matches.",
            "danger" if drifted else "success",
        )
        return redirect(url_for(".drift"))

    @expose("/jobs", methods=["POST"])
    def start_job(self):
        form = request.form
        action, target = form.get("action", ""), form.get("target", "").strip()
        view = overview()
        try:
            job_request = parse_job_request(dict(form))
            if not form.get("confirm"):
                raise BadInput("tick the confirmation box to start it")
            typed = form.get("typed_target", "").strip()
            # The console's yes to dropping data: the target typed in again,
            # beside the counts the form shows (with its allow_data_loss field).
            typed_needed = action in TYPED_CONFIRMATION or job_request.allow_data_loss
            if typed_needed and typed != target:
                raise BadInput(
                    f"type the target ({target}) again to confirm the {action}"
                )
            job = start_job(
                db.session,
                JobEnvironment.of(current_app),
                view.catalog,
                view.database,
                job_request,
                current_user.username,
            )
        except (BadInput, JobRefused, JobConflict) as exc:
            code = 409 if isinstance(exc, JobConflict) else 400
            page = self.render(
                "dbadmin/plan.html",
                view=view,
                database=view.database,
                target=target,
                plan=None,
                error=str(exc),
                adoption=None,
                at_risk=[],
            )
            return page, code
        except JobNotStarted as exc:
            flash(str(exc), "danger")
            return redirect(url_for(".job", job_id=exc.job_id))
        flash(f"Job #{job.id} started: {job.action} {job.target}.", "success")
        return redirect(url_for(".job", job_id=job.id))

    @expose("/jobs/<id:job_id>")
    def job(self, job_id: int):
        notice_interrupted_jobs(db.session, JobEnvironment.of(current_app))
        job = db.session.get(MigrationJob, job_id)
        if job is None:
            return self.render("dbadmin/unknown.html", rev=f"job #{job_id}"), 404
        view = overview()
        return self._render_console(
            "dbadmin/job.html", view, job=job, progress=job_progress(db.session, job)
        )

    @expose("/audit")
    def audit(self):
        view = overview()
        try:
            rows = audit_rows(parse_audit_filter(request.args))
            error = None
        except BadInput as exc:
            rows, error = [], str(exc)
        response = self._render_console(
            "dbadmin/audit.html", view, rows=rows, error=error, filters=request.args
        )
        return (response[0], 400) if error else response
