"""The existing employees schema, mapped exactly as the database has it.

Every name, type, length, nullability, key and ON DELETE rule here matches the
legacy DDL (docs: ../shared/legacy/existing-schema.md), so that Alembic's
comparison against the live database finds nothing. Only `employees.email`
(revision 0002_employee_email), the index on `employees.last_name` (revision
0003_employee_last_name_index) and the one on (first_name, last_name)
(revision 0004_employee_name_index) are new.
"""

from datetime import date

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db

GENDERS = ("M", "F")


class Employee(db.Model):
    __tablename__ = "employees"
    # By 0004: the admin's search by first name or full name, and its sort.
    __table_args__ = (
        sa.Index("ix_employees_first_name_last_name", "first_name", "last_name"),
    )

    # A plain INT key: the legacy table has no AUTO_INCREMENT.
    emp_no: so.Mapped[int] = so.mapped_column(
        sa.Integer, primary_key=True, autoincrement=False
    )
    birth_date: so.Mapped[date] = so.mapped_column(sa.Date)
    first_name: so.Mapped[str] = so.mapped_column(sa.String(14))
    # Indexed by 0003: the admin's last-name prefix search and sort.
    last_name: so.Mapped[str] = so.mapped_column(sa.String(16), index=True)
    gender: so.Mapped[str] = so.mapped_column(
        sa.Enum(*GENDERS, name="gender", create_constraint=True)
    )
    hire_date: so.Mapped[date] = so.mapped_column(sa.Date)
    email: so.Mapped[str | None] = so.mapped_column(sa.String(255), index=True)

    salaries: so.Mapped[list["Salary"]] = so.relationship(
        back_populates="employee",
        order_by="Salary.from_date",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    titles: so.Mapped[list["Title"]] = so.relationship(
        back_populates="employee",
        order_by="Title.from_date",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    department_assignments: so.Mapped[list["DeptEmp"]] = so.relationship(
        back_populates="employee",
        order_by="DeptEmp.from_date",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    manager_assignments: so.Mapped[list["DeptManager"]] = so.relationship(
        back_populates="employee",
        order_by="DeptManager.from_date",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    departments: so.Mapped[list["Department"]] = so.relationship(
        secondary="dept_emp", viewonly=True, order_by="Department.dept_no"
    )

    def __repr__(self) -> str:
        return f"<Employee {self.emp_no} {self.first_name} {self.last_name}>"


class Department(db.Model):
    __tablename__ = "departments"

    dept_no: so.Mapped[str] = so.mapped_column(sa.CHAR(4), primary_key=True)
    # Unnamed on purpose: MySQL names such a key after its column (the legacy
    # `dept_name`), SQLite leaves it unnamed, and Alembic then compares it by
    # its columns on both.
    dept_name: so.Mapped[str] = so.mapped_column(sa.String(40), unique=True)

    employee_assignments: so.Mapped[list["DeptEmp"]] = so.relationship(
        back_populates="department", passive_deletes=True
    )
    manager_assignments: so.Mapped[list["DeptManager"]] = so.relationship(
        back_populates="department",
        order_by="DeptManager.from_date",
        passive_deletes=True,
    )
    employees: so.Mapped[list[Employee]] = so.relationship(
        secondary="dept_emp", viewonly=True
    )
    managers: so.Mapped[list[Employee]] = so.relationship(
        secondary="dept_manager", viewonly=True
    )

    def __repr__(self) -> str:
        return f"<Department {self.dept_no} {self.dept_name}>"


def _emp_no_fk() -> sa.ForeignKey:
    return sa.ForeignKey("employees.emp_no", ondelete="CASCADE")


def _dept_no_fk() -> sa.ForeignKey:
    return sa.ForeignKey("departments.dept_no", ondelete="CASCADE")


class DeptEmp(db.Model):
    __tablename__ = "dept_emp"

    emp_no: so.Mapped[int] = so.mapped_column(
        sa.Integer, _emp_no_fk(), primary_key=True, autoincrement=False
    )
    dept_no: so.Mapped[str] = so.mapped_column(
        sa.CHAR(4), _dept_no_fk(), primary_key=True
    )
    from_date: so.Mapped[date] = so.mapped_column(sa.Date)
    to_date: so.Mapped[date] = so.mapped_column(sa.Date)

    employee: so.Mapped[Employee] = so.relationship(
        back_populates="department_assignments"
    )
    department: so.Mapped[Department] = so.relationship(
        back_populates="employee_assignments"
    )


class DeptManager(db.Model):
    __tablename__ = "dept_manager"

    emp_no: so.Mapped[int] = so.mapped_column(
        sa.Integer, _emp_no_fk(), primary_key=True, autoincrement=False
    )
    dept_no: so.Mapped[str] = so.mapped_column(
        sa.CHAR(4), _dept_no_fk(), primary_key=True
    )
    from_date: so.Mapped[date] = so.mapped_column(sa.Date)
    to_date: so.Mapped[date] = so.mapped_column(sa.Date)

    employee: so.Mapped[Employee] = so.relationship(
        back_populates="manager_assignments"
    )
    department: so.Mapped[Department] = so.relationship(
        back_populates="manager_assignments"
    )


class Title(db.Model):
    __tablename__ = "titles"

    emp_no: so.Mapped[int] = so.mapped_column(
        sa.Integer, _emp_no_fk(), primary_key=True, autoincrement=False
    )
    title: so.Mapped[str] = so.mapped_column(sa.String(50), primary_key=True)
    from_date: so.Mapped[date] = so.mapped_column(sa.Date, primary_key=True)
    # The only nullable column of the legacy schema.
    to_date: so.Mapped[date | None] = so.mapped_column(sa.Date)

    employee: so.Mapped[Employee] = so.relationship(back_populates="titles")


class Salary(db.Model):
    __tablename__ = "salaries"

    emp_no: so.Mapped[int] = so.mapped_column(
        sa.Integer, _emp_no_fk(), primary_key=True, autoincrement=False
    )
    salary: so.Mapped[int] = so.mapped_column(sa.Integer)
    from_date: so.Mapped[date] = so.mapped_column(sa.Date, primary_key=True)
    to_date: so.Mapped[date] = so.mapped_column(sa.Date)

    employee: so.Mapped[Employee] = so.relationship(back_populates="salaries")
