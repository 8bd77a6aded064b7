"""employee email: a nullable employees.email with an index

An example of the changes made from now on: one reversible change per
revision. Adding a nullable column is instant on MariaDB 10.11.

Revision ID: 0002_employee_email
Revises: 0001_baseline
Create Date: 2026-11-21 00:00:01

"""

import sqlalchemy as sa
from alembic import op

revision = "0002_employee_email"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("employees", sa.Column("email", sa.String(255), nullable=True))
    op.create_index("ix_employees_email", "employees", ["email"])


def downgrade():
    op.drop_index("ix_employees_email", table_name="employees")
    # Not in batch mode: on SQLite a batch rebuild of `employees` would lose the
    # legacy table's unnamed CHECK on gender. SQLite 3.35+ drops a column in
    # place, like MySQL.
    op.drop_column("employees", "email")
