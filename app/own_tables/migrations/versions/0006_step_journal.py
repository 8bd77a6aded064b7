"""the step journal: each migration step's runs and statements, and the
before-image a rollback restores

Revision ID: 0006_step_journal
Revises: 0005_login_failure_times
Create Date: 2026-12-06 12:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0006_step_journal"
down_revision = "0005_login_failure_times"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "headway_step_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("revision", sa.String(255), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("from_revisions", sa.String(1024), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("before_image", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column(
            "job_id",
            sa.Integer(),
            sa.ForeignKey("headway_jobs.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "settles",
            sa.Integer(),
            sa.ForeignKey("headway_step_runs.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_headway_step_runs_status", "headway_step_runs", ["status"])
    op.create_index("ix_headway_step_runs_job_id", "headway_step_runs", ["job_id"])
    op.create_table(
        "headway_step_statements",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "step_run_id",
            sa.Integer(),
            sa.ForeignKey("headway_step_runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sql_text", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        mysql_charset="utf8mb4",
    )
    op.create_index(
        "ix_headway_step_statements_step_run_id",
        "headway_step_statements",
        ["step_run_id"],
    )


def downgrade():
    op.drop_table("headway_step_statements")
    op.drop_table("headway_step_runs")
