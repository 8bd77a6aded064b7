"""job opt-ins: what a console job was allowed to do (drop data, stamp unverified)

Revision ID: 0004_job_opt_ins
Revises: 0003_job_launch_secret
Create Date: 2026-11-23 00:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0004_job_opt_ins"
down_revision = "0003_job_launch_secret"
branch_labels = None
depends_on = None


def upgrade():
    # Added in place (no batch rebuild): nullable-free with a server default.
    for name in ("allow_data_loss", "no_verify"):
        op.add_column(
            "headway_jobs",
            sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false()),
        )


def downgrade():
    with op.batch_alter_table("headway_jobs") as batch_op:
        batch_op.drop_column("no_verify")
        batch_op.drop_column("allow_data_loss")
