"""The Flask-Admin site: every view behind login, with per-role writes."""

from flask import Flask, abort, flash, redirect, request, url_for
from flask_admin import Admin, AdminIndexView, expose
from flask_admin.contrib.sqla import ModelView
from flask_admin.model.template import TemplateLinkRowAction
from flask_admin.theme import Bootstrap4Theme
from flask_login import current_user
from wtforms import PasswordField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional, ValidationError

from app.auth.accounts import (
    check_role,
    disable,
    ensure_an_admin_remains,
    log_out_everywhere,
    new_session_token,
    set_password,
)
from app.auth.security import csp_nonce, login_url
from app.errors import HeadwayError
from app.extensions import db
from app.models import Department, Employee, User
from app.models.headway import ROLES

# Flask-Admin view methods that change data (or show a form to).
WRITE_VIEWS = frozenset(
    {"create_view", "edit_view", "delete_view", "action_view", "ajax_update"}
)


class SecureViewMixin:
    """Who may see a view (read_role) and change through it (write_role)."""

    read_role = "viewer"
    write_role = "operator"
    write_views = WRITE_VIEWS

    def is_accessible(self) -> bool:
        return current_user.is_authenticated and current_user.has_role(self.read_role)

    def inaccessible_callback(self, name, **kwargs):
        if not current_user.is_authenticated:
            return redirect(login_url())
        abort(403)

    def may_write(self) -> bool:
        return current_user.is_authenticated and current_user.has_role(self.write_role)

    def _handle_view(self, name, **kwargs):
        if name in self.write_views and self.is_accessible() and not self.may_write():
            abort(403)
        return super()._handle_view(name, **kwargs)


class SecureIndexView(SecureViewMixin, AdminIndexView):
    pass


class SecureModelView(SecureViewMixin, ModelView):
    allow_create = allow_edit = allow_delete = True
    # Counting a 2.8M-row table on every page is the slow part of a list.
    simple_list_pager = True
    page_size = 50

    @property
    def can_create(self) -> bool:
        return self.allow_create and self.may_write()

    @property
    def can_edit(self) -> bool:
        return self.allow_edit and self.may_write()

    @property
    def can_delete(self) -> bool:
        return self.allow_delete and self.may_write()


class EmployeeView(SecureModelView):
    column_list = (
        "emp_no",
        "first_name",
        "last_name",
        "gender",
        "birth_date",
        "hire_date",
        "email",
    )
    column_default_sort = "emp_no"
    form_columns = column_list
    can_view_details = True


class DepartmentView(SecureModelView):
    column_list = ("dept_no", "dept_name")
    column_default_sort = "dept_no"
    form_columns = column_list


class UserView(SecureModelView):
    """Accounts, for admins. Never shows a password hash or a token."""

    read_role = write_role = "admin"
    allow_delete = False  # disable instead: the audit trail names its users
    column_list = (
        "username",
        "role",
        "active",
        "last_login_at",
        "failed_logins",
        "locked_until",
        "created_at",
    )
    column_default_sort = "username"
    form_columns = ("username", "role", "active", "new_password")
    form_overrides = {"role": SelectField}
    form_args = {"role": {"choices": [SelectChoice(r) for r in ROLES]}}
    form_extra_fields = {
        "new_password": PasswordField(
            "New password",
            validators=[Optional()],
            description="At least 12 characters. Setting it ends the user's sessions.",
        )
    }
    column_extra_row_actions = [
        TemplateLinkRowAction("row_actions.logout_everywhere", "Log out everywhere")
    ]

    def on_model_change(self, form, model, is_created):
        try:
            check_role(model.role)
            password = form.new_password.data
            if is_created:
                if not password:
                    raise HeadwayError("a new account needs a password")
                model.session_token = new_session_token()
            if password:
                set_password(model, password)
            if model.active:
                ensure_an_admin_remains(model)
            else:
                disable(model)  # also ends its sessions
        except HeadwayError as exc:
            raise ValidationError(str(exc)) from None

    @expose("/logout-everywhere/", methods=["POST"])
    def logout_everywhere_view(self):
        if not self.may_write():
            abort(403)
        user = db.session.get(User, request.form.get("id", type=int) or 0)
        if user is None:
            abort(404)
        log_out_everywhere(user)
        db.session.commit()
        flash(f"Every session of {user.username} has ended.", "success")
        return redirect(url_for(".index_view"))


def init_admin(app: Flask) -> Admin:
    # Built per app: Flask-Admin's Admin holds its views (see docs/stack.md).
    admin = Admin(
        app,
        name="Headway",
        theme=Bootstrap4Theme(swatch="default"),
        index_view=SecureIndexView(url="/admin"),
        csp_nonce_generator=csp_nonce,
    )
    admin.add_view(EmployeeView(Employee, db, category="Employees"))
    admin.add_view(DepartmentView(Department, db, category="Employees"))
    admin.add_view(UserView(User, db, name="Users", endpoint="users"))

    from app.dbadmin.views import MigrationsView

    admin.add_view(
        MigrationsView(name="Migrations", endpoint="migrations", url="migrations")
    )
    return admin
