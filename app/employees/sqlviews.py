"""The legacy database's two SQL views, mapped read-only for the admin, and
read from the table under them.

The views group `dept_emp` by employee. MariaDB computes such a view whole
(a derived table of 300,000 groups at the real size) before it applies a
page's WHERE, ORDER BY and LIMIT: about a second a page, and an export that
reads it in batches computes it once per batch. So the admin maps each view
to an equivalent SELECT on `dept_emp` without a GROUP BY: each row's latest
dates are correlated subqueries on the primary key (emp_no, dept_no), which
the database merges into the page's own query and runs row by row along the
primary key, stopping at the LIMIT. The rows are the views' rows (the tests
compare them); the views stay in the database, untouched.

They live on a MetaData of their own, not on db.Model's: Alembic compares
db.Model's metadata with the database, and would otherwise take them for
tables to create. The mapper needs a primary key; these are the columns that
identify a row of each view.
"""

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.models import DeptEmp


class SqlViewBase(so.DeclarativeBase):
    metadata = sa.MetaData()


def _latest(column: str, assignment) -> sa.ScalarSelect:
    """The latest `column` (from_date or to_date) of the employee of
    `assignment` (a row of dept_emp): one index range on the primary key."""
    other = DeptEmp.__table__.alias(f"latest_{column}")
    return (
        sa.select(sa.func.max(other.c[column]))
        .where(other.c.emp_no == assignment.c.emp_no)
        .scalar_subquery()
    )


def current_dept_emp_select() -> sa.Subquery:
    """current_dept_emp: the dept_emp rows that hold their employee's latest
    from_date and latest to_date, as the view joins dept_emp_latest_date."""
    d = DeptEmp.__table__.alias("d")
    return (
        sa.select(d.c.emp_no, d.c.dept_no, d.c.from_date, d.c.to_date)
        .where(
            d.c.from_date == _latest("from_date", d),
            d.c.to_date == _latest("to_date", d),
        )
        .subquery("current_dept_emp")
    )


def dept_emp_latest_date_select() -> sa.Subquery:
    """dept_emp_latest_date: one row per employee of dept_emp (the one with
    the smallest dept_no stands for the employee) with the latest dates."""
    d = DeptEmp.__table__.alias("d")
    first = DeptEmp.__table__.alias("first_assignment")
    first_dept_no = (
        sa.select(sa.func.min(first.c.dept_no))
        .where(first.c.emp_no == d.c.emp_no)
        .scalar_subquery()
    )
    return (
        sa.select(
            d.c.emp_no,
            _latest("from_date", d).label("from_date"),
            _latest("to_date", d).label("to_date"),
        )
        .where(d.c.dept_no == first_dept_no)
        .subquery("dept_emp_latest_date")
    )


class CurrentDeptEmp(SqlViewBase):
    """current_dept_emp: each employee's latest department assignment."""

    __table__ = current_dept_emp_select()
    __mapper_args__ = {"primary_key": [__table__.c.emp_no, __table__.c.dept_no]}


class DeptEmpLatestDate(SqlViewBase):
    """dept_emp_latest_date: the dates of each employee's latest assignment."""

    __table__ = dept_emp_latest_date_select()
    __mapper_args__ = {"primary_key": [__table__.c.emp_no]}
