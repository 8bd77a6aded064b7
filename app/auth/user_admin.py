"""The Users page of the admin site (admins only): accounts, their roles
and passwords, their sessions and API tokens, ended or revoked from here."""

from datetime import datetime

from flask import abort, flash, g, redirect, request, url_for
from flask_admin import expose
from flask_admin.model import typefmt
from flask_admin.model.template import TemplateLinkRowAction
from wtforms import PasswordField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Optional, ValidationError

from app.auth.accounts import (
    check_password_rules,
    check_role,
    check_username,
    end_access,
    ensure_an_admin_remains,
    log_out_everywhere,
    set_password,
    user_named,
    username_key,
)
from app.auth.admin_views import SecureModelView
from app.auth.security import role_needed
from app.auth.sessions import end_session_by_id, sessions_of
from app.auth.tokens import revoke_token, tokens_of
from app.clock import utcnow
from app.errors import HeadwayError
from app.extensions import db
from app.models import User
from app.models.accounts import ROLES
from app.templating import timestamp
from app.validation import parse_id


def _sentence(exc: HeadwayError) -> str:
    """A rule's message as a form shows it under a field."""
    text = str(exc)
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def username_rules(form, field) -> None:
    try:
        check_username(field.data or "")
    except HeadwayError as exc:
        raise ValidationError(_sentence(exc)) from None


def password_rules(form, field) -> None:
    if field.data:
        try:
            check_password_rules(field.data)
        except HeadwayError as exc:
            raise ValidationError(_sentence(exc)) from None


PASSWORD_HELP = (
    "At least 12 characters. Setting it ends the user's sessions and revokes "
    "their API tokens."
)


class FieldError(ValidationError):
    """A check made while saving, already put under its field (Flask-Admin
    would flash any other ValidationError at the top of the page)."""


class UserView(SecureModelView):
    """Accounts, for admins. Never shows a password hash or a token."""

    read_role = write_role = "admin"
    allow_delete = False  # disable instead: the audit trail names its users
    can_view_details = True
    details_template = "admin/users/details.html"
    column_list = ("username", "role", "active", "last_login_at", "created_at")
    column_details_list = column_list
    column_default_sort = "username"
    # Every date Headway prints has one format (app/templating.py).
    column_type_formatters = {
        **typefmt.BASE_FORMATTERS,
        datetime: lambda view, value, name: timestamp(value),
    }
    column_type_formatters_detail = {
        **typefmt.DETAIL_FORMATTERS,
        datetime: lambda view, value, name: timestamp(value),
    }
    form_columns = ("username", "role", "active", "new_password")
    form_overrides = {"role": SelectField}
    form_args = {
        "role": {"choices": [SelectChoice(r) for r in ROLES]},
        "username": {"validators": [username_rules]},
    }
    form_extra_fields = {
        "new_password": PasswordField(
            "New password",
            validators=[Optional(), password_rules],
            description=PASSWORD_HELP,
        )
    }
    column_extra_row_actions = [
        TemplateLinkRowAction("row_actions.logout_everywhere", "Log out everywhere")
    ]

    def get_create_form(self):
        class CreateForm(super().get_create_form()):
            # A new account needs one; an edit leaves it as it is when empty.
            new_password = PasswordField(
                "Password",
                validators=[
                    InputRequired("A new account needs a password."),
                    password_rules,
                ],
                description="At least 12 characters.",
            )

        return CreateForm

    def on_model_change(self, form, model, is_created):
        model.username = check_username(model.username)
        check_role(model.role)
        with db.session.no_autoflush:  # the new name is not written yet
            other = user_named(model.username)
        if other is not None and other is not model:
            message = f"The name is taken by {other.username!r}."
            form.username.errors = [*form.username.errors, message]
            raise FieldError(message)
        model.username_key = username_key(model.username)
        try:
            # First, before anything is written: it locks the admins' rows,
            # until this transaction ends (the check and the change are one).
            ensure_an_admin_remains(model)
        except HeadwayError as exc:
            # Demoted or disabled: the message goes under the field that did it.
            field = form.role if model.role != "admin" else form.active
            field.errors = [*field.errors, _sentence(exc)]
            raise FieldError(str(exc)) from None
        ended = None
        if form.new_password.data:
            ended = set_password(model, form.new_password.data)  # ends the access
        if not model.active and ended is None:
            ended = end_access(model)
        g.ended_access = ended

    def handle_view_exception(self, exc: Exception) -> bool:
        if isinstance(exc, FieldError):
            return True
        return super().handle_view_exception(exc)

    def after_model_change(self, form, model, is_created):
        ended = g.pop("ended_access", None)
        if not is_created and ended and (ended.sessions or ended.tokens):
            flash(ended.describe(model.username), "success")

    def access_of(self, user: User):
        return sessions_of(user), tokens_of(user)

    def now(self):
        return utcnow()

    def _target_user(self) -> User:
        user_id = parse_id(request.form.get("id"))
        user = db.session.get(User, user_id) if user_id is not None else None
        if user is None:
            abort(404)
        return user

    @expose("/logout-everywhere/", methods=["POST"])
    def logout_everywhere_view(self):
        if not self.may_write():
            abort(403, role_needed(self.write_role))
        user = self._target_user()
        ended = log_out_everywhere(user)
        db.session.commit()
        flash(ended.describe(user.username), "success")
        return redirect(url_for(".index_view"))

    @expose("/end-session/", methods=["POST"])
    def end_session_view(self):
        if not self.may_write():
            abort(403, role_needed(self.write_role))
        user = self._target_user()
        try:
            end_session_by_id(parse_id(request.form.get("session_id")) or 0, owner=user)
        except HeadwayError as exc:
            flash(str(exc), "error")
        else:
            flash(f"A session of {user.username} has ended.", "success")
        return redirect(url_for(".details_view", id=user.id))

    @expose("/revoke-token/", methods=["POST"])
    def revoke_token_view(self):
        if not self.may_write():
            abort(403, role_needed(self.write_role))
        user = self._target_user()
        try:
            record = revoke_token(
                parse_id(request.form.get("token_id")) or 0, owner=user
            )
        except HeadwayError as exc:
            flash(str(exc), "error")
        else:
            flash(f"API token {record.id} of {user.username} is revoked.", "success")
        return redirect(url_for(".details_view", id=user.id))
