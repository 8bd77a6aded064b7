"""The change history: every create, edit and delete made in the data admin
(app/employees/history.py writes it). Not the audit trail, which records
migrations."""

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.clock import utcnow
from app.extensions import db


class DataChange(db.Model):
    __tablename__ = "headway_data_changes"
    # A record's page reads its own history: newest first, by its key.
    __table_args__ = (
        sa.Index("ix_headway_data_changes_record", "table_name", "record_key", "id"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    changed_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    # Who: the username at the time (an account may be renamed later).
    username: so.Mapped[str] = so.mapped_column(sa.String(255))
    action: so.Mapped[str] = so.mapped_column(sa.String(16))  # create, edit, delete
    table_name: so.Mapped[str] = so.mapped_column(sa.String(64))
    # The record's key as its URL's id has it ("10001", "10001,1986-06-26").
    record_key: so.Mapped[str] = so.mapped_column(sa.String(255))
    # What the record was called ("Employee 10001 Georgi Facello").
    record_label: so.Mapped[str] = so.mapped_column(sa.String(255))
    # JSON: {field: [before, after]}, only the fields that changed (for a
    # create, before is null; for a delete, after is).
    changes: so.Mapped[str] = so.mapped_column(sa.Text, default="{}")
    # JSON: [[what, count], ...]: the rows ON DELETE CASCADE removed with it.
    cascade: so.Mapped[str] = so.mapped_column(sa.Text, default="[]")
