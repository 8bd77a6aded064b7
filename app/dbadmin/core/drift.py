"""Drift: the live schema against the models (Alembic's comparison) and
against its stamped revision (the same code as `flask db verify`). A check is
kept in headway_drift_checks, so that every worker shows the latest result
without rebuilding a revision's schema on each page."""

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.dbadmin.core.adoption import stamped_revisions, verify
from app.dbadmin.core.alembic_env import COMPARE_OPTIONS, include_user_schema
from app.dbadmin.core.catalog import Catalog
from app.dbadmin.core.state import DatabaseState, State
from app.errors import HeadwayError
from app.models.console import DriftCheck, MigrationAudit


def model_differences(engine: Engine, metadata: sa.MetaData) -> list[str]:
    """What differs between the models (`metadata`) and the live schema, in
    words."""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": include_user_schema, **COMPARE_OPTIONS}
        )
        diffs = compare_metadata(context, metadata)
    return [_describe(d) for d in _flatten(diffs)]


def _flatten(diffs):
    for diff in diffs:
        if isinstance(diff, list):
            yield from diff
        else:
            yield diff


def _describe(diff: tuple) -> str:
    kind = diff[0]
    if kind == "add_table":
        return f"table {diff[1].name}: in the models, missing from the database"
    if kind == "remove_table":
        return f"table {diff[1].name}: in the database, not in the models"
    if kind == "add_column":
        return (
            f"column {diff[2]}.{diff[3].name}: in the models, missing from the database"
        )
    if kind == "remove_column":
        return f"column {diff[2]}.{diff[3].name}: in the database, not in the models"
    if kind == "modify_type":
        return (
            f"column {diff[2]}.{diff[3]}: type is {diff[5]} in the database, "
            f"{diff[6]} in the models"
        )
    if kind == "modify_nullable":

        def null(value):
            return "nullable" if value else "NOT NULL"

        return (
            f"column {diff[2]}.{diff[3]}: {null(diff[5])} in the database, "
            f"{null(diff[6])} in the models"
        )
    if kind == "modify_default":
        return (
            f"column {diff[2]}.{diff[3]}: default is {_default_sql(diff[5])} in "
            f"the database, {_default_sql(diff[6])} in the models"
        )
    if kind in ("add_index", "remove_index"):
        index = diff[1]
        where = "in the models only" if kind == "add_index" else "in the database only"
        return f"index {index.table.name}.{index.name}: {where}"
    if kind in ("add_constraint", "remove_constraint"):
        constraint = diff[1]
        where = (
            "in the models only" if kind == "add_constraint" else "in the database only"
        )
        columns = ", ".join(c.name for c in constraint.columns)
        return f"unique key {constraint.table.name}({columns}): {where}"
    if kind in ("add_fk", "remove_fk"):
        fk = diff[1]
        where = "in the models only" if kind == "add_fk" else "in the database only"
        columns = ", ".join(c.name for c in fk.columns)
        return (
            f"foreign key {fk.table.name}({columns}) -> {fk.referred_table.name} "
            f"ON DELETE {fk.ondelete or 'NO ACTION'}: {where}"
        )
    return f"{kind}: {diff[1:]}"


def _default_sql(default) -> str:
    """A server default (a DefaultClause, reflected or from the models) as SQL."""
    if default is None:
        return "none"
    arg = getattr(default, "arg", default)
    return str(getattr(arg, "text", arg))


def run_drift_check(
    session: Session, catalog: Catalog, metadata: sa.MetaData, actor: str
) -> DriftCheck:
    """Compare now, keep the result, return it. HeadwayError, before anything
    is built, when a revision file is broken."""
    catalog.refuse_broken_files("a drift check")
    engine = session.get_bind()
    # When the comparison began: a change made while it runs makes it stale.
    began = utcnow()
    current = stamped_revisions(engine)
    check = DriftCheck(checked_at=began, checked_by=actor, revisions=",".join(current))
    if current:
        try:
            result = verify(engine)
            check.stamp_differences = "\n".join(result.differences)
        except HeadwayError as exc:
            check.stamp_error = str(exc)
    # The models are head's: a database behind head differs from them by the
    # pending revisions, which is being behind, not drift.
    if not current or set(current) == set(catalog.heads):
        check.model_differences = "\n".join(model_differences(engine, metadata))
    else:
        check.model_differences = ""
    session.add(check)
    session.commit()
    return check


# Built once (the dashboard and the status read it on every request):
# building a statement and its cache key costs more than running it. A plain
# row (attributes named like the model's): loading an entity costs more too.
_checks = DriftCheck.__table__
_LATEST_CHECK = (
    sa.select(_checks)
    .where(_checks.c.revisions == sa.bindparam("revisions"))
    .order_by(_checks.c.id.desc())
    .limit(1)
)


def latest_drift_check(session: Session, current: tuple[str, ...]) -> sa.Row | None:
    """The newest check made at the database's current revisions, if any, as
    a read-only row."""
    try:
        return (
            session.connection()
            .execute(_LATEST_CHECK, {"revisions": ",".join(current)})
            .first()
        )
    except sa.exc.SQLAlchemyError:
        session.rollback()
        return None  # Headway's tables are not set up yet


def has_drift(check: DriftCheck | sa.Row | None) -> bool | None:
    if check is None:
        return None
    return bool(check.stamp_differences or check.stamp_error or check.model_differences)


def last_schema_change(session: Session) -> datetime | None:
    """When the audit trail last recorded a step on the user's schema (from
    the console or a shell; a failed step too, as MySQL DDL may have run in
    part): the newest row's end."""
    try:
        row = session.execute(
            sa.select(MigrationAudit.started_at, MigrationAudit.duration_ms)
            .order_by(MigrationAudit.started_at.desc(), MigrationAudit.id.desc())
            .limit(1)
        ).first()
    except sa.exc.SQLAlchemyError:
        session.rollback()
        return None  # Headway's tables are not set up yet
    if row is None:
        return None
    started, duration_ms = row
    return started + timedelta(milliseconds=duration_ms or 0)


def _to_the_second(value: datetime) -> datetime:
    # MariaDB keeps DATETIME to the second, SQLite to the microsecond: compare
    # both as MariaDB stores them.
    return value.replace(microsecond=0)


@dataclass
class DriftStatus:
    """What the console says about drift: the newest check at the current
    revisions, and whether a schema change recorded since makes it stale.

    state: "unchecked" (no check at these revisions), "stale" (checked before
    the last schema change), "drift", or "clean" (no drift at a check made
    after the last change). A stale check never counts as "no drift".
    """

    check: DriftCheck | sa.Row | None
    last_change: datetime | None

    @property
    def stale(self) -> bool:
        return is_stale(self.check, self.last_change)

    @property
    def state(self) -> str:
        if self.check is None:
            return "unchecked"
        if self.stale:
            return "stale"
        return "drift" if has_drift(self.check) else "clean"

    @property
    def drifted(self) -> bool | None:
        """True or False from a current check; None when there is none."""
        if self.state in ("unchecked", "stale"):
            return None
        return self.state == "drift"


def is_stale(check: DriftCheck | sa.Row | None, last_change: datetime | None) -> bool:
    """The staleness rule, in one place: a check made before the last schema
    change the audit trail records says nothing about the schema now."""
    if check is None or last_change is None:
        return False
    return _to_the_second(check.checked_at) < _to_the_second(last_change)


def drift_status(session: Session, current: tuple[str, ...]) -> DriftStatus:
    """The drift status of a database stamped at `current` (two small
    indexed queries)."""
    check = latest_drift_check(session, current) if current else None
    last_change = last_schema_change(session) if check is not None else None
    return DriftStatus(check, last_change)


def with_drift_check(database: DatabaseState, status: DriftStatus) -> DatabaseState:
    """`database` as every surface shows it: DRIFT when a drift check made at
    its revisions since the last schema change found differences, though the
    cheap check saw none (a type or a default changed out of band). Drift
    outranks "up to date" and "behind" wherever it is known; the states that
    outrank drift stay."""
    if database.kind not in (State.UP_TO_DATE, State.BEHIND) or not status.drifted:
        return database
    check = status.check
    found = [
        line
        for text in (check.stamp_error, check.stamp_differences)
        for line in (text or "").splitlines()
        if line.strip()
    ]
    # The models are head's: behind head (after a deliberate downgrade, or
    # new revisions deployed since the check), differing from them is being
    # behind, not drift.
    if database.kind == State.UP_TO_DATE:
        found += [
            f"the models: {line}"
            for line in (check.model_differences or "").splitlines()
            if line.strip()
        ]
    if found:
        database.kind = State.DRIFT
        database.drift_found = tuple(found)
    return database
