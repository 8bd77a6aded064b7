"""preflight results: the console's newest preflight of each plan, and the audit's record of a skipped one

Revision ID: 0011_preflight_results
Revises: 0010_online_tool
Create Date: 2026-12-07 04:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0011_preflight_results"
down_revision = "0010_online_tool"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "headway_preflights",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.Column("checked_by", sa.String(length=255), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("from_revisions", sa.String(length=1024), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("steps", sa.Text(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["headway_jobs.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        # utf8mb4 whatever the database's default (a legacy database may be
        # latin1), as 0008 made every own table.
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    op.create_index(
        "ix_headway_preflights_checked_at", "headway_preflights", ["checked_at"]
    )
    op.create_index("ix_headway_preflights_job_id", "headway_preflights", ["job_id"])
    # Added in place (no batch rebuild): a nullable column.
    op.add_column(
        "headway_audit", sa.Column("preflight", sa.String(length=16), nullable=True)
    )


def downgrade():
    with op.batch_alter_table("headway_audit") as batch_op:
        batch_op.drop_column("preflight")
    # (Its indexes go with it: MySQL refuses to drop the foreign key's first.)
    op.drop_table("headway_preflights")
