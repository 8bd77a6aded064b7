"""The models against the legacy data: relationships and ON DELETE CASCADE."""

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Department, Employee, Salary

# `flask` commands only: each test's app is built as the command builds it.
pytestmark = pytest.mark.cli


@pytest.fixture
def upgraded(app, engine, prepare):
    prepare(
        app,
        (("legacy", 0.005, 3), ("flask", "db", "adopt"), ("flask", "db", "upgrade")),
    )
    return app


def test_relationships(upgraded):
    with upgraded.app_context():
        employee = db.session.get(Employee, 10001)
        assert employee.salaries and employee.titles and employee.departments
        assert all(s.emp_no == 10001 for s in employee.salaries)
        dates = [s.from_date for s in employee.salaries]
        assert dates == sorted(dates)

        department = db.session.get(Department, "d001")
        assert department.dept_name == "Marketing"
        assert department.managers
        assert all(
            any(a.dept_no == "d001" for a in m.manager_assignments)
            for m in department.managers
        )
        assert employee in employee.departments[0].employees


def test_deleting_an_employee_cascades_in_the_database(upgraded):
    with upgraded.app_context():
        # New connections, as a fresh worker would have.
        db.engine.dispose()
        employee = db.session.get(Employee, 10002)
        assert employee.salaries
        db.session.delete(employee)
        db.session.commit()
        for table in ("salaries", "titles", "dept_emp", "dept_manager"):
            count = db.session.scalar(
                sa.text(f"SELECT COUNT(*) FROM {table} WHERE emp_no = 10002")
            )
            assert count == 0, table
        # Deleted by the database's ON DELETE CASCADE, not only by the ORM.
        db.session.execute(sa.text("DELETE FROM employees WHERE emp_no = 10003"))
        db.session.commit()
        assert not db.session.scalars(
            sa.select(Salary).where(Salary.emp_no == 10003)
        ).all()


def test_gender_is_limited_to_m_and_f(upgraded):
    with upgraded.app_context():
        with pytest.raises(sa.exc.StatementError):
            db.session.execute(
                sa.text("UPDATE employees SET gender = 'X' WHERE emp_no = 10001")
            )
            db.session.commit()
        db.session.rollback()
