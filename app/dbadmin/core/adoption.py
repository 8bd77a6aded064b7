"""`flask db verify` and `flask db adopt`: prove the live schema is a
revision's schema before anything is stamped.

A revision's schema is built for real, by running the migrations in a scratch
database of the same dialect (see scratch.py), then both are reflected and
compared (see schema.py). Nothing here writes to the live database except the
final stamp of a successful adoption.
"""

from dataclasses import dataclass

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from app.dbadmin.core.alembic_env import (
    USER_VERSION_TABLE,
    alembic_config,
    describe,
)
from app.dbadmin.core.catalog import Catalog, load_catalog
from app.dbadmin.core.plan import step_plan
from app.dbadmin.core.schema import (
    Schema,
    compare_schemas,
    outermost,
    reflect_schema,
    schema_objects,
)
from app.dbadmin.core.scratch import scratch_engine, upgrade_to
from app.dbadmin.core.state import redundant_stamps, stamped_revisions
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


def reflect_user_schema(engine: Engine) -> Schema:
    """The user's schema (not Headway's tables, not the version table)."""
    with engine.connect() as conn:
        return reflect_schema(conn, ignore=not_user_schema)


_reflect = reflect_user_schema


def verify(engine: Engine, rev: str | None = None) -> Verification:
    """Compare the live schema with the schema at `rev` (default: the stamped
    revisions; the heads when the database is unversioned)."""
    catalog = load_catalog()
    if rev is not None:
        revisions = (catalog.one_revision(rev),)
    else:
        revisions = stamped_revisions(engine) or catalog.heads
        unknown = [r for r in revisions if r not in catalog.by_id]
        if unknown:
            raise HeadwayError(unknown_revision_line(tuple(unknown)))
        # An ancestor stamped beside its descendant adds nothing to the schema.
        redundant = redundant_stamps(catalog, revisions)
        revisions = tuple(r for r in revisions if r not in redundant)
    return verify_revisions(engine, revisions)


def verify_revisions(engine: Engine, revisions: tuple[str, ...]) -> Verification:
    """Compare the live schema with the schema at `revisions` (full ids)."""
    live = _reflect(engine)
    with scratch_engine(engine) as scratch:
        upgrade_to(scratch, revisions)
        expected = _reflect(scratch)
    return Verification(revisions, compare_schemas(live, expected))


@dataclass
class UnfinishedStep:
    """How the live schema stands after a step that did not finish (failed, or
    its process was killed), for the job's report."""

    revision: str
    # The live schema against the stamped revisions (None when unversioned).
    stamped: Verification | None
    # ... and against the step's destination, built as far as it runs.
    destination: Verification
    error: str | None
    # The objects the step creates that exist already, and those it drops
    # that are gone already: what of it ran, whatever the comparisons say
    # (they ignore tables the reference does not have).
    traces: list[str]


def inspect_unfinished_step(
    engine: Engine, revision: str, direction: str
) -> UnfinishedStep:
    """Build the stamped revisions' schema and the step's destination (for an
    upgrade, `revision`; for a downgrade, its parents) once each in scratch
    databases, and compare the live schema with both and with the difference
    between them."""
    catalog = load_catalog()
    revision = catalog.one_revision(revision)
    if direction == "upgrade":
        destination = (revision,)
    else:
        destination = catalog.by_id[revision].down_revisions
    stamped = stamped_revisions(engine)
    live = _reflect(engine)
    error = None
    with scratch_engine(engine) as before_db, scratch_engine(engine) as after_db:
        upgrade_to(before_db, stamped, catalog.script)
        before = _reflect(before_db)
        try:
            upgrade_to(after_db, destination, catalog.script)
        except Exception as exc:  # the step's own failure, reproduced
            error = error_line(exc)
        after = _reflect(after_db)
    return UnfinishedStep(
        revision=revision,
        stamped=(
            Verification(stamped, compare_schemas(live, before)) if stamped else None
        ),
        destination=Verification(destination, compare_schemas(live, after)),
        error=error,
        traces=_traces(live, before, after, revision),
    )


def _traces(live: Schema, before: Schema, after: Schema, revision: str) -> list[str]:
    live_objects = schema_objects(live)
    before_objects, after_objects = schema_objects(before), schema_objects(after)
    created = after_objects.keys() - before_objects.keys()
    dropped = before_objects.keys() - after_objects.keys()
    return [
        f"{after_objects[key]} exists, created by the unfinished {revision}"
        for key in outermost(created)
        if key in live_objects
    ] + [
        f"{before_objects[key]} is gone, dropped by the unfinished {revision}"
        for key in outermost(dropped)
        if key not in live_objects
    ]


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
            "adopt is only for an unversioned database. `flask db verify` "
            "checks it against that revision; if the stamp is wrong, remove "
            "it with `flask db stamp --purge base`, then run `flask db adopt`."
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
    # The guard of migrations/env.py takes this comparison as the stamp's proof.
    config = alembic_config(
        audit_action="adopt", proven_stamp=found.revisions, **(run_attributes or {})
    )
    command.stamp(config, found.revisions[0])
    return Adoption(found, stamped=True)


def first_revision_tables(engine: Engine, catalog: Catalog) -> list[str] | None:
    """The tables the base revision(s) create, in their order, for this
    dialect: rendered offline once per catalog. None when a base revision
    cannot be rendered offline (its code reads the database)."""

    def compute() -> list[str] | None:
        tables: list[str] = []
        for revision in reversed(catalog.revisions):
            if not revision.is_base:
                continue
            plan = step_plan(engine, catalog, revision.id, "upgrade")
            if plan.error:
                return None
            for op in plan.steps[0].operations:
                if op.name == "create_table":
                    tables.append(getattr(op.args[0], "name", str(op.args[0])))
        return tables

    return catalog.memo(("first revision tables", engine.dialect.name), compute)


def existing_first_revision_tables(engine: Engine, catalog: Catalog) -> list[str]:
    """Which tables of the first revision's schema the database already has
    (every table of the user's when that schema cannot be known offline). An
    unversioned database that has some is adopted, never upgraded from base."""
    live = set(user_table_names(engine))
    expected = first_revision_tables(engine, catalog)
    if expected is None:
        return sorted(live)
    return [table for table in expected if table in live]


def user_table_names(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
    return [name for name in names if not not_user_schema(name)]


def adopt_if_unversioned(
    engine: Engine, run_attributes: dict | None = None
) -> Adoption | None:
    """Adoption for deploy scripts that must work on a new database and on a
    legacy one alike (`flask db upgrade --adopt`): an unversioned database that
    already has the first revision's tables is adopted (verified, as `flask db
    adopt` does). None when there is nothing to adopt (versioned, or without
    those tables): upgrade it as it is. An Adoption with `stamped` False when
    no revision matches: nothing was written, and the upgrade must not run."""
    if stamped_revisions(engine):
        return None
    if not existing_first_revision_tables(engine, load_catalog()):
        return None
    return adopt(engine, run_attributes=run_attributes)


def unknown_revision_line(
    unknown: tuple[str, ...], surface: str = "cli", catalog: Catalog | None = None
) -> str:
    """What to do about a stamp the scripts do not know, in `surface`'s terms
    (the CLI's commands, or the console's and the API's). A stamped prefix of
    a revision's id is unknown too: Headway reads stamps as they are."""
    catalog = catalog or load_catalog()
    prefixes = {
        rev: [full for full in catalog.by_id if full.startswith(rev)] for rev in unknown
    }
    prefix_of = {rev: found[0] for rev, found in prefixes.items() if len(found) == 1}
    what = (
        f"the database is stamped with {describe(unknown)}, which the scripts "
        "do not have"
    )
    if prefix_of:
        rev, full = next(iter(prefix_of.items()))
        what += f" ({rev} is only a prefix of {full}: stamps hold whole ids)"
    else:
        what += " (newer code rolled back, or a revision file deleted)"
    if surface != "cli":
        return (
            f"{what}. Deploy the code that has it, or restamp: a stamp of REV "
            'with purge (the console\'s "Stamp a revision", purge ticked, or '
            '{"action": "stamp", "target": "REV", "purge": true}), checked '
            "against REV's schema first."
        )
    return (
        f"{what}. Deploy the code that has it, or restamp: `flask db stamp --purge "
        "REV` (checked against REV's schema first), or `flask db stamp --purge "
        "base` then `flask db adopt`."
    )
