"""All models on one metadata, for the app and for Alembic."""

from app.models.employee import (
    Department,
    DeptEmp,
    DeptManager,
    Employee,
    Salary,
    Title,
)
from app.models.headway import (
    ApiToken,
    DriftCheck,
    LoginFailures,
    MigrationAudit,
    MigrationJob,
    MigrationLockHolder,
    User,
)

__all__ = [
    "ApiToken",
    "Department",
    "DriftCheck",
    "DeptEmp",
    "DeptManager",
    "Employee",
    "LoginFailures",
    "MigrationAudit",
    "MigrationJob",
    "MigrationLockHolder",
    "Salary",
    "Title",
    "User",
]
