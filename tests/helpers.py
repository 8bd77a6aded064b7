"""Helpers shared by the tests."""

import hashlib
import shutil
import textwrap
from pathlib import Path

import sqlalchemy as sa

from app.dbadmin.adoption import _not_user_schema
from app.dbadmin.schema import Schema, reflect_schema
from app.demo.legacy import LEGACY_TABLES

# The columns the legacy database had, per table, in key order.
LEGACY_COLUMNS = {
    "employees": (
        ["emp_no", "birth_date", "first_name", "last_name", "gender", "hire_date"],
        ["emp_no"],
    ),
    "departments": (["dept_no", "dept_name"], ["dept_no"]),
    "dept_manager": (
        ["emp_no", "dept_no", "from_date", "to_date"],
        ["emp_no", "dept_no"],
    ),
    "dept_emp": (["emp_no", "dept_no", "from_date", "to_date"], ["emp_no", "dept_no"]),
    "titles": (
        ["emp_no", "title", "from_date", "to_date"],
        ["emp_no", "title", "from_date"],
    ),
    "salaries": (
        ["emp_no", "salary", "from_date", "to_date"],
        ["emp_no", "from_date"],
    ),
}
assert set(LEGACY_COLUMNS) == set(LEGACY_TABLES)


def data_fingerprint(engine: sa.Engine) -> dict[str, tuple[int, str]]:
    """Row count and SHA-256 over every original column of every legacy table."""
    out = {}
    with engine.connect() as conn:
        for table, (columns, key) in LEGACY_COLUMNS.items():
            digest = hashlib.sha256()
            count = 0
            result = conn.exec_driver_sql(
                f"SELECT {', '.join(columns)} FROM {table} ORDER BY {', '.join(key)}"
            )
            for row in result:
                digest.update(repr(tuple(str(v) for v in row)).encode())
                count += 1
            out[table] = (count, digest.hexdigest())
    return out


def user_schema(engine: sa.Engine) -> Schema:
    with engine.connect() as conn:
        return reflect_schema(conn, ignore=_not_user_schema)


def table_names(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def version_rows(engine: sa.Engine, table: str = "alembic_version") -> list[str] | None:
    """The rows of a version table, or None when the table does not exist."""
    if table not in table_names(engine):
        return None
    with engine.connect() as conn:
        return [r[0] for r in conn.exec_driver_sql(f"SELECT version_num FROM {table}")]


class Scripts:
    """A copy of the project's migrations/ that a test can add revisions to."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.versions = directory / "versions"

    def write(self, rev, down, upgrade="pass", downgrade="pass", message=None):
        down_repr = repr(tuple(down)) if isinstance(down, list) else repr(down)

        def body(code: str) -> str:
            return textwrap.indent(textwrap.dedent(code).strip(), "    ")

        source = "\n".join(
            [
                f'"""{message or rev}',
                "",
                f"Revision ID: {rev}",
                f"Revises: {down}",
                "Create Date: 2026-11-21 12:00:00",
                "",
                '"""',
                "",
                "import sqlalchemy as sa",
                "from alembic import op",
                "",
                f"revision = {rev!r}",
                f"down_revision = {down_repr}",
                "branch_labels = None",
                "depends_on = None",
                "",
                "",
                "def upgrade():",
                body(upgrade),
                "",
                "",
                "def downgrade():",
                body(downgrade),
                "",
            ]
        )
        path = self.versions / f"{rev}.py"
        path.write_text(source)
        return path

    @classmethod
    def copy_of(cls, source: Path, directory: Path) -> "Scripts":
        shutil.copytree(source, directory)
        shutil.rmtree(directory / "versions" / "__pycache__", ignore_errors=True)
        return cls(directory)
