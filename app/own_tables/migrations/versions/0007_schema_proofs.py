"""schema proofs: the live schema's fingerprint when Headway last proved it a revision's; the differences an adoption accepted

Revision ID: 0007_schema_proofs
Revises: 0006_step_journal
Create Date: 2026-12-07 00:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0007_schema_proofs"
down_revision = "0006_step_journal"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "headway_schema_fingerprints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("revisions", sa.String(length=1024), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("headway_audit") as batch_op:
        batch_op.add_column(sa.Column("accepted_differences", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("headway_audit") as batch_op:
        batch_op.drop_column("accepted_differences")
    op.drop_table("headway_schema_fingerprints")
