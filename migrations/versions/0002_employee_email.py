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
    with op.batch_alter_table("employees") as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(255), nullable=True))
        batch_op.create_index("ix_employees_email", ["email"])


def downgrade():
    with op.batch_alter_table("employees") as batch_op:
        batch_op.drop_index("ix_employees_email")
        batch_op.drop_column("email")
