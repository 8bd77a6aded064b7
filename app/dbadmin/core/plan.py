"""Plans: the steps between where the database stands and a target, with the
SQL of each step for the live database's dialect (Alembic's offline mode) and
what the destructive-change lint finds in it."""

import ast
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from alembic.runtime.environment import EnvironmentContext
from sqlalchemy.engine import Engine

from app.dbadmin.core.alembic_env import (
    ALEMBIC_LOCK,
    alembic_config,
    downgrade_steps,
    inside_a_running_migration,
    offline_batch_rebuilds,
    quiet_alembic,
    record_impl_calls,
    upgrade_steps,
)
from app.dbadmin.core.catalog import Catalog, Revision
from app.dbadmin.core.lint import LintWarning, Operation, lint_step
from app.dbadmin.core.state import DatabaseState, redundant_stamp_line
from app.dbadmin.core.ways import Ways
from app.errors import HeadwayError, error_line

RECORDED = (
    "add_column",
    "drop_column",
    "alter_column",
    "create_table",
    "drop_table",
    "rename_table",
    "create_index",
    "drop_index",
    "add_constraint",
    "drop_constraint",
    "execute",
    "bulk_insert",
)


class PlanError(HeadwayError):
    """A target that cannot be planned (unknown, or not reachable)."""


@dataclass
class Step:
    revision: Revision
    direction: str
    sql: str = ""
    operations: list[Operation] = field(default_factory=list)
    warnings: list[LintWarning] = field(default_factory=list)
    reversible: bool = True
    # The statements a rehearsal saw the step send (core/rehearsal.py), when
    # one was made: what the offline SQL cannot show (op.get_bind()).
    statements: list[str] = field(default_factory=list)


@dataclass
class Plan:
    target: str
    direction: str
    steps: list[Step]
    sql: str
    error: str | None = None

    @property
    def warnings(self) -> list[LintWarning]:
        return [w for step in self.steps for w in step.warnings]


def resolve_target(catalog: Catalog, target: str) -> str:
    if target in ("head", "heads", "base"):
        return target
    rev = catalog.resolve(target)
    if rev is None:
        raise PlanError(catalog.unresolved(target, "target revision"))
    return rev


RELATIVE = re.compile(r"[+-]\d+")


def relative_target(catalog: Catalog, current: tuple[str, ...], target: str) -> str:
    """The revision that `+N` or `-N` (RELATIVE) reaches from `current`, as
    `flask db upgrade +N` or `downgrade -N` counts the steps; "base" below
    the first. PlanError when Alembic cannot make the count."""
    upgrade = target.startswith("+")
    try:
        with ALEMBIC_LOCK:
            if upgrade:
                steps = upgrade_steps(catalog.script, target, current or "base")
            else:
                steps = downgrade_steps(catalog.script, target, current or None)
    except Exception as exc:  # Alembic's errors for a count it cannot make
        raise PlanError(f"cannot move {target} from {_here(current)}: {exc}") from None
    # Alembic makes exactly N steps or refuses (above). They end on one
    # revision, or on none below the first: it refuses a count that would
    # walk past a merge or a branch point too ("Ambiguous walk").
    reached = steps[-1].to_revisions
    return reached[0] if reached else "base"


def _here(current: tuple[str, ...]) -> str:
    return ", ".join(current) or "base"


def make_plan(
    engine: Engine,
    catalog: Catalog,
    state: DatabaseState,
    target: str,
    render: bool = True,
    ways: Ways | None = None,
) -> Plan:
    """The plan from the database's current revisions to `target`; with
    `render`, each step's SQL and lint too (which runs the revisions' code in
    Alembic's offline mode). A redundant stamp is refused in `ways`' words
    (the CLI's by default)."""
    target = resolve_target(catalog, target)
    if state.redundant:
        # Alembic refuses to move from overlapping revisions.
        raise PlanError(redundant_stamp_line(state.redundant, state.effective, ways))
    current = tuple(state.current)
    applied = state.applied(catalog)
    downgrade = target == "base" or (target in applied and target not in current)
    direction = "downgrade" if downgrade else "upgrade"
    script = catalog.script
    try:
        with ALEMBIC_LOCK:
            if downgrade:
                steps = downgrade_steps(script, target, current or None)
            else:
                steps = upgrade_steps(script, target, current or "base")
    except Exception as exc:  # Alembic's errors for an unreachable target
        raise PlanError(f"cannot {direction} to {target}: {exc}") from None
    plan = Plan(
        target=target,
        direction=direction,
        steps=[
            Step(catalog.by_id[s.revision.revision], direction)
            for s in steps
            if s.revision.revision in catalog.by_id
        ],
        sql="",
    )
    if not render:
        return plan
    if plan.steps:
        _render(engine, catalog, plan, current, target)
    for step in plan.steps:
        step.reversible = _reversible(catalog, step.revision)
        step.warnings = _lint(engine, catalog, step)
    return plan


def step_plan(engine: Engine, catalog: Catalog, rev: str, direction: str) -> Plan:
    """The plan of one revision alone: its upgrade from its parents, or its
    downgrade back to them."""
    revision = catalog.by_id[rev]
    parents = revision.down_revisions
    if direction == "upgrade":
        start, target = parents, rev
    else:
        start, target = (rev,), (parents[0] if len(parents) == 1 else "base")
    steps = [Step(revision, direction)]
    plan = Plan(target=target, direction=direction, steps=steps, sql="")
    _render(engine, catalog, plan, start, target)
    steps[0].reversible = _reversible(catalog, revision)
    steps[0].warnings = _lint(engine, catalog, steps[0])
    return plan


def plan_of_run(
    engine: Engine,
    catalog: Catalog,
    start: tuple[str, ...],
    target: str,
    direction: str,
    revisions: list[str],
) -> Plan:
    """The plan of a run Alembic is about to make: the steps it computed
    (`revisions`, from `start` to `target`), rendered and linted. What the
    guards of migrations/env.py read before anything runs."""
    plan = Plan(
        target=target,
        direction=direction,
        steps=[
            Step(catalog.by_id[r], direction) for r in revisions if r in catalog.by_id
        ],
        sql="",
    )
    if plan.steps:
        _render(engine, catalog, plan, start, target)
    for step in plan.steps:
        step.reversible = _reversible(catalog, step.revision)
        step.warnings = _lint(engine, catalog, step)
    return plan


def _lint(engine: Engine, catalog: Catalog, step: Step) -> list[LintWarning]:
    return lint_step(
        engine,
        step.revision.id,
        step.direction,
        step.operations,
        catalog.versions_path / step.revision.filename,
    )


def _render(engine, catalog, plan: Plan, start: tuple[str, ...], target: str) -> None:
    """Fill in each step's SQL and operations in one offline run."""
    buffer = io.StringIO()
    by_revision = {s.revision.id: s for s in plan.steps}
    recorded: list[Operation] = []
    marks = {"position": 0}

    def on_version_apply(ctx, step, heads, run_args):
        # The step's revision is its "up" side in either direction.
        found = by_revision.get(step.up_revision_id)
        if found is not None:
            found.sql = buffer.getvalue()[marks["position"] :]
            found.operations = list(recorded)
        marks["position"] = len(buffer.getvalue())
        recorded.clear()

    def attach(migration_context):
        record_impl_calls(
            migration_context,
            RECORDED,
            lambda name, args, kwargs: recorded.append(Operation(name, args, kwargs)),
        )

    config = alembic_config(
        configure_logger=False,
        on_version_apply=on_version_apply,
        attach_to_context=attach,
    )
    config.output_buffer = buffer
    script = catalog.script
    direction = plan.direction

    def steps_fn(rev, context):
        if direction == "upgrade":
            return upgrade_steps(script, target, rev)
        return downgrade_steps(script, target, rev)

    try:
        with (
            ALEMBIC_LOCK,
            quiet_alembic(),
            inside_a_running_migration(),
            _batch_rebuilds_recorded(recorded),
            EnvironmentContext(
                config,
                script,
                fn=steps_fn,
                as_sql=True,
                starting_rev=list(start) or None,
                destination_rev=target,
            ),
        ):
            script.run_env()
    except Exception as exc:  # a revision that cannot run offline
        plan.error = error_line(exc, with_type=True)
    plan.sql = buffer.getvalue()


@contextmanager
def _batch_rebuilds_recorded(recorded: list[Operation]) -> Iterator[None]:
    """Offline, a batch rebuild (SQLite's way to drop or alter a column)
    cannot reflect its table, and Alembic stops there. While a plan renders,
    a rebuild records its operations instead (the lint and the data-loss
    guard read them) and says in the SQL that it runs on the live table."""

    def rebuild(context, table: str, operations: list) -> None:
        context.impl.static_output(
            f"-- batch rebuild of {table}: a copy of the table with "
            f"{', '.join(name for name, _, _ in operations)}; its SQL is made "
            "from the live table when it runs"
        )
        recorded.extend(Operation(name, args, kw) for name, args, kw in operations)

    with offline_batch_rebuilds(rebuild):
        yield


def _reversible(catalog: Catalog, revision: Revision) -> bool:
    """False when downgrade() does nothing or only raises."""
    path = Path(catalog.script.versions) / revision.filename
    try:
        tree = ast.parse(path.read_text())
    except (OSError, SyntaxError):
        return False
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "downgrade":
            body = [
                n
                for n in node.body
                if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
            ]
            return any(not isinstance(n, ast.Pass | ast.Raise) for n in body)
    return False
