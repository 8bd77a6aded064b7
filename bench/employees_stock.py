"""The app as deployed (wsgi:app) plus Flask-Admin's stock ModelView on the same
tables, for bench/employees.py to time side by side in one gunicorn.

The stock views keep Flask-Admin's defaults (COUNT(*) on every page, LIMIT /
OFFSET pages of 20 rows, sort by primary key), with two additions so that the
pages the bench compares exist at all: a details page (`can_view_details`) and
a search over last_name (`column_searchable_list`, Flask-Admin's only way to
search). Login is the app's own (its default deny covers every route).
"""

from flask_admin.contrib.sqla import ModelView

from app.extensions import db
from app.models import Employee, Salary
from wsgi import app

admin = app.extensions["admin"][0]
admin.add_view(
    ModelView(
        Salary, db, name="Stock salaries", endpoint="stock_salary", category="Stock"
    )
)


class StockEmployeeView(ModelView):
    can_view_details = True
    column_searchable_list = ["last_name"]


admin.add_view(
    StockEmployeeView(
        Employee,
        db,
        name="Stock employees",
        endpoint="stock_employee",
        category="Stock",
    )
)
