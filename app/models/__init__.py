"""All models on one metadata, for the app and for Alembic."""

from app.models.employee import (
    Department,
    DeptEmp,
    DeptManager,
    Employee,
    Salary,
    Title,
)
from app.models.headway import ApiToken, MigrationAudit, MigrationJob, User

__all__ = [
    "ApiToken",
    "Department",
    "DeptEmp",
    "DeptManager",
    "Employee",
    "MigrationAudit",
    "MigrationJob",
    "Salary",
    "Title",
    "User",
]
