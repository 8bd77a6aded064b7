"""job launch secret, OS user of each audit row

Revision ID: 0003_job_launch_secret
Revises: 0002_sessions_tokens_throttle
Create Date: 2026-11-23 12:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0003_job_launch_secret"
down_revision = "0002_sessions_tokens_throttle"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        "headway_jobs", sa.Column("launch_secret", sa.String(length=64), nullable=True)
    )
    op.add_column(
        "headway_audit", sa.Column("os_user", sa.String(length=255), nullable=True)
    )


def downgrade():
    with op.batch_alter_table("headway_audit") as batch_op:
        batch_op.drop_column("os_user")
    with op.batch_alter_table("headway_jobs") as batch_op:
        batch_op.drop_column("launch_secret")
