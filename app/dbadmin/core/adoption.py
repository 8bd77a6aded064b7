"""`flask db verify` and `flask db adopt`: prove the live schema is a
revision's schema before anything is stamped.

A revision's schema is built for real, by running the migrations in a scratch
database of the same dialect (see scratch.py), then both are reflected and
compared (see schema.py). Nothing here writes to the live database except the
final stamp of a successful adoption.
"""

from dataclasses import dataclass

from alembic import command
from sqlalchemy.engine import Engine

from app.dbadmin.core.alembic_env import (
    USER_VERSION_TABLE,
    alembic_config,
    current_heads,
    describe,
)
from app.dbadmin.core.catalog import load_catalog
from app.dbadmin.core.schema import Schema, compare_schemas, reflect_schema
from app.dbadmin.core.scratch import scratch_engine, upgrade_to
from app.errors import HeadwayError, error_line
from app.models.own import TABLE_PREFIX


@dataclass
class Verification:
    revisions: tuple[str, ...]
    differences: list[str]

    @property
    def matches(self) -> bool:
        return not self.differences

    @property
    def label(self) -> str:
        return describe(self.revisions)


def not_user_schema(name: str) -> bool:
    return name.startswith(TABLE_PREFIX) or name == USER_VERSION_TABLE


def _reflect(engine: Engine) -> Schema:
    with engine.connect() as conn:
        return reflect_schema(conn, ignore=not_user_schema)


def stamped_revisions(engine: Engine) -> tuple[str, ...]:
    with engine.connect() as conn:
        return current_heads(conn)


def verify(engine: Engine, rev: str | None = None) -> Verification:
    """Compare the live schema with the schema at `rev` (default: the stamped
    revisions; the heads when the database is unversioned)."""
    catalog = load_catalog()
    if rev is not None:
        revisions = (catalog.one_revision(rev),)
    else:
        revisions = stamped_revisions(engine) or catalog.heads
        for stamped in revisions:
            catalog.one_revision(stamped)
    live = _reflect(engine)
    with scratch_engine(engine) as scratch:
        upgrade_to(scratch, revisions)
        expected = _reflect(scratch)
    return Verification(revisions, compare_schemas(live, expected))


def verify_as_far_as_it_runs(
    engine: Engine, rev: str
) -> tuple[Verification, str | None]:
    """Like verify(engine, rev), for a revision that may fail: its schema is
    built as far as its migration runs, and the error (if any) returned too.
    After a failed step, a match means the live database is half-way exactly
    where the step stops."""
    revisions = (load_catalog().one_revision(rev),)
    live = _reflect(engine)
    error = None
    with scratch_engine(engine) as scratch:
        try:
            upgrade_to(scratch, revisions)
        except Exception as exc:  # the revision's own failure, reproduced
            error = error_line(exc)
        expected = _reflect(scratch)
    return Verification(revisions, compare_schemas(live, expected)), error


def verify_every_revision(engine: Engine) -> list[Verification]:
    """The live schema against every revision's schema, oldest first.

    One scratch database is upgraded step by step; a revision whose schema is
    not simply "everything so far" (a branch beside others) gets a fresh one.
    """
    live = _reflect(engine)
    results = []
    catalog = load_catalog()
    with scratch_engine(engine) as scratch:
        for revision in catalog.in_order():
            rev = (revision,)
            upgrade_to(scratch, rev, catalog.script)
            if stamped_revisions(scratch) == rev:
                expected = _reflect(scratch)
            else:
                with scratch_engine(engine) as fresh:
                    upgrade_to(fresh, rev, catalog.script)
                    expected = _reflect(fresh)
            results.append(Verification(rev, compare_schemas(live, expected)))
    return results


@dataclass
class Adoption:
    verification: Verification
    stamped: bool


def adopt(
    engine: Engine,
    to: str | None = None,
    dry_run: bool = False,
    run_attributes: dict | None = None,
) -> Adoption:
    """Stamp an unversioned database with the newest revision whose schema it
    has (or with `to`, after checking it). When nothing matches, write nothing
    and return the closest revision's differences. `run_attributes` reach
    migrations/env.py (a console job's actor and id)."""
    stamped = stamped_revisions(engine)
    if stamped:
        raise HeadwayError(
            f"the database is already versioned (at {describe(stamped)}); "
            "adopt is only for an unversioned database. "
            "Use `flask db verify` to check it against its revision."
        )
    if to is not None:
        found = verify(engine, to)
    else:
        results = verify_every_revision(engine)
        if not results:
            raise HeadwayError("there are no revisions to adopt")
        matching = [r for r in results if r.matches]
        # Newest match; otherwise the closest revision, the newer on a tie.
        found = (
            matching[-1]
            if matching
            else min(reversed(results), key=lambda r: len(r.differences))
        )
    if not found.matches or dry_run:
        return Adoption(found, stamped=False)
    config = alembic_config(audit_action="adopt", **(run_attributes or {}))
    command.stamp(config, found.revisions[0])
    return Adoption(found, stamped=True)
