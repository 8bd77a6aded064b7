"""`flask db verify` and `flask db adopt`: prove the live schema is a
revision's schema before anything is stamped.

A revision's schema is built for real, by running the migrations in a scratch
database of the same dialect (see scratch.py), then both are reflected and
compared (see schema.py). Nothing here writes to the live database except the
final stamp of a successful adoption.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import produce_migrations, render_python_code
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import rev_id
from sqlalchemy.engine import Engine

from app.dbadmin.cli_words import cli_ways
from app.dbadmin.core.alembic_env import (
    COMPARE_OPTIONS,
    USER_VERSION_TABLE,
    alembic_config,
    describe,
    quiet_alembic,
)
from app.dbadmin.core.audit import AUDIT_TABLE
from app.dbadmin.core.catalog import Catalog, load_catalog
from app.dbadmin.core.fingerprint import OK, check_schema, record_fingerprint
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
from app.dbadmin.core.ways import Ways
from app.errors import HeadwayError, error_line
from app.extensions import db
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
    result = verify_revisions(engine, revisions)
    remember_proof(engine, result, catalog)
    return result


def remember_proof(
    engine: Engine, result: "Verification", catalog: Catalog | None = None
) -> None:
    """After a comparison that matched: keep the live schema's fingerprint as
    that revision's, for the cheap check of every probe (core/fingerprint.py).
    Not called inside a migration run (its connection may hold SQLite's write
    lock)."""
    if result.matches:
        record_fingerprint(
            engine, catalog or load_catalog(), result.revisions, db.metadata
        )


@contextmanager
def keeping_the_proof(engine: Engine, proven: bool = False) -> Iterator[None]:
    """Around a run that Headway makes (upgrade, downgrade, a verified stamp):
    when the live schema was what its revision should be before it (the cheap
    check says so, or the run is a stamp whose guard proves it), keep its
    fingerprint as the new revision's afterwards, so that the probes go on
    checking it. Nothing is kept after a failure."""
    catalog = load_catalog()
    if not proven:
        try:
            current = stamped_revisions(engine)
            # (A redundant stamp is refused by the run's guards anyway.)
            if (
                current
                and all(r in catalog.by_id for r in current)
                and not redundant_stamps(catalog, current)
            ):
                with engine.connect() as conn:
                    check = check_schema(conn, catalog, current, db.metadata)
                proven = check.state == OK
        except sa.exc.SQLAlchemyError:
            proven = False  # the run itself says what is wrong
    yield
    if proven:
        after = stamped_revisions(engine)
        if after:
            record_fingerprint(engine, load_catalog(), after, db.metadata)


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

    @property
    def accepted(self) -> bool:
        """Stamped despite differences (--accept-differences)."""
        return self.stamped and not self.verification.matches


# The audit row's action of an adoption despite differences.
ADOPT_ACCEPTED = "adopt-accepted"


def adopt(
    engine: Engine,
    to: str | None = None,
    dry_run: bool = False,
    run_attributes: dict | None = None,
    accept_differences: bool = False,
) -> Adoption:
    """Stamp an unversioned database with the newest revision whose schema it
    has (or with `to`, after checking it). When nothing matches, write nothing
    and return the closest revision's differences; with `accept_differences`,
    stamp the closest revision (or `to`) all the same, and record the
    differences accepted in the audit trail. `run_attributes` reach
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
    if dry_run or not (found.matches or accept_differences):
        return Adoption(found, stamped=False)
    attributes = dict(audit_action="adopt", **(run_attributes or {}))
    if not found.matches:
        _refuse_unless_audited(engine)
        attributes.update(
            audit_action=ADOPT_ACCEPTED, accepted_differences=found.differences
        )
    # The guard of migrations/env.py takes this comparison (or the explicit
    # acceptance of its differences) as the stamp's proof.
    config = alembic_config(proven_stamp=found.revisions, **attributes)
    command.stamp(config, found.revisions[0])
    # What the probes compare with from now on: this schema, as accepted (a
    # change made later still shows).
    record_fingerprint(engine, load_catalog(), found.revisions, db.metadata)
    return Adoption(found, stamped=True)


def _refuse_unless_audited(engine: Engine) -> None:
    """An adoption despite differences is only made when the audit trail can
    record what was accepted."""
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        ready = inspector.has_table(AUDIT_TABLE.name) and any(
            c["name"] == "accepted_differences"
            for c in inspector.get_columns(AUDIT_TABLE.name)
        )
    if not ready:
        raise HeadwayError(
            "an adoption despite differences is recorded in Headway's audit "
            "trail, which is not set up (or is older): run `flask headway init` "
            "first"
        )


@dataclass
class Reconciliation:
    """A revision written on top of the closest one, whose upgrade turns that
    revision's schema into the live one."""

    revision: str
    base: str
    path: str
    # What the written revision does not reproduce (autogenerate does not
    # render it): to be added by hand before `flask db adopt --to REVISION`.
    remaining: list[str]
    # The revision it sits on is not a head: the scripts have one head more.
    branches: bool


def _reconcile_include(obj, name, type_, reflected, compare_to) -> bool:
    """Everything of the user's on both sides: what only the revision's
    schema has is dropped, what only the live one has is created."""
    return not (type_ == "table" and not_user_schema(name))


def write_reconciling_revision(engine: Engine, base: str) -> Reconciliation:
    """Write a revision file on top of `base` whose upgrade turns `base`'s
    schema into the live schema (Alembic's autogenerate, run with the live
    schema as the target and `base`'s, built in a scratch database, as the
    database), then build it to check what it does not cover. Nothing is
    written to the database."""
    catalog = load_catalog()
    base = catalog.one_revision(base)
    sqlite = engine.dialect.name == "sqlite"
    live = sa.MetaData()
    with engine.connect() as conn:
        live.reflect(conn, only=user_table_names(engine))
    with scratch_engine(engine) as scratch:
        upgrade_to(scratch, (base,), catalog.script)
        with scratch.connect() as conn, quiet_alembic():
            context = MigrationContext.configure(
                conn,
                opts={
                    "include_object": _reconcile_include,
                    "target_metadata": live,
                    **COMPARE_OPTIONS,
                },
            )
            script = produce_migrations(context, live)
            upgrades, downgrades = (
                render_python_code(
                    ops, render_as_batch=sqlite, migration_context=context
                )
                for ops in (script.upgrade_ops, script.downgrade_ops)
            )
    revision = rev_id()
    directory = ScriptDirectory.from_config(alembic_config())
    written = directory.generate_revision(
        revision,
        f"reconcile {base} with the live schema",
        head=base,
        splice=base not in catalog.heads,
        upgrades=upgrades,
        downgrades=downgrades,
        imports="" if sqlite else "from sqlalchemy.dialects import mysql",
    )
    try:
        remaining = verify_revisions(engine, (revision,)).differences
    except Exception as exc:  # the file as written does not run: say so
        remaining = [f"the revision does not run: {error_line(exc)}"]
    if remaining:
        _note_remaining(written.path, base, revision, remaining)
    return Reconciliation(
        revision, base, written.path, remaining, base not in catalog.heads
    )


def _note_remaining(path: str, base: str, revision: str, remaining: list[str]) -> None:
    """Put what the file does not cover in it, above upgrade(), for review."""
    with open(path, encoding="utf-8") as f:
        source = f.read()
    note = (
        f"# Headway: {base} plus this upgrade does not yet build the live schema.\n"
        "# Add by hand (autogenerate does not render these), then check with\n"
        f"# `flask db verify {revision}` before `flask db adopt --to {revision}`:\n"
        + "".join(f"#   - {line}\n" for line in remaining)
        + "\n\n"
    )
    source = source.replace("def upgrade():", note + "def upgrade():", 1)
    with open(path, "w", encoding="utf-8") as f:
        f.write(source)


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
    unknown: tuple[str, ...], ways: Ways | None = None, catalog: Catalog | None = None
) -> str:
    """What to do about a stamp the scripts do not know, in `ways`' words (the
    CLI's by default). A stamped prefix of a revision's id is unknown too:
    Headway reads stamps as they are."""
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
    restamp = (ways or cli_ways()).restamp_unknown
    return f"{what}. Deploy the code that has it, or restamp: {restamp}"
