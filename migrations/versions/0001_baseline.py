"""baseline: the legacy employees schema as it existed before migrations

Existing databases are adopted at this revision (`flask db adopt`, or
`flask db stamp 0001_baseline`), never upgraded through it; a new empty
database gets the same schema from it. Per dialect it reproduces what the
legacy DDL gave: on MySQL/MariaDB the server-generated names (`*_ibfk_N`
foreign keys, the `dept_no` index behind them, the `dept_name` unique key)
and InnoDB tables in the database's default character set and collation (the
legacy DDL names none, so its tables took whatever the database had: latin1
on old installs, utf8mb4_general_ci, utf8mb4_unicode_ci ...); on SQLite
unnamed constraints.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-11-21 00:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None

# The legacy DDL's own text: SQLite keeps a view's text as written, so the
# views verify compares must be written the same way (MariaDB rewrites both
# to the same qualified form).
VIEWS = {
    "dept_emp_latest_date": (
        "SELECT emp_no, MAX(from_date) AS from_date, MAX(to_date) AS to_date "
        "FROM dept_emp GROUP BY emp_no"
    ),
    "current_dept_emp": (
        "SELECT l.emp_no, dept_no, l.from_date, l.to_date "
        "FROM dept_emp d INNER JOIN dept_emp_latest_date l "
        "ON d.emp_no = l.emp_no AND d.from_date = l.from_date "
        "AND l.to_date = d.to_date"
    ),
}


def upgrade():
    mysql = op.get_context().dialect.name == "mysql"
    # No character set or collation: like the legacy DDL, the tables take the
    # database's defaults (a scratch database is created with the live one's).
    table_options = {"mysql_engine": "InnoDB"} if mysql else {}

    def name(constraint_name):
        # Only MySQL gave the legacy constraints names.
        return constraint_name if mysql else None

    def emp_no_fk(table):
        return sa.ForeignKeyConstraint(
            ["emp_no"],
            ["employees.emp_no"],
            name=name(f"{table}_ibfk_1"),
            ondelete="CASCADE",
        )

    op.create_table(
        "employees",
        sa.Column("emp_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("first_name", sa.String(14), nullable=False),
        sa.Column("last_name", sa.String(16), nullable=False),
        sa.Column(
            "gender",
            sa.Enum("M", "F", name="gender", create_constraint=True),
            nullable=False,
        ),
        sa.Column("hire_date", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("emp_no"),
        **table_options,
    )
    op.create_table(
        "departments",
        sa.Column("dept_no", sa.CHAR(4), nullable=False),
        sa.Column("dept_name", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("dept_no"),
        sa.UniqueConstraint("dept_name", name=name("dept_name")),
        **table_options,
    )
    for table in ("dept_manager", "dept_emp"):
        dept_no_fk = dict(
            name=name(f"{table}_ibfk_2"),
            ondelete="CASCADE",
        )
        op.create_table(
            table,
            sa.Column("emp_no", sa.Integer(), autoincrement=False, nullable=False),
            sa.Column("dept_no", sa.CHAR(4), nullable=False),
            sa.Column("from_date", sa.Date(), nullable=False),
            sa.Column("to_date", sa.Date(), nullable=False),
            sa.PrimaryKeyConstraint("emp_no", "dept_no"),
            emp_no_fk(table),
            *(
                []
                if mysql
                else [
                    sa.ForeignKeyConstraint(
                        ["dept_no"], ["departments.dept_no"], **dept_no_fk
                    )
                ]
            ),
            **table_options,
        )
        if mysql:
            # MySQL named the index behind this key after its column; created
            # first, so the foreign key uses it instead of making its own.
            op.create_index("dept_no", table, ["dept_no"])
            op.create_foreign_key(
                dept_no_fk["name"],
                table,
                "departments",
                ["dept_no"],
                ["dept_no"],
                ondelete="CASCADE",
            )
    op.create_table(
        "titles",
        sa.Column("emp_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("title", sa.String(50), nullable=False),
        sa.Column("from_date", sa.Date(), nullable=False),
        sa.Column("to_date", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("emp_no", "title", "from_date"),
        emp_no_fk("titles"),
        **table_options,
    )
    op.create_table(
        "salaries",
        sa.Column("emp_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("salary", sa.Integer(), nullable=False),
        sa.Column("from_date", sa.Date(), nullable=False),
        sa.Column("to_date", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("emp_no", "from_date"),
        emp_no_fk("salaries"),
        **table_options,
    )
    for view, select in VIEWS.items():
        op.execute(f"CREATE VIEW {view} AS {select}")


def downgrade():
    for view in reversed(VIEWS):
        op.execute(f"DROP VIEW {view}")
    for table in (
        "salaries",
        "titles",
        "dept_emp",
        "dept_manager",
        "departments",
        "employees",
    ):
        op.drop_table(table)
