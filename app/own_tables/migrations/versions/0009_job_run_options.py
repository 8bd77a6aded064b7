"""job run options: skip preflight, run table copies online

Revision ID: 0009_job_run_options
Revises: 0008_username_key
Create Date: 2026-12-07 03:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0009_job_run_options"
down_revision = "0008_username_key"
branch_labels = None
depends_on = None


def upgrade():
    # Added in place (no batch rebuild): nullable-free with a server default.
    for name in ("no_preflight", "online"):
        op.add_column(
            "headway_jobs",
            sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false()),
        )


def downgrade():
    with op.batch_alter_table("headway_jobs") as batch_op:
        batch_op.drop_column("online")
        batch_op.drop_column("no_preflight")
