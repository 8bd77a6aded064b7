import time
from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from app.auth.accounts import TooManyAttempts, authenticate
from app.auth.forms import LoginForm

bp = Blueprint("auth", __name__)

GENERIC_FAILURE = "Wrong username or password, or the account is locked for now."


def safe_next() -> str | None:
    """The `next` target when it is a path on this site, else None."""
    target = request.args.get("next", "")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in target):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(safe_next() or url_for("admin.index"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form)
    try:
        user = authenticate(
            form.username.data, form.password.data, request.remote_addr or "unknown"
        )
    except TooManyAttempts as exc:
        return render_template("auth/login.html", form=form, error=str(exc)), 429
    if user is None:
        return render_template("auth/login.html", form=form, error=GENERIC_FAILURE)
    # A fresh session: nothing from before the login carries over.
    session.clear()
    login_user(user)
    session["login_at"] = time.time()
    return redirect(safe_next() or url_for("admin.index"))


@bp.post("/logout")
def logout():
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))
