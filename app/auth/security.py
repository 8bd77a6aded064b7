"""The security baseline: default deny, roles, CSRF, sessions, headers.

Every request passes `guard` first. Only the login page, the probes and static
files are open; everything else needs a logged-in user (a session cookie) or,
under /api/, a bearer token, and the role its view asks for. Pages send an
anonymous visitor to the login page; JSON routes answer 401/403 as JSON.
"""

import hashlib
import secrets
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Flask, current_app, g, jsonify, redirect, request, url_for
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import Forbidden
from werkzeug.middleware.proxy_fix import ProxyFix

from app.auth.sessions import user_for_session
from app.auth.tokens import user_for_token
from app.models.accounts import ROLES, User
from app.validation import IdConverter

# Unbound, like app/extensions.py's (see its docstring for why they are here).
login_manager = LoginManager()
csrf = CSRFProtect()
PUBLIC_ENDPOINTS = frozenset({"auth.login", "main.healthz", "main.readyz"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def init_security(app: Flask) -> None:
    app.url_map.converters["id"] = IdConverter
    login_manager.init_app(app)
    login_manager.session_protection = app.config["SESSION_PROTECTION"]
    login_manager._session_identifier_generator = session_identifier
    csrf.init_app(app)
    app.before_request(guard)
    app.after_request(security_headers)
    proxies = {
        name: app.config[f"PROXY_FIX_{name.upper()}"]
        for name in ("x_for", "x_proto", "x_host")
    }
    if any(proxies.values()):
        app.wsgi_app = ProxyFix(app.wsgi_app, **proxies)


def session_identifier() -> str:
    """What binds a login session to its browser (Flask-Login's session
    protection): the client's address and user agent. Flask-Login's own
    generator takes the address from a raw X-Forwarded-For header, which any
    client can send: a stolen cookie replayed with the victim's address in it
    would pass. Here the address is the peer's, or what ProxyFix made of the
    header when HEADWAY_PROXY_FIX_X_FOR says a proxy sets it."""
    agent = request.headers.get("User-Agent", "")
    base = f"{request.remote_addr}|{agent}"
    return hashlib.sha512(base.encode("utf-8", "replace")).hexdigest()


def requires_role(role: str) -> Callable:
    """Mark a view as needing at least `role` (the default is viewer)."""
    assert role in ROLES, role

    def decorate(view: Callable) -> Callable:
        view.required_role = role
        return view

    return decorate


@login_manager.user_loader
def load_user(session_secret: str) -> User | None:
    """The cookie names a server-side session record; no record, no user."""
    return user_for_session(session_secret)


@login_manager.request_loader
def load_user_from_bearer_token(req) -> User | None:
    if not req.path.startswith("/api/"):
        return None
    scheme, _, token = req.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    user = user_for_token(token.strip())
    if user is not None:
        g.bearer_auth = True
    else:
        g.bearer_refused = True
    return user


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path in ("/healthz", "/readyz")


def is_public(endpoint: str) -> bool:
    return endpoint in PUBLIC_ENDPOINTS or is_static(endpoint)


def safe_redirect_target(target: str | None) -> str | None:
    """`target` when it is a path on this site, else None: the one rule for
    every redirect a request can ask for (`next=` after login, Flask-Admin's
    `url=`). Browsers read `http:evil.example`, `//evil.example` and
    `/\\evil.example` as other sites; none of them passes."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def login_url() -> str:
    target = request.full_path if request.query_string else request.path
    return url_for("auth.login", next=target)


def role_needed(role: str) -> str:
    """What a 403 page says: the role needed, and the user's own."""
    mine = current_user.role
    return f"This needs the {role} role; you are {_article(mine)} {mine}."


def _article(word: str) -> str:
    return "an" if word[:1] in ("a", "e", "i", "o", "u") else "a"


def deny(status: int, role: str = "viewer"):
    if wants_json():
        message = "login required" if status == 401 else "forbidden"
        return jsonify(error=message), status
    if status == 401:
        return redirect(login_url())
    raise Forbidden(role_needed(role))


def is_static(endpoint: str) -> bool:
    """A file: static files and the favicon's address."""
    return endpoint in ("static", "main.favicon") or endpoint.endswith(".static")


def guard():
    endpoint = request.endpoint
    if endpoint is not None and is_static(endpoint):
        # Files need no user: never a database query (the error page's
        # stylesheet must load while the database is down).
        return None
    user = current_user._get_current_object()  # runs the loaders
    if g.get("bearer_refused"):
        # A token that is wrong, expired or revoked: that is the answer, on
        # a POST too (not the CSRF check a browser's request would get).
        response = jsonify(error="invalid, expired or revoked API token")
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response, 401
    # Cookie-authenticated state changes need a CSRF token; a bearer token is
    # not sent by browsers on their own, so it needs none.
    if request.method not in SAFE_METHODS and not g.get("bearer_auth"):
        csrf.protect()
    if endpoint is None or is_public(endpoint):
        return None
    if not user.is_authenticated:
        return deny(401)
    view = current_app.view_functions.get(endpoint)
    role = getattr(view, "required_role", "viewer")
    if not user.has_role(role):
        return deny(403, role)
    return None


def csp_nonce() -> str:
    """The nonce that lets this response's own <script> tags run."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def security_headers(response):
    script_src = "'self'"
    if "csp_nonce" in g:
        script_src += f" 'nonce-{g.csp_nonce}'"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src {script_src}; "
        # Inline style attributes (no script) in Flask-Admin's templates.
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint is None or not is_public(request.endpoint):
        # Pages with payroll data and schema state are not for shared caches.
        response.headers.setdefault("Cache-Control", "no-store")
    if current_app.config["SESSION_COOKIE_SECURE"]:
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    return response
