"""data changes: the change history of the data admin (who, when, which record, each field before and after, a delete's cascade)

Revision ID: 0012_data_changes
Revises: 0011_preflight_results
Create Date: 2026-12-07 04:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0012_data_changes"
down_revision = "0011_preflight_results"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "headway_data_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("record_key", sa.String(length=255), nullable=False),
        sa.Column("record_label", sa.String(length=255), nullable=False),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.Column("cascade", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        # utf8mb4 whatever the database's default (a legacy database may be
        # latin1), as 0008 made every own table.
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    op.create_index(
        "ix_headway_data_changes_record",
        "headway_data_changes",
        ["table_name", "record_key", "id"],
    )


def downgrade():
    op.drop_index("ix_headway_data_changes_record", table_name="headway_data_changes")
    op.drop_table("headway_data_changes")
