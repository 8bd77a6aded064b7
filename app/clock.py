"""Headway's one clock: naive UTC datetimes, as every timestamp column holds
them (DATETIME has no time zone on MySQL/MariaDB or SQLite)."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
