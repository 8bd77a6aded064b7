"""All models on one metadata, for the app and for Alembic."""

from app.models.accounts import ApiToken, LoginFailures, LoginSession, User
from app.models.changes import DataChange
from app.models.console import (
    DriftCheck,
    MigrationAudit,
    MigrationJob,
    MigrationLockHolder,
    PreflightResult,
    SchemaFingerprint,
)
from app.models.employee import (
    Department,
    DeptEmp,
    DeptManager,
    Employee,
    Salary,
    Title,
)

__all__ = [
    "ApiToken",
    "DataChange",
    "Department",
    "DriftCheck",
    "DeptEmp",
    "DeptManager",
    "Employee",
    "LoginFailures",
    "LoginSession",
    "MigrationAudit",
    "MigrationJob",
    "MigrationLockHolder",
    "PreflightResult",
    "Salary",
    "SchemaFingerprint",
    "Title",
    "User",
]
