"""The migration console's pages: Flask-Admin views under /admin/migrations/."""

from flask import flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user
from markupsafe import Markup

from app.admin import SecureViewMixin
from app.dbadmin import graph
from app.dbadmin.console import (
    checksum_mismatches,
    overview,
    recent_audit,
    recent_jobs,
)
from app.dbadmin.drift import latest_drift_check, run_drift_check
from app.dbadmin.plan import PlanError, make_plan, step_plan
from app.extensions import db


class MigrationsView(SecureViewMixin, BaseView):
    """Where the schema stands, its history, what a change would do."""

    def _render_console(self, template: str, view, **context):
        status = 503 if view.state.state == "unreachable" else 200
        return (
            self.render(template, view=view, state=view.state, **context),
            status,
        )

    @expose("/")
    def index(self):
        view = overview()
        unreachable = view.state.state == "unreachable"
        return self._render_console(
            "dbadmin/dashboard.html",
            view,
            jobs=[] if unreachable else recent_jobs(),
            audit=[] if unreachable else recent_audit(),
            mismatches={} if unreachable else checksum_mismatches(view.catalog),
        )

    @expose("/history")
    def history(self):
        view = overview()
        applied = view.state.applied(view.catalog)
        nodes = [
            graph.Node(
                revision=r.id,
                down_revisions=r.down_revisions,
                message=r.message,
                applied=r.id in applied,
                current=r.id in view.state.current,
            )
            for r in view.catalog.revisions
        ]
        # render_svg escapes every text it writes.
        svg = Markup(graph.render_svg(nodes))
        return self._render_console(
            "dbadmin/history.html", view, applied=applied, svg=svg
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
            source=source,
            upgrade=upgrade,
            downgrade=downgrade,
            applied=full in view.state.applied(view.catalog),
        )

    @expose("/plan")
    def plan(self):
        view = overview()
        target = request.args.get("target", "").strip()
        plan = error = None
        if target and view.state.state != "unreachable":
            try:
                plan = make_plan(db.engine, view.catalog, view.state, target)
            except PlanError as exc:
                error = str(exc)
        response = self._render_console(
            "dbadmin/plan.html", view, target=target, plan=plan, error=error
        )
        return (response[0], 400) if error else response

    @expose("/drift")
    def drift(self):
        view = overview()
        check = latest_drift_check(view.state.current) if view.state.current else None
        return self._render_console("dbadmin/drift.html", view, check=check)

    @expose("/drift", methods=["POST"])
    def drift_check(self):
        check = run_drift_check(db.engine, current_user.username)
        drifted = (
            check.stamp_differences or check.stamp_error or check.model_differences
        )
        flash(
            "Drift found: see below." if drifted else "No drift: the schema matches.",
            "danger" if drifted else "success",
        )
        return redirect(url_for(".drift"))
