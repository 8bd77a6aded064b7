"""The Account page: a logged-in user's own sessions and API tokens, a new
token (after re-entering the password), a new password, log out everywhere."""

from flask import current_app, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from app.auth.accounts import confirm_password, log_out_everywhere, set_password
from app.auth.admin_views import SecureViewMixin
from app.auth.forms import printable_only
from app.auth.sessions import end_session_by_id, sessions_of
from app.auth.throttle import TooManyAttempts
from app.auth.tokens import NAME_MAX_LENGTH, create_token, revoke_token, tokens_of
from app.clock import utcnow
from app.errors import HeadwayError
from app.extensions import db
from app.validation import parse_id

WRONG_PASSWORD = "That is not your current password."


# The expiry choices of a new token, in days (the configured default added).
TOKEN_DAYS = (7, 30, 90, 365)


def token_day_choices() -> list[tuple[int, str]]:
    days = sorted({*TOKEN_DAYS, current_app.config["API_TOKEN_DAYS"]})
    return [(d, f"in {d} day{'s' if d != 1 else ''}") for d in days]


class NewTokenForm(FlaskForm):
    name = StringField("Name", validators=[Length(max=NAME_MAX_LENGTH), printable_only])
    days = SelectField("Expires", coerce=int)
    password = PasswordField(
        "Your password", validators=[DataRequired(), Length(max=1024)]
    )


class NewPasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password", validators=[DataRequired(), Length(max=1024)]
    )
    new_password = PasswordField(
        "New password", validators=[DataRequired(), Length(max=1024)]
    )
    confirm = PasswordField(
        "New password again",
        validators=[EqualTo("new_password", message="The two new passwords differ.")],
    )


def new_token_form(**kwargs) -> NewTokenForm:
    """The new-token form, its expiry choices set, the configured default
    chosen."""
    form = NewTokenForm(**kwargs)
    form.days.choices = token_day_choices()
    if form.days.data is None:
        form.days.data = current_app.config["API_TOKEN_DAYS"]
    return form


def _address() -> str:
    return request.remote_addr or "unknown"


class AccountView(SecureViewMixin, BaseView):
    read_role = write_role = "viewer"

    def _page(self, token_form=None, password_form=None, new_token=None, status=200):
        user = current_user._get_current_object()
        page = self.render(
            "auth/account.html",
            sessions=sessions_of(user),
            current_session_id=user.session_id,
            tokens=tokens_of(user),
            now=utcnow(),
            token_form=token_form or new_token_form(formdata=None),
            password_form=password_form or NewPasswordForm(formdata=None),
            new_token=new_token,
        )
        return page, status

    @expose("/")
    def index(self):
        return self._page()

    @expose("/tokens/new", methods=["POST"])
    def new_token_view(self):
        form = new_token_form()
        if not form.validate_on_submit():
            return self._page(token_form=form, status=400)
        try:
            if not confirm_password(current_user, form.password.data, _address()):
                form.password.errors.append(WRONG_PASSWORD)
                return self._page(token_form=form, status=400)
            record, token = create_token(
                current_user, form.name.data or "", days=form.days.data
            )
        except TooManyAttempts as exc:
            form.password.errors.append(str(exc))
            return self._page(token_form=form, status=429)
        except HeadwayError as exc:
            form.name.errors.append(str(exc))
            return self._page(token_form=form, status=400)
        return self._page(new_token=(record, token))

    @expose("/tokens/revoke", methods=["POST"])
    def revoke_token_view(self):
        try:
            record = revoke_token(
                parse_id(request.form.get("token_id")) or 0, owner=current_user
            )
        except HeadwayError as exc:
            flash(str(exc), "error")
        else:
            flash(f"API token {record.id} is revoked.", "success")
        return redirect(url_for(".index"))

    @expose("/sessions/end", methods=["POST"])
    def end_session_view(self):
        try:
            end_session_by_id(
                parse_id(request.form.get("session_id")) or 0, owner=current_user
            )
        except HeadwayError as exc:
            flash(str(exc), "error")
        else:
            flash("The session has ended.", "success")
        return redirect(url_for(".index"))

    @expose("/log-out-everywhere", methods=["POST"])
    def log_out_everywhere_view(self):
        user = current_user._get_current_object()
        ended = log_out_everywhere(user)
        db.session.commit()
        logout_user()
        flash(f"Logged out everywhere: {ended.describe(user.username)}", "success")
        return redirect(url_for("auth.login"))

    @expose("/password", methods=["POST"])
    def password_view(self):
        form = NewPasswordForm()
        if not form.validate_on_submit():
            return self._page(password_form=form, status=400)
        user = current_user._get_current_object()
        try:
            if not confirm_password(user, form.current_password.data, _address()):
                form.current_password.errors.append(WRONG_PASSWORD)
                return self._page(password_form=form, status=400)
            ended = set_password(user, form.new_password.data)
        except TooManyAttempts as exc:
            form.current_password.errors.append(str(exc))
            return self._page(password_form=form, status=429)
        except HeadwayError as exc:
            form.new_password.errors.append(str(exc))
            return self._page(password_form=form, status=400)
        db.session.commit()
        logout_user()
        flash(
            f"Password changed: {ended.describe(user.username)} Log in again.",
            "success",
        )
        return redirect(url_for("auth.login"))
