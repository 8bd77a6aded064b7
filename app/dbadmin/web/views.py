"""The migration console's pages: Flask-Admin views under /admin/migrations/."""

import re

from flask import Response, current_app, flash, jsonify, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user
from markupsafe import Markup

from app.auth.admin_views import WRITE_VIEWS, SecureViewMixin
from app.clock import utcnow
from app.dbadmin.core.catalog import Catalog, load_catalog
from app.dbadmin.core.guards import AtRisk, data_at_risk
from app.dbadmin.core.plan import PlanError, make_plan, step_plan
from app.dbadmin.core.recovery import preview_rollback
from app.dbadmin.core.state import State
from app.dbadmin.jobs.service import (
    DRIFT_CHECK,
    PREFLIGHT,
    JobConflict,
    JobEnvironment,
    JobNotStarted,
    JobRefused,
    JobRequest,
    cancel_job,
    job_file,
    job_progress,
    shown_job,
    without_noise,
)
from app.dbadmin.preflight_text import verdict_words
from app.dbadmin.web.dryrun import stamp_dry_run
from app.dbadmin.web.forms import BadInput, parse_audit_filter, parse_job_request
from app.dbadmin.web.highlight import python_html
from app.dbadmin.web.history import (
    BadPage,
    created_at,
    history_graph,
    history_page,
    shown_rows,
    whole_graph_svg,
)
from app.dbadmin.web.joblog import (
    hide_server_details,
    log_parts,
    sees_server_details,
)
from app.dbadmin.web.overview import (
    adoption_offer,
    audit_rows,
    checksum_mismatches,
    job_list,
    launch_job,
    overview,
    recent_audit,
    recent_jobs,
    running_job,
)
from app.dbadmin.web.preflight import kept_preflight, step_rows
from app.dbadmin.web.words import CONSOLE_WAYS
from app.errors import HeadwayError
from app.extensions import db
from app.validation import parse_integer


class FormError(HeadwayError):
    """Why the confirmation form did not start its job, for the plan page to
    show beside `field` (None: above the button) of the `action`'s form."""

    def __init__(
        self,
        action: str,
        message: str,
        field: str | None = None,
        status: int = 400,
        job_id: int | None = None,
        errors: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.action, self.message, self.field = action, message, field
        self.status, self.job_id = status, job_id
        # Every field's error at once (field -> message), `field`'s included.
        self.errors = dict(errors or {})
        if field is not None:
            self.errors.setdefault(field, message)


# The plan page's pickers list the newest revisions, not every one: a page
# with an option per revision grows with the history (1,000 options at 1,000
# revisions). Any other revision is typed (its id or a unique prefix) or
# reached from the history's "plan to here".
PICKER_REVISIONS = 50


def target_choices(catalog: Catalog) -> list[tuple[str, str]]:
    """The plan page's pickers: head, heads and base, then the newest
    PICKER_REVISIONS revisions and every head, newest first, with their
    messages."""
    listed = catalog.revisions[:PICKER_REVISIONS]
    ids = {r.id for r in listed}
    listed += [catalog.by_id[h] for h in catalog.heads if h not in ids]
    return [
        ("head", "head · the newest revision"),
        ("heads", "heads · every head"),
        ("base", "base · before the first revision (downgrade everything)"),
    ] + [(r.id, f"{r.id} · {r.message}") for r in listed]


# The lint warning that names what a data-loss item drops (its kind).
_DROPPED_BY = {True: "drop_table", False: "drop_column"}


def counted_warnings(plan, at_risk) -> list[tuple]:
    """Each lint warning of the plan, with the count of what it drops when it
    drops data (core/guards.py's data_at_risk), for the plan's decision. The
    two are matched by their fields (revision, kind, table, column), never by
    their wording."""
    counted = []
    for warning in plan.warnings:
        count = next(
            (
                at_risk_count(item)
                for item in at_risk
                if item.how == "drop"
                and (item.revision, item.table, item.column)
                == (warning.revision, warning.table, warning.column)
                and warning.code == _DROPPED_BY[item.column is None]
            ),
            None,
        )
        counted.append((warning, count))
    return counted


def at_risk_count(item: AtRisk) -> str:
    """How much of the data an item holds, as the plan's decision says it:
    "1,234 rows", "~2,000,000 rows", "1 non-NULL value"."""
    count = f"~{item.rows:,}" if item.estimated else f"{item.rows:,}"
    if item.column is None:
        return f"{count} row{'s' if item.rows != 1 else ''}"
    if item.estimated:
        return f"holds values ({count} rows)"
    return f"{count} non-NULL value{'s' if item.rows != 1 else ''}"


def _text(body: str, status: int) -> Response:
    return Response(body, status=status, mimetype="text/plain")


def revlink(rev: str) -> Markup:
    """A revision's id, linked to its page (the templates' revlink)."""
    return Markup('<a href="{}"><code>{}</code></a>').format(
        url_for("migrations.revision", rev=rev), rev
    )


class MigrationsView(SecureViewMixin, BaseView):
    """Where the schema stands, its history, what a change would do; and, for
    operators, doing it as a job."""

    # A drift check builds the stamped revision's schema in scratch databases
    # on the server, a preflight scratch copies and scans of large tables: an
    # operator's action, like a job.
    write_views = WRITE_VIEWS | {
        "start_job",
        "plan_start",
        "drift_check",
        "preflight_check",
        "cancel_job",
    }

    def create_blueprint(self, admin):
        blueprint = super().create_blueprint(admin)
        blueprint.add_app_template_global(revlink)
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
        rows = []
        if view.database.reachable:
            history = history_graph(view.catalog, view.database)
            try:
                page = history_page(history.rows, request.args.get("page"))
                rows = shown_rows(history, page.rows)
            except BadPage as exc:
                error = str(exc)
        response = self._render_console(
            "dbadmin/history.html", view, page=page, rows=rows, error=error
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
        return self._plan_page(
            request.args.get("target", "").strip(),
            request.args.get("stamp", "").strip(),
        )

    @expose("/plan", methods=["POST"])
    def plan_start(self):
        """The plan page's confirmation: start the job, or show the plan
        again with what was wrong beside the field (at the plan's URL)."""
        return self._start_from_form()

    def _plan_page(
        self,
        target: str,
        stamp: str,
        *,
        form_error: FormError | None = None,
        typed: str = "",
    ):
        view = overview()
        reachable = view.database.reachable
        plan = error = stamp_check = preflight = None
        at_risk = []
        adoption = adoption_offer(view) if reachable else None
        if target and reachable:
            try:
                plan = make_plan(
                    db.engine, view.catalog, view.database, target, ways=CONSOLE_WAYS
                )
                # What the confirmation says yes to dropping, with counts.
                at_risk = data_at_risk(db.engine, plan)
                # The newest preflight of this plan, as kept: a page load
                # never runs one.
                preflight = kept_preflight(
                    db.engine, tuple(view.database.current), plan
                )
            except PlanError as exc:
                error = str(exc)
        if stamp and reachable and self.may_write():
            stamp_check = stamp_dry_run(db.engine, view.catalog, db.metadata, stamp)
        partial = view.database.partial
        rollback = preview_rollback(db.engine, partial) if partial else None
        # The forms the page shows: an error of another (a form changed by
        # hand, a plan that changed since) is shown above them all.
        shown = {"stamp"} if stamp_check else set()
        if partial:
            shown |= {"rollback", "resume"}
        if view.database.kind == State.UNVERSIONED:
            shown.add("adopt")
        if plan and plan.steps and not (adoption and plan.direction == "upgrade"):
            shown.add(plan.direction)
        choices = target_choices(view.catalog)
        response, status = self._render_console(
            "dbadmin/plan.html",
            view,
            target=target,
            stamp=stamp,
            stamp_check=stamp_check,
            choices=choices,
            # A set: whether the picked target is listed, without a Jinja
            # filter chain over the choices.
            known_choices={value for value, _ in choices},
            revision_count=len(view.catalog.revisions),
            picker_revisions=PICKER_REVISIONS,
            plan=plan,
            warnings=counted_warnings(plan, at_risk) if plan else [],
            preflight=preflight,
            preflight_rows=step_rows,
            verdict_words=verdict_words,
            error=error,
            adoption=adoption,
            at_risk=at_risk,
            form_error=form_error,
            rollback=rollback,
            orphan_error=(
                form_error if form_error and form_error.action not in shown else None
            ),
            typed_value=typed,
            # The choice of pt-online-schema-change: MySQL/MariaDB only.
            online_choice=db.engine.dialect.name == "mysql",
        )
        if form_error is not None:
            status = form_error.status
        elif error and status == 200:
            status = 400
        return response, status

    @expose("/plan.sql")
    def plan_sql(self):
        """The plan's offline SQL as a file (Alembic's `--sql` output)."""
        target = request.args.get("target", "").strip()
        if not target:
            return _text("give the target revision: ?target=REV\n", 400)
        view = overview()
        if not view.database.reachable:
            return _text(f"{view.database.summary()}\n", 503)
        try:
            plan = make_plan(
                db.engine, view.catalog, view.database, target, ways=CONSOLE_WAYS
            )
        except PlanError as exc:
            return _text(f"{exc}\n", 400)
        current = ", ".join(view.database.current) or "base"
        header = [
            f"-- Headway plan: {plan.direction} from {current} to {plan.target}, "
            f"{len(plan.steps)} step{'s' if len(plan.steps) != 1 else ''}",
            f"-- Dialect: {db.engine.dialect.name}; offline SQL (Alembic's --sql), "
            f"made {utcnow():%Y-%m-%d %H:%M:%S} UTC for {current_user.username}",
        ]
        header += [
            f"--   {i}. {step.direction} {step.revision.id}: {step.revision.message}"
            for i, step in enumerate(plan.steps, 1)
        ]
        if plan.error:
            header.append(f"-- Incomplete: {plan.error}")
        # A comment stays one line, whatever a revision's message holds.
        header = [" ".join(line.split()) for line in header]
        response = _text("\n".join(header) + "\n\n" + plan.sql, 200)
        response.mimetype = "application/sql"
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{plan.direction}-to-{plan.target}")
        response.headers["Content-Disposition"] = f'attachment; filename="{name}.sql"'
        return response

    @expose("/drift")
    def drift(self):
        view = overview()
        return self._render_console(
            "dbadmin/drift.html",
            view,
            check=view.drift,
            status=view.drift_status,
            running=running_job(),
        )

    @expose("/drift", methods=["POST"])
    def drift_check(self):
        """Check now: a job (scratch databases take long; no request may)."""
        try:
            job = launch_job(JobRequest(DRIFT_CHECK, None))
        except JobConflict as exc:
            message = Markup("No drift check now: {}").format(str(exc))
            if exc.job_id is not None:
                message += Markup(' · <a href="{}">see job #{}</a>').format(
                    url_for(".job", job_id=exc.job_id), exc.job_id
                )
            flash(message, "danger")
            return redirect(url_for(".drift"))
        except JobRefused as exc:
            flash(f"No drift check: {exc}", "danger")
            return redirect(url_for(".drift"))
        except JobNotStarted as exc:
            # Its page says it failed, and why: its one banner.
            return redirect(url_for(".job", job_id=exc.job_id))
        return redirect(url_for(".job", job_id=job.id))

    @expose("/plan/preflight", methods=["POST"])
    def preflight_check(self):
        """Run preflight of the plan to `target` now: a job (scratch copies
        and scans of large tables; no request may)."""
        target = request.form.get("target", "").strip()
        back = url_for(".plan", target=target) if target else url_for(".plan")
        try:
            job = launch_job(JobRequest(PREFLIGHT, target or None))
        except JobConflict as exc:
            message = Markup("No preflight now: {}").format(str(exc))
            if exc.job_id is not None:
                message += Markup(' · <a href="{}">see job #{}</a>').format(
                    url_for(".job", job_id=exc.job_id), exc.job_id
                )
            flash(message, "danger")
            return redirect(back)
        except JobRefused as exc:
            flash(f"No preflight: {exc}", "danger")
            return redirect(back)
        except JobNotStarted as exc:
            return redirect(url_for(".job", job_id=exc.job_id))
        return redirect(url_for(".job", job_id=job.id))

    @expose("/jobs", methods=["POST"])
    def start_job(self):
        return self._start_from_form()

    def _start_from_form(self):
        form = request.form
        action, target = form.get("action", ""), form.get("target", "").strip()
        typed = form.get("typed_target", "").strip()

        def again(error: FormError):
            # The page the form was on, with the plan and the error.
            plan_target = target if action in ("upgrade", "downgrade") else ""
            stamp = target if action == "stamp" else ""
            return self._plan_page(plan_target, stamp, form_error=error, typed=typed)

        def read_form() -> JobRequest:
            # Read after the check for a running job, which answers first.
            # Every field's error in one answer, not one per round trip.
            errors: dict[str, str] = {}
            try:
                job_request = parse_job_request(dict(form))
            except BadInput as exc:
                if exc.field is None:
                    raise
                errors[exc.field] = str(exc)
            if not form.get("confirm"):
                errors["confirm"] = "tick the confirmation box to start it"
            if errors:
                field, message = next(iter(errors.items()))
                raise FormError(action, message, field=field, errors=errors)
            return job_request

        try:
            job = launch_job(read_form)
        except FormError as exc:
            return again(exc)
        except BadInput as exc:
            return again(FormError(action, str(exc), field=exc.field))
        except JobRefused as exc:
            return again(FormError(action, str(exc)))
        except JobConflict as exc:
            return again(FormError(action, str(exc), status=409, job_id=exc.job_id))
        except JobNotStarted as exc:
            # Its page says it failed, and why: its one banner.
            return redirect(url_for(".job", job_id=exc.job_id))
        return redirect(url_for(".job", job_id=job.id))

    @expose("/jobs/<id:job_id>/cancel", methods=["POST"])
    def cancel_job(self, job_id: int):
        try:
            cancel_job(db.session, job_id, current_user.username)
            flash(f"Cancel sent to job #{job_id}: it stops before its next statement.")
        except LookupError:
            return self.render("dbadmin/no_job.html", job_id=job_id), 404
        except JobRefused as exc:
            flash(str(exc), "error")
        return redirect(url_for(".job", job_id=job_id))

    @staticmethod
    def catalog_revision(rev: str) -> str:
        """A revision's message ('' when the scripts lack it), from the
        cached catalog: a poll reads no more than it needs."""
        revision = load_catalog().by_id.get(rev)
        return revision.message if revision else ""

    @expose("/jobs")
    def jobs(self):
        view = overview()
        return self._render_console("dbadmin/jobs.html", view, jobs=job_list())

    @expose("/jobs/<id:job_id>")
    def job(self, job_id: int):
        environment = JobEnvironment.of(current_app)
        job = shown_job(db.session, environment, job_id)
        if job is None:
            return self.render("dbadmin/no_job.html", job_id=job_id), 404
        view = overview()
        output_file = None
        if sees_server_details():
            output_file = job_file(environment.output_dir, job.id, "run")
        return self._render_console(
            "dbadmin/job.html",
            view,
            job=job,
            progress=job_progress(db.session, job),
            output_file=output_file,
            log=log_parts(without_noise(hide_server_details(job.log or "", job.host))),
            # Where the page's log ends: it asks for the rest (job_log).
            log_offset=len(job.log or ""),
            # The job's status is the page's one banner; the database's
            # state is a line in it.
            state_banner=False,
        )

    @expose("/jobs/<id:job_id>/log")
    def job_log(self, job_id: int):
        """The log's tail after `after` (a character offset from an earlier
        answer), for the job page to follow a running job: a small read
        every second or two instead of the page reloaded (server-sent events
        would hold a worker per open page). Same roles as the job page."""
        # A job whose process died is shown so (a read; one check, while
        # it is marked running).
        job = shown_job(db.session, JobEnvironment.of(current_app), job_id)
        if job is None:
            return jsonify(error=f"there is no job #{job_id}"), 404
        log = job.log or ""
        after = parse_integer(request.args.get("after", "0"), 0, len(log))
        # The log only grows; an offset past its end (or a bad one) starts over.
        reset = after is None
        if reset:
            after = 0
        progress = job_progress(db.session, job)
        step = progress.line()
        if progress.running and progress.current_revision:
            revision = self.catalog_revision(progress.current_revision)
            step += f": {progress.current_revision} {revision}".rstrip()
        return jsonify(
            text=without_noise(hide_server_details(log[after:], job.host)),
            next=len(log),
            reset=reset,
            status=job.status,
            step=step,
            elapsed_seconds=progress.elapsed_seconds,
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
