"""employee last-name index: the admin's last-name prefix search and sort

The legacy schema has no index on `employees.last_name`, so a prefix search
(`last_name LIKE 'Sluis%'`) and a list sorted by last name read the whole
table. InnoDB adds the primary key to every secondary index, so this index
also serves the admin's keyset pagination on (last_name, emp_no). Adding it
rebuilds nothing on MariaDB 10.11 (an in-place ADD INDEX, about 1 s at
300,000 employees); dropping it gives back the schema of 0002 exactly.

Revision ID: 0003_employee_last_name_index
Revises: 0002_employee_email
Create Date: 2026-11-23 00:00:00

"""

from alembic import op

revision = "0003_employee_last_name_index"
down_revision = "0002_employee_email"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_employees_last_name", "employees", ["last_name"])


def downgrade():
    op.drop_index("ix_employees_last_name", table_name="employees")
