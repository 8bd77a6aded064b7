"""login failure times to the microsecond on MySQL/MariaDB

Revision ID: 0005_login_failure_times
Revises: 0004_job_opt_ins
Create Date: 2026-11-23 12:00:00

"""

from alembic import op
from sqlalchemy.dialects import mysql

revision = "0005_login_failure_times"
down_revision = "0004_job_opt_ins"
branch_labels = None
depends_on = None

# DATETIME keeps whole seconds on MySQL/MariaDB: a 1 s login delay measured
# from a truncated time could end before it began. SQLite keeps microseconds.
COLUMNS = (
    ("window_start", False),
    ("last_failed_at", False),
    ("locked_until", True),
)


def _alter(precise: bool) -> None:
    if op.get_bind().dialect.name != "mysql":
        return
    new, old = mysql.DATETIME(fsp=6), mysql.DATETIME()
    if not precise:
        new, old = old, new
    for name, nullable in COLUMNS:
        op.alter_column(
            "headway_login_failures",
            name,
            type_=new,
            existing_type=old,
            existing_nullable=nullable,
        )


def upgrade():
    _alter(precise=True)


def downgrade():
    _alter(precise=False)
