"""online schema changes: which tool ran a statement (the journal) and a step
(the audit trail)

Revision ID: 0010_online_tool
Revises: 0009_job_run_options
Create Date: 2026-12-07 04:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0010_online_tool"
down_revision = "0009_job_run_options"
branch_labels = None
depends_on = None


def upgrade():
    # Nullable columns: added in place, and NULL says "the server ran it".
    for table in ("headway_step_statements", "headway_audit"):
        op.add_column(table, sa.Column("online_tool", sa.String(64), nullable=True))


def downgrade():
    for table in ("headway_audit", "headway_step_statements"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("online_tool")
