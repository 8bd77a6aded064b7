"""one canonical username: username_key, binary, unique; own tables in utf8mb4

Revision ID: 0008_username_key
Revises: 0007_schema_proofs
Create Date: 2026-12-07 00:00:00

"""

import unicodedata

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from app.errors import HeadwayError

revision = "0008_username_key"
down_revision = "0007_schema_proofs"
branch_labels = None
depends_on = None

KEY_LENGTH = 255


def _binary(length: int):
    # Byte for byte on MySQL/MariaDB: their usual collations make 'José',
    # 'jose ' and 'JOSE' equal.
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"),
        "mysql",
        "mariadb",
    )


def _key_type():
    return _binary(KEY_LENGTH)


def username_key(username: str) -> str:
    """As app/auth/accounts.py computes it when this revision was written."""
    folded = unicodedata.normalize("NFKC", username).casefold()
    return unicodedata.normalize("NFKC", folded).strip()


def _refuse_collisions(keys: dict[int, tuple[str, str]]) -> None:
    """Stop, listing them, when two accounts would get the same key: which
    one keeps the name is for an admin to decide, not for a migration."""
    by_key: dict[str, list[str]] = {}
    for username, key in keys.values():
        by_key.setdefault(key, []).append(username)
    clashes = [sorted(names) for names in by_key.values() if len(names) > 1]
    too_long = sorted(name for name, key in keys.values() if len(key) > KEY_LENGTH)
    if not clashes and not too_long:
        return
    lines = ["Headway's accounts need one canonical name each; these clash:"]
    lines += [
        "  " + ", ".join(repr(name) for name in names) + " (differ only by case, "
        "width or surrounding blanks)"
        for names in sorted(clashes)
    ]
    lines += [f"  {name!r} (too long once normalised)" for name in too_long]
    lines.append(
        "Rename or remove all but one of each (Users page, or SQL on "
        "headway_users), then run `flask headway init` again. Nothing was changed."
    )
    raise HeadwayError("\n".join(lines))


def _own_tables(bind) -> list[tuple[str, str]]:
    """Headway's tables (name, character set) on MySQL/MariaDB."""
    return [
        tuple(row)
        for row in bind.execute(
            sa.text(
                "SELECT t.TABLE_NAME, c.CHARACTER_SET_NAME "
                "FROM information_schema.TABLES t "
                "JOIN information_schema.COLLATION_CHARACTER_SET_APPLICABILITY c "
                "ON c.COLLATION_NAME = t.TABLE_COLLATION "
                "WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE' "
                "AND t.TABLE_NAME LIKE 'headway\\_%'"
            )
        )
    ]


def upgrade():
    bind = op.get_bind()
    users = bind.execute(sa.text("SELECT id, username FROM headway_users")).all()
    keys = {id_: (name, username_key(name)) for id_, name in users}
    # First, before any DDL (which MySQL does not roll back).
    _refuse_collisions(keys)

    if bind.dialect.name == "mysql":
        # utf8mb4 whatever the database's default (a legacy database may be
        # latin1): every name and log line Headway keeps fits.
        for table, charset in _own_tables(bind):
            if charset != "utf8mb4":
                op.execute(
                    f"ALTER TABLE `{table}` CONVERT TO CHARACTER SET utf8mb4 "
                    "COLLATE utf8mb4_unicode_ci"
                )

    if bind.dialect.name == "mysql":
        # The name as typed stays unique, byte for byte: under a
        # case-insensitive collation its index would refuse `jose` beside
        # `José`, two accounts the key keeps apart. (SQLite compares bytes.)
        op.alter_column(
            "headway_users",
            "username",
            type_=_binary(64),
            existing_type=sa.String(64),
            existing_nullable=False,
        )
    op.add_column("headway_users", sa.Column("username_key", _key_type()))
    users_table = sa.table(
        "headway_users", sa.column("id", sa.Integer), sa.column("username_key")
    )
    for id_, (_, key) in keys.items():
        op.execute(
            users_table.update().where(users_table.c.id == id_).values(username_key=key)
        )
    with op.batch_alter_table("headway_users") as batch_op:
        batch_op.alter_column("username_key", existing_type=_key_type(), nullable=False)
        batch_op.create_unique_constraint(
            "uq_headway_users_username_key", ["username_key"]
        )

    # The throttle's rows were keyed by the name as typed: they expire within
    # the login window anyway, and keyed anew they could clash.
    op.execute("DELETE FROM headway_login_failures")
    with op.batch_alter_table("headway_login_failures") as batch_op:
        batch_op.alter_column(
            "username",
            type_=_key_type(),
            existing_type=sa.String(64),
            existing_nullable=False,
        )


def downgrade():
    op.execute("DELETE FROM headway_login_failures")
    with op.batch_alter_table("headway_login_failures") as batch_op:
        batch_op.alter_column(
            "username",
            type_=sa.String(64),
            existing_type=_key_type(),
            existing_nullable=False,
        )
    with op.batch_alter_table("headway_users") as batch_op:
        batch_op.drop_constraint("uq_headway_users_username_key", type_="unique")
        batch_op.drop_column("username_key")
    if op.get_bind().dialect.name == "mysql":
        # Back to the table's collation: refused if two names differ only there.
        op.alter_column(
            "headway_users",
            "username",
            type_=sa.String(64),
            existing_type=_binary(64),
            existing_nullable=False,
        )
