"""The employee data admin: one view per legacy table, and the two SQL views
read-only. See base.py for what every view shares."""

import sqlalchemy as sa
from flask_admin import Admin

from app.employees import filters as f
from app.employees.base import EmployeeDataView
from app.employees.sqlviews import CurrentDeptEmp, DeptEmpLatestDate
from app.extensions import db
from app.models import Department, DeptEmp, DeptManager, Employee, Salary, Title

CATEGORY = "Employees"


def grouped_counts(model, column, keys) -> dict:
    """{key: number of `model` rows whose `column` is key}, in one query."""
    if not keys:
        return {}
    rows = db.session.execute(
        sa.select(column, sa.func.count()).where(column.in_(keys)).group_by(column)
    )
    return dict(rows.all())


def is_current(to_date) -> bool:
    return to_date is None or to_date == f.OPEN_END


def current_of(rows):
    """The row of a history that has not ended (the latest one if several)."""
    current = [r for r in rows if is_current(r.to_date)]
    return current[-1] if current else None


class EmployeeView(EmployeeDataView):
    column_list = (
        "emp_no",
        "first_name",
        "last_name",
        "gender",
        "birth_date",
        "hire_date",
        "email",
    )
    form_columns = column_list
    sort_columns = ("last_name",)
    noun = "employee"
    cascades = ("salaries", "titles", "department and manager assignments")
    search_help = "emp_no, or the start of a last name"
    details_template = "employees/employee_details.html"
    column_filters = [
        f.equals("emp_no", Employee.emp_no),
        f.prefix("Last name", Employee.last_name),
        f.choice(
            "Department",
            lambda dept_no: sa.exists().where(
                DeptEmp.emp_no == Employee.emp_no, DeptEmp.dept_no == dept_no
            ),
            f.department_options,
        ),
        f.choice(
            "Title",
            lambda title: sa.exists().where(
                Title.emp_no == Employee.emp_no, Title.title == title
            ),
            f.title_options,
        ),
        *f.date_range("Hire date", Employee.hire_date),
    ]

    def search_condition(self, term: str) -> sa.ColumnElement:
        number = f.typed_number(term)
        if number is not None:
            return f.number_matches(Employee.emp_no, number)
        return f.starts_with(Employee.last_name, term)

    def cascade_counts(self, rows) -> dict:
        keys = [r.emp_no for r in rows]
        tables = [
            (Salary, "salary"),
            (Title, "title"),
            (DeptEmp, "department assignment"),
            (DeptManager, "manager assignment"),
        ]
        counts = {m: grouped_counts(m, m.emp_no, keys) for m, _ in tables}
        return {
            self.get_pk_value(r): [(counts[m].get(r.emp_no, 0), n) for m, n in tables]
            for r in rows
        }

    def details_extra(self, employee: Employee) -> dict:
        departments = employee.department_assignments
        return {
            "current_department": current_of(departments),
            "current_title": current_of(employee.titles),
            "current_salary": current_of(employee.salaries),
            "histories": [
                ("Departments", "dept_emp", departments, ("dept_no",)),
                ("Titles", "title", employee.titles, ("title",)),
                ("Salaries", "salary", employee.salaries, ("salary",)),
                (
                    "Managed departments",
                    "dept_manager",
                    employee.manager_assignments,
                    ("dept_no",),
                ),
            ],
            "is_current": is_current,
        }


class DepartmentView(EmployeeDataView):
    column_list = ("dept_no", "dept_name")
    form_columns = column_list
    sort_columns = ("dept_name",)
    noun = "department"
    cascades = ("employee and manager assignments",)
    search_help = None
    details_template = "employees/department_details.html"

    def cascade_counts(self, rows) -> dict:
        keys = [r.dept_no for r in rows]
        tables = [
            (DeptEmp, "department assignment"),
            (DeptManager, "manager assignment"),
        ]
        counts = {m: grouped_counts(m, m.dept_no, keys) for m, _ in tables}
        return {
            self.get_pk_value(r): [(counts[m].get(r.dept_no, 0), n) for m, n in tables]
            for r in rows
        }

    def details_extra(self, department: Department) -> dict:
        head_count = db.session.execute(
            sa.select(sa.func.count()).where(
                DeptEmp.dept_no == department.dept_no, DeptEmp.to_date == f.OPEN_END
            )
        ).scalar()
        managers = db.session.execute(
            sa.select(DeptManager, Employee)
            .join(Employee, Employee.emp_no == DeptManager.emp_no)
            .where(DeptManager.dept_no == department.dept_no)
            .order_by(DeptManager.from_date)
        ).all()
        return {
            "head_count": head_count,
            "managers": managers,
            "is_current": is_current,
            "employees_url": self.get_url(
                "employee.index_view", flt0_department_is=department.dept_no
            ),
            "assignments_url": self.get_url(
                "dept_emp.index_view",
                flt0_department_is=department.dept_no,
                flt1_rows_are="current",
            ),
        }


class SalaryView(EmployeeDataView):
    column_list = ("emp_no", "salary", "from_date", "to_date")
    form_columns = column_list
    noun = "salary"
    search_help = "emp_no"
    column_filters = [
        f.equals("emp_no", Salary.emp_no),
        *f.int_range("Salary", Salary.salary),
        *f.date_range("From", Salary.from_date),
        f.current(Salary.to_date),
    ]


class TitleView(EmployeeDataView):
    column_list = ("emp_no", "title", "from_date", "to_date")
    form_columns = column_list
    noun = "title"
    search_help = "emp_no"
    column_filters = [
        f.equals("emp_no", Title.emp_no),
        f.choice("Title", lambda title: Title.title == title, f.title_options),
        f.current(Title.to_date),
    ]


def _assignment_filters(model) -> list:
    return [
        f.equals("emp_no", model.emp_no),
        f.choice(
            "Department", lambda dept_no: model.dept_no == dept_no, f.department_options
        ),
        f.current(model.to_date),
    ]


class DeptEmpView(EmployeeDataView):
    column_list = ("emp_no", "dept_no", "from_date", "to_date")
    form_columns = column_list
    sort_columns = ("dept_no",)
    noun = "department assignment"
    search_help = "emp_no"
    column_filters = _assignment_filters(DeptEmp)


class DeptManagerView(EmployeeDataView):
    column_list = ("emp_no", "dept_no", "from_date", "to_date")
    form_columns = column_list
    # A small table (two dozen rows): every column may be sorted.
    sort_columns = ("dept_no", "from_date", "to_date")
    noun = "manager assignment"
    search_help = "emp_no"
    column_filters = _assignment_filters(DeptManager)


class SqlViewView(EmployeeDataView):
    """A SQL view: read only. Its rows are estimated from `employees`'s
    statistics (about one row per employee): a view has none of its own."""

    allow_create = allow_edit = allow_delete = False
    estimate_table = "employees"
    search_help = "emp_no"


class CurrentDeptEmpView(SqlViewView):
    column_list = ("emp_no", "dept_no", "from_date", "to_date")
    column_filters = [
        f.equals("emp_no", CurrentDeptEmp.emp_no),
        f.choice(
            "Department",
            lambda dept_no: CurrentDeptEmp.dept_no == dept_no,
            f.department_options,
        ),
    ]


class DeptEmpLatestDateView(SqlViewView):
    column_list = ("emp_no", "from_date", "to_date")
    column_filters = [f.equals("emp_no", DeptEmpLatestDate.emp_no)]


def add_employee_views(admin: Admin) -> None:
    views = [
        (EmployeeView, Employee, "Employees", "employee"),
        (DepartmentView, Department, "Departments", "department"),
        (DeptEmpView, DeptEmp, "Department assignments", "dept_emp"),
        (DeptManagerView, DeptManager, "Department managers", "dept_manager"),
        (TitleView, Title, "Titles", "title"),
        (SalaryView, Salary, "Salaries", "salary"),
        (
            CurrentDeptEmpView,
            CurrentDeptEmp,
            "current_dept_emp (view)",
            "current_dept_emp",
        ),
        (
            DeptEmpLatestDateView,
            DeptEmpLatestDate,
            "dept_emp_latest_date (view)",
            "dept_emp_latest_date",
        ),
    ]
    for view_class, model, name, endpoint in views:
        admin.add_view(
            view_class(model, db, name=name, endpoint=endpoint, category=CATEGORY)
        )
