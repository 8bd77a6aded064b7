"""What the console's pages and JSON share: the state of things, gathered
once per request from the cached catalog and a few small queries."""

from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from app.dbadmin.drift import has_drift, latest_drift_check
from app.dbadmin.revisions import Catalog, load_catalog
from app.dbadmin.state import DatabaseState, read_state
from app.extensions import db
from app.models.console import DriftCheck, MigrationAudit, MigrationJob


@dataclass
class Overview:
    catalog: Catalog
    state: DatabaseState
    drift: DriftCheck | None

    @property
    def drifted(self) -> bool | None:
        return has_drift(self.drift)


def overview() -> Overview:
    catalog = load_catalog()
    state = read_state(db.engine, catalog)
    drift = None
    if state.state != "unreachable" and state.current:
        drift = latest_drift_check(state.current)
    return Overview(catalog, state, drift)


def _query_or_empty(statement) -> list:
    """Rows from Headway's own tables; none before `flask headway init`."""
    try:
        return list(db.session.scalars(statement))
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        current_app.logger.info("Headway's tables are not set up yet")
        return []


def recent_jobs(limit: int = 5) -> list[MigrationJob]:
    return _query_or_empty(
        sa.select(MigrationJob).order_by(MigrationJob.id.desc()).limit(limit)
    )


def running_job() -> MigrationJob | None:
    jobs = _query_or_empty(
        sa.select(MigrationJob)
        .where(MigrationJob.status == "running")
        .order_by(MigrationJob.id.desc())
        .limit(1)
    )
    return jobs[0] if jobs else None


def recent_audit(limit: int = 5) -> list[MigrationAudit]:
    return _query_or_empty(
        sa.select(MigrationAudit).order_by(MigrationAudit.id.desc()).limit(limit)
    )


def checksum_mismatches(catalog: Catalog) -> dict[str, str]:
    """Revision -> checksum recorded when it was last applied, for every
    revision file changed since (like Flyway's validate). The trail only
    grows: the answer is kept per newest audit row."""
    try:
        newest = db.session.scalar(sa.select(sa.func.max(MigrationAudit.id)))
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        return {}  # Headway's tables are not set up yet

    def compute() -> dict[str, str]:
        rows = db.session.execute(
            sa.select(MigrationAudit.revision, MigrationAudit.checksum)
            .where(
                MigrationAudit.action == "upgrade",
                MigrationAudit.success.is_(True),
                MigrationAudit.checksum.is_not(None),
            )
            .order_by(MigrationAudit.id)
        )
        recorded = {revision: checksum for revision, checksum in rows}
        return {
            rev: checksum
            for rev, checksum in recorded.items()
            if rev in catalog.by_id and catalog.by_id[rev].checksum != checksum
        }

    return catalog.memo(("checksums", newest), compute)


def job_json(job: MigrationJob | None) -> dict | None:
    if job is None:
        return None
    return {
        "id": job.id,
        "action": job.action,
        "target": job.target,
        "status": job.status,
        "requested_by": job.requested_by,
        "started_at": job.started_at.isoformat() if job.started_at else None,
    }


def status_json(view: Overview) -> dict:
    state = view.state
    return {
        "state": state.state,
        "summary": state.summary(),
        "current": list(state.current),
        "heads": list(state.heads),
        "pending": [r.id for r in state.pending],
        "drift": view.drifted,
        "job": job_json(running_job()) if state.state != "unreachable" else None,
        "broken_files": broken_files_json(view.catalog),
    }


def broken_files_json(catalog: Catalog) -> list[dict]:
    return [{"file": b.filename, "problem": b.problem} for b in catalog.broken]
