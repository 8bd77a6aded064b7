"""The secured Flask-Admin base views: every view behind login, with a read
role and a write role, the site's one redirect rule, and checked list and key
arguments. Every admin view of Headway derives from these."""

import sqlalchemy as sa
from flask import abort, redirect, request
from flask_admin import AdminIndexView
from flask_admin.contrib.sqla import ModelView, tools
from flask_login import current_user

from app.auth.security import (
    login_url,
    role_needed,
    safe_redirect_target,
)
from app.validation import parse_integer

# Flask-Admin view methods that change data (or show a form to).
WRITE_VIEWS = frozenset(
    {"create_view", "edit_view", "delete_view", "action_view", "ajax_update"}
)
# Far beyond any real list, and small enough that page × page size stays a
# valid OFFSET on every database.
MAX_PAGE = 10**9


class SecureViewMixin:
    """Who may see a view (read_role) and change through it (write_role)."""

    read_role = "viewer"
    write_role = "operator"
    write_views = WRITE_VIEWS

    def is_accessible(self) -> bool:
        # Asked once per menu item on every page: the proxy resolved once.
        user = current_user._get_current_object()
        return user.is_authenticated and user.has_role(self.read_role)

    def inaccessible_callback(self, name, **kwargs):
        if not current_user.is_authenticated:
            return redirect(login_url())
        abort(403, role_needed(self.read_role))

    def may_write(self) -> bool:
        return current_user.is_authenticated and current_user.has_role(self.write_role)

    def _handle_view(self, name, **kwargs):
        if not self.is_accessible():
            return self.inaccessible_callback(name, **kwargs)
        if name in self.write_views and not self.may_write():
            abort(403, role_needed(self.write_role))
        # Flask-Admin redirects to its `url=` argument after a save, a delete,
        # an action or an export, and its own check lets `http:evil.example`
        # through: the site's rule applies instead.
        target = request.values.get("url")
        if target and safe_redirect_target(target) is None:
            abort(400, "The return address (url=) must be a path on this site.")
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

    def export_url(self, export_type: str) -> str:
        """The export link, with the list's arguments. Not `export_type` from
        the query string (it would clash with the one given) nor names that
        start with "_" (url_for's own options, such as `_scheme`)."""
        args = {
            name: value
            for name, value in request.args.items()
            if name != "export_type" and not name.startswith("_")
        }
        return self.get_url(".export", export_type=export_type, **args)

    def _get_list_extra_args(self):
        args = super()._get_list_extra_args()
        if not 0 <= args.page <= MAX_PAGE:
            abort(400, f"The page number must be from 0 to {MAX_PAGE}.")
        # The list repeats its other arguments in every link it builds with
        # url_for, which takes names starting with "_" (`_method`, `_scheme`)
        # as its own options: a query string must not set them.
        args.extra_args = {
            name: value
            for name, value in args.extra_args.items()
            if not name.startswith("_")
        }
        return args

    def get_one(self, id):
        """The record whose key is `id`, or None when `id` cannot be one (a
        wrong number of parts, `?id=1,2`; a number out of range)."""
        key = tools.iterdecode(id)
        columns = self.model.__mapper__.primary_key
        if len(key) != len(columns):
            return None
        for value, column in zip(key, columns, strict=True):
            if isinstance(column.type, sa.Integer) and parse_integer(value) is None:
                return None
        return super().get_one(id)
