from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from app.auth.accounts import authenticate
from app.auth.forms import LoginForm
from app.auth.security import safe_redirect_target
from app.auth.sessions import end_session, start_session
from app.auth.throttle import TooManyAttempts

bp = Blueprint("auth", __name__)

GENERIC_FAILURE = "Wrong username or password, or the account is locked for now."


def safe_next() -> str | None:
    return safe_redirect_target(request.args.get("next"))


def client_address() -> str:
    return request.remote_addr or "unknown"


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(safe_next() or url_for("admin.index"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form)
    try:
        user = authenticate(form.username.data, form.password.data, client_address())
    except TooManyAttempts as exc:
        page = render_template("auth/login.html", form=form, error=str(exc))
        return page, 429, {"Retry-After": str(exc.retry_after)}
    if user is None:
        return render_template("auth/login.html", form=form, error=GENERIC_FAILURE)
    # A fresh session: nothing from before the login carries over.
    session.clear()
    start_session(user, client_address(), request.headers.get("User-Agent", ""))
    login_user(user)
    return redirect(safe_next() or url_for("admin.index"))


@bp.post("/logout")
def logout():
    if current_user.is_authenticated and current_user.session_secret:
        end_session(current_user.session_secret)
    was_logged_in = current_user.is_authenticated
    logout_user()
    session.clear()
    if was_logged_in:
        flash("You are logged out.", "success")
    return redirect(url_for("auth.login"))
