"""server-side login sessions, token expiry, login failures per address, account and pair

Revision ID: 0002_sessions_tokens_throttle
Revises: 0001_headway_tables
Create Date: 2026-11-23 00:00:00

"""

import secrets
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0002_sessions_tokens_throttle"
down_revision = "0001_headway_tables"
branch_labels = None
depends_on = None

# Tokens made before expiry existed expire this long after their creation.
TOKEN_DAYS = 90


def upgrade():
    op.create_table(
        "headway_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["headway_users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("secret_hash"),
    )
    op.create_index(
        "ix_headway_sessions_user_id", "headway_sessions", ["user_id"], unique=False
    )

    # Counted per address only before; the counts are short-lived, so the
    # table starts afresh in its new shape.
    op.drop_table("headway_login_failures")
    op.create_table(
        "headway_login_failures",
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("scope", "username", "address"),
    )
    op.create_index(
        "ix_headway_login_failures_last_failed_at",
        "headway_login_failures",
        ["last_failed_at"],
        unique=False,
    )

    # Sessions are records now, and failures are counted in the table above.
    with op.batch_alter_table("headway_users") as batch_op:
        batch_op.drop_column("session_token")
        batch_op.drop_column("failed_logins")
        batch_op.drop_column("first_failed_at")
        batch_op.drop_column("locked_until")

    op.add_column(
        "headway_api_tokens", sa.Column("expires_at", sa.DateTime(), nullable=True)
    )
    tokens = sa.table(
        "headway_api_tokens",
        sa.column("id", sa.Integer()),
        sa.column("created_at", sa.DateTime()),
        sa.column("expires_at", sa.DateTime()),
    )
    conn = op.get_bind()
    for token_id, created_at in conn.execute(
        sa.select(tokens.c.id, tokens.c.created_at)
    ):
        conn.execute(
            tokens.update()
            .where(tokens.c.id == token_id)
            .values(expires_at=created_at + timedelta(days=TOKEN_DAYS))
        )
    with op.batch_alter_table("headway_api_tokens") as batch_op:
        batch_op.alter_column("expires_at", existing_type=sa.DateTime(), nullable=False)


def downgrade():
    with op.batch_alter_table("headway_api_tokens") as batch_op:
        batch_op.drop_column("expires_at")

    with op.batch_alter_table("headway_users") as batch_op:
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("first_failed_at", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column(
                "session_token", sa.String(length=64), nullable=False, server_default=""
            )
        )
    users = sa.table(
        "headway_users", sa.column("id", sa.Integer()), sa.column("session_token")
    )
    conn = op.get_bind()
    for (user_id,) in conn.execute(sa.select(users.c.id)):
        conn.execute(
            users.update()
            .where(users.c.id == user_id)
            .values(session_token=secrets.token_hex(16))
        )

    op.drop_table("headway_login_failures")
    op.create_table(
        "headway_login_failures",
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("address"),
    )

    op.drop_table("headway_sessions")  # its indexes with it
