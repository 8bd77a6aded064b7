"""The secured Flask-Admin base views: every view behind login, with a read
role and a write role. Every admin view of Headway derives from these."""

from flask import abort, redirect
from flask_admin import AdminIndexView
from flask_admin.contrib.sqla import ModelView
from flask_login import current_user

from app.auth.security import login_url

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
