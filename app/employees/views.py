"""The employee data admin: one view per legacy table, and the two SQL views
read-only. See base.py for what every view shares."""

import re

import sqlalchemy as sa
from flask_admin import Admin
from wtforms.validators import Length, Optional, ValidationError

from app.employees import filters as f
from app.employees.base import EmployeeDataView
from app.employees.counting import RowCount
from app.employees.sqlviews import CurrentDeptEmp, DeptEmpLatestDate
from app.extensions import db
from app.models import Department, DeptEmp, DeptManager, Employee, Salary, Title

CATEGORY = "Employees"
EMPLOYEE_NUMBER = "Employee number"


# One @, no spaces, a dot in the domain: what an address needs to be one; a
# stricter check would refuse real ones (and the real check is a mail sent).
EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


def email_address(form, field) -> None:
    if field.data and not EMAIL.fullmatch(field.data):
        raise ValidationError("This is not an email address (name@example.com).")


def count_of(condition) -> sa.ScalarSelect:
    """The number of rows of a table meeting condition, as a correlated
    column (EmployeeDataView.cascade_columns)."""
    return sa.select(sa.func.count()).where(condition).scalar_subquery()


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
    # Each on an index: last_name (0003), (first_name, last_name) (0004),
    # whose order a first-name sort follows to page on it.
    sort_columns = ("first_name", "last_name")
    sort_paths = {"first_name": ("first_name", "last_name")}
    unsortable_reasons = {
        "email": "indexed, but empty for most rows, which can't be paged in order"
    }
    noun = "employee"
    cascades = ("salaries", "titles", "department and manager assignments")
    search_help = "Employee number, first or last name, or both"
    form_args = {
        "email": {
            "validators": [Optional(), Length(max=255), email_address],
            "filters": [lambda value: (value or "").strip() or None],
            "description": "An address such as name@example.com, or empty.",
        }
    }
    details_template = "employees/employee_details.html"
    column_filters = [
        f.equals(EMPLOYEE_NUMBER, Employee.emp_no),
        f.prefix("First name", Employee.first_name),
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

    def record_label(self, employee: Employee) -> str:
        if employee.emp_no is None:
            return "The new employee"
        return f"Employee {employee.emp_no} {employee.first_name} {employee.last_name}"

    def search_condition(self, term: str) -> sa.ColumnElement:
        number = f.typed_number(term)
        if number is not None:
            return f.number_matches(Employee.emp_no, number)
        return f.name_matches(Employee.first_name, Employee.last_name, term)

    def search_query(self, query, term: str):
        query = super().search_query(query, term)
        if f.typed_number(term) is None and f.is_full_name(term):
            # MariaDB cannot tell how few rows a first name AND a last name
            # select, and walks the primary key in the list's order instead
            # of the name index: 240 ms for "Georgi Facello" at 300,000
            # employees, 6 ms with the index's range and a sort of its rows
            # (bench/employees.py prints both plans).
            query = query.with_hint(Employee, f.FULL_NAME_HINT, "mysql")
        return query

    def narrowed_count(self, query, search, filters):
        term = (search or "").strip()
        if filters or not term or f.typed_number(term) is not None:
            return super().narrowed_count(query, search, filters)
        if f.is_full_name(term):
            return super().narrowed_count(query, search, filters)
        total = db.session.execute(
            f.one_name_count(Employee.first_name, Employee.last_name, term)
        ).scalar()
        return RowCount(int(total or 0))

    def cascade_columns(self) -> list:
        return [
            ("salary", count_of(Salary.emp_no == Employee.emp_no)),
            ("title", count_of(Title.emp_no == Employee.emp_no)),
            ("department assignment", count_of(DeptEmp.emp_no == Employee.emp_no)),
            ("manager assignment", count_of(DeptManager.emp_no == Employee.emp_no)),
        ]

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

    def record_label(self, department: Department) -> str:
        if department.dept_no is None:
            return "The new department"
        return f"Department {department.dept_no} {department.dept_name}"

    def cascade_columns(self) -> list:
        return [
            (
                "department assignment",
                count_of(DeptEmp.dept_no == Department.dept_no),
            ),
            (
                "manager assignment",
                count_of(DeptManager.dept_no == Department.dept_no),
            ),
        ]

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
                flt1_period_is="current",
            ),
        }


class OfAnEmployee:
    """A row of an employee's history, named after the employee and its
    period: "Salary of employee 10001 from 1986-06-26"."""

    def record_label(self, row) -> str:
        if row.emp_no is None:
            return f"The new {self.noun}"
        what = self.noun[:1].upper() + self.noun[1:]
        if getattr(row, "title", None):
            what = f"Title {row.title}"
        if getattr(row, "dept_no", None):
            return f"{what} of employee {row.emp_no} to {row.dept_no}"
        return f"{what} of employee {row.emp_no} from {row.from_date}"


class SalaryView(OfAnEmployee, EmployeeDataView):
    column_list = ("emp_no", "salary", "from_date", "to_date")
    form_columns = column_list
    # Each row is one period's salary (an employee's current one is the row
    # to 9999-01-01): the heading says so, the number reads as on the
    # employee's page.
    column_labels = {"salary": "Salary of the period"}
    column_formatters = {"salary": lambda view, context, row, name: f"{row.salary:,}"}
    noun = "salary"
    search_help = "emp_no"
    column_filters = [
        f.equals(EMPLOYEE_NUMBER, Salary.emp_no),
        *f.int_range("Salary", Salary.salary),
        *f.date_range("From", Salary.from_date),
        f.current(Salary.to_date),
    ]


class TitleView(OfAnEmployee, EmployeeDataView):
    column_list = ("emp_no", "title", "from_date", "to_date")
    form_columns = column_list
    noun = "title"
    search_help = "emp_no"
    column_filters = [
        f.equals(EMPLOYEE_NUMBER, Title.emp_no),
        f.choice("Title", lambda title: Title.title == title, f.title_options),
        f.current(Title.to_date),
    ]


def _assignment_filters(model) -> list:
    return [
        f.equals(EMPLOYEE_NUMBER, model.emp_no),
        f.choice(
            "Department", lambda dept_no: model.dept_no == dept_no, f.department_options
        ),
        f.current(model.to_date),
    ]


class DeptEmpView(OfAnEmployee, EmployeeDataView):
    column_list = ("emp_no", "dept_no", "from_date", "to_date")
    form_columns = column_list
    sort_columns = ("dept_no",)
    noun = "department assignment"
    search_help = "emp_no"
    column_filters = _assignment_filters(DeptEmp)


class DeptManagerView(OfAnEmployee, EmployeeDataView):
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
        f.equals(EMPLOYEE_NUMBER, CurrentDeptEmp.emp_no),
        f.choice(
            "Department",
            lambda dept_no: CurrentDeptEmp.dept_no == dept_no,
            f.department_options,
        ),
    ]


class DeptEmpLatestDateView(SqlViewView):
    column_list = ("emp_no", "from_date", "to_date")
    column_filters = [f.equals(EMPLOYEE_NUMBER, DeptEmpLatestDate.emp_no)]


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
