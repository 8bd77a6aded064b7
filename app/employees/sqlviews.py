"""The legacy database's two SQL views, mapped read-only for the admin.

They live on a MetaData of their own, not on db.Model's: Alembic compares
db.Model's metadata with the database, and would otherwise take the views for
tables to create. The mapper needs a primary key; these are the columns that
identify a row of each view.
"""

from datetime import date

import sqlalchemy as sa
import sqlalchemy.orm as so


class SqlViewBase(so.DeclarativeBase):
    metadata = sa.MetaData()


class CurrentDeptEmp(SqlViewBase):
    """current_dept_emp: each employee's latest department assignment."""

    __tablename__ = "current_dept_emp"

    emp_no: so.Mapped[int] = so.mapped_column(sa.Integer, primary_key=True)
    dept_no: so.Mapped[str] = so.mapped_column(sa.CHAR(4), primary_key=True)
    from_date: so.Mapped[date] = so.mapped_column(sa.Date)
    to_date: so.Mapped[date] = so.mapped_column(sa.Date)


class DeptEmpLatestDate(SqlViewBase):
    """dept_emp_latest_date: the dates of each employee's latest assignment."""

    __tablename__ = "dept_emp_latest_date"

    emp_no: so.Mapped[int] = so.mapped_column(sa.Integer, primary_key=True)
    from_date: so.Mapped[date] = so.mapped_column(sa.Date)
    to_date: so.Mapped[date] = so.mapped_column(sa.Date)
