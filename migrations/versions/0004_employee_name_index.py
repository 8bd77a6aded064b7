"""employee name index: the admin's search by first name, last name or both

The data admin's search box takes a first name, a last name or both
("Georgi Facello"). The legacy schema has no index on `employees.first_name`,
so a first-name search read the whole table. This index on (first_name,
last_name) answers a first-name prefix, a full name (its first name and the
start of its last name, one range), and the list sorted by first name (then
last name; InnoDB adds the primary key to every secondary index, so keyset
pages on (first_name, last_name, emp_no) read in index order). Adding it
rebuilds nothing on MariaDB 10.11 (an in-place ADD INDEX, about 1 s at
300,000 employees); dropping it gives back the schema of 0003 exactly.

Revision ID: 0004_employee_name_index
Revises: 0003_employee_last_name_index
Create Date: 2026-12-07 03:00:00

"""

from alembic import op

revision = "0004_employee_name_index"
down_revision = "0003_employee_last_name_index"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_employees_first_name_last_name", "employees", ["first_name", "last_name"]
    )


def downgrade():
    op.drop_index("ix_employees_first_name_last_name", table_name="employees")
