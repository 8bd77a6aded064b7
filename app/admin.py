"""The Flask-Admin site: every view behind login, with per-role writes."""

from flask import Flask, abort, flash, redirect, request, url_for
from flask_admin import Admin, expose
from flask_admin.model.template import TemplateLinkRowAction
from flask_admin.theme import Bootstrap4Theme
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
from app.auth.admin_views import SecureIndexView, SecureModelView
from app.auth.security import csp_nonce
from app.dbadmin.web.views import MigrationsView
from app.employees.views import add_employee_views
from app.errors import HeadwayError
from app.extensions import db
from app.models import User
from app.models.accounts import ROLES


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
    add_employee_views(admin)
    admin.add_view(UserView(User, db, name="Users", endpoint="users"))

    admin.add_view(
        MigrationsView(name="Migrations", endpoint="migrations", url="migrations")
    )
    return admin
