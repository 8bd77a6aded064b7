"""The Flask-Admin site: every view behind login, with per-role writes."""

from flask import Flask
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme

from app.auth.account_page import AccountView
from app.auth.security import csp_nonce
from app.auth.user_admin import UserView
from app.dbadmin.web.views import MigrationsView
from app.employees.views import add_employee_views
from app.extensions import db
from app.home import HomeView
from app.models import User
from app.navigation import init_navigation


def init_admin(app: Flask) -> Admin:
    # Built per app: Flask-Admin's Admin holds its views (see docs/stack.md).
    admin = Admin(
        app,
        name="Headway",
        theme=Bootstrap4Theme(swatch="default"),
        index_view=HomeView(url="/admin"),
        csp_nonce_generator=csp_nonce,
    )
    init_navigation(app)
    add_employee_views(admin)
    admin.add_view(UserView(User, db, name="Users", endpoint="users"))
    admin.add_view(AccountView(name="Account", endpoint="account", url="account"))

    admin.add_view(
        MigrationsView(name="Migrations", endpoint="migrations", url="migrations")
    )
    return admin
