"""Each of Alembic's private names that Headway uses (all of them in
app/dbadmin/core/alembic_env.py): a test per use, on a real script directory
and a real SQLite database, that fails when an Alembic upgrade changes it."""

import io
import re
from pathlib import Path

import alembic.context
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.operations import Operations
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from app.dbadmin.core.alembic_env import (
    ScriptDirectoryLoadingItsOwn,
    downgrade_steps,
    heads_after,
    inside_a_running_migration,
    lent_revision_map,
    offline_batch_rebuilds,
    read_scripts,
    record_impl_calls,
    running_context_opts,
    steps_of_run,
    upgrade_steps,
    watch_steps,
)

ROOT = Path(__file__).resolve().parent.parent
PRIVATE = re.compile(
    r"\._proxy\b|_list_py_dir|_from_path|_upgrade_revs|_downgrade_revs|"
    r"_migrations_fn|_should_recreate|_load_revisions|_install_proxy|"
    r"_insert_version|_delete_version|_update_version|HeadMaintainer|"
    r"BatchOperationsImpl"
)


@pytest.fixture
def script(tmp_path) -> ScriptDirectory:
    """A script directory with a, b (on a), c (on b)."""
    config = Config(str(tmp_path / "alembic.ini"))
    command.init(config, str(tmp_path / "migrations"))
    config = Config(str(tmp_path / "alembic.ini"))
    for rev, down in (("a", None), ("b", "a"), ("c", "b")):
        command.revision(config, message=rev, rev_id=rev, head=down or "base")
    return ScriptDirectory.from_config(config)


def test_alembic_private_names_are_used_in_alembic_env_only():
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for folder in ("app", "migrations", "bench")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path.name != "alembic_env.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if PRIVATE.search(line)
    ]
    assert offenders == []


def test_steps_up_and_down(script):
    up = upgrade_steps(script, "c", "a")
    assert [s.revision.revision for s in up] == ["b", "c"]
    assert all(s.is_upgrade for s in up)
    down = downgrade_steps(script, "a", "c")
    assert [s.revision.revision for s in down] == ["c", "b"]
    assert not any(s.is_upgrade for s in down)
    assert heads_after(("a",), up) == ("c",)
    assert heads_after(("c",), down) == ("a",)
    assert heads_after(("c",), downgrade_steps(script, "base", "c")) == ()


def test_the_steps_of_a_run_before_it_runs_and_as_it_runs(script):
    engine = sa.create_engine("sqlite://")
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"fn": lambda rev, ctx: upgrade_steps(script, "c", rev)}
        )
        assert [s.revision.revision for s in steps_of_run(context, ())] == [
            "a",
            "b",
            "c",
        ]
        seen = []
        watch_steps(context, seen.append)
        assert len(steps_of_run(context, ("b",))) == 1
        assert [s.revision.revision for s in seen[0]] == ["c"]


def test_impl_calls_and_offline_batch_rebuilds_are_recorded():
    context = MigrationContext.configure(
        dialect_name="sqlite", opts={"as_sql": True, "output_buffer": io.StringIO()}
    )
    recorded = []
    record_impl_calls(context, ["drop_table"], lambda *call: recorded.append(call))
    operations = Operations(context)
    operations.drop_table("titles")
    assert [name for name, _, _ in recorded] == ["drop_table"]

    rebuilt = []
    with offline_batch_rebuilds(lambda *call: rebuilt.append(call)):
        with operations.batch_alter_table("employees", recreate="always") as batch:
            batch.drop_column("phone")
    [(ctx, table, ops)] = rebuilt
    assert ctx is context and table == "employees"
    assert [(name, args[1].name) for name, args, _ in ops] == [("drop_column", "phone")]


def test_scripts_read_one_by_one_and_a_directory_loading_its_own(script):
    versions = Path(script.versions)
    (versions / "broken.py").write_text("revision = 'x'\ndef (:\n")
    found = {path.name: (s, error) for path, s, error in read_scripts(script)}
    assert isinstance(found["broken.py"][1], SyntaxError)
    good = {s.revision for s, error in found.values() if s is not None}
    assert good == {"a", "b", "c"}

    class OnlyA(ScriptDirectoryLoadingItsOwn):
        def load_revisions(self):
            return (s for _, s, _ in read_scripts(self) if s and s.revision == "a")

    assert OnlyA(script.dir).get_heads() == ["a"]


def test_a_lent_revision_map_is_alembics_own_and_leaves_the_lenders_alone(
    script, tmp_path
):
    """Branch labels and a merge on top of a, b, c: the lent map answers as a
    map that read the files itself, and a revision added to it (as a run that
    writes one does) changes neither the lender's map nor its scripts."""
    config = Config(str(tmp_path / "alembic.ini"))
    command.revision(
        config, message="d", rev_id="d", head="a", splice=True, branch_label="side"
    )
    command.revision(config, message="e", rev_id="e", head="c")
    command.merge(config, ["d", "e"], message="join", rev_id="f")
    own = ScriptDirectory.from_config(config)
    lender = ScriptDirectory.from_config(config)
    scripts = list(lender.walk_revisions())
    before = {s.revision: (s.nextrev, set(s.branch_labels)) for s in scripts}
    borrower = ScriptDirectory.from_config(config)
    borrower.revision_map = lent_revision_map(scripts)

    def described(directory):
        return (
            directory.get_heads(),
            directory.get_bases(),
            {
                s.revision: (s.nextrev, s.branch_labels, s.down_revision)
                for s in directory.walk_revisions()
            },
            [s.revision for s in directory.iterate_revisions("f", "base")],
            directory.get_revision("side@head").revision,
        )

    assert described(borrower) == described(own)
    borrower.generate_revision("g", "after the join", head="f")
    assert borrower.get_heads() == ["g"]
    assert lender.get_heads() == ["f"]
    assert {s.revision: (s.nextrev, s.branch_labels) for s in scripts} == before


def test_the_running_context_and_nested_runs(script):
    config = Config()
    config.set_main_option("script_location", script.dir)
    with EnvironmentContext(config, script, destination_rev="c", as_sql=True):
        alembic.context.configure(dialect_name="sqlite")
        assert running_context_opts()["destination_rev"] == "c"
        with inside_a_running_migration():
            with EnvironmentContext(config, script, destination_rev="b"):
                assert running_context_opts()["destination_rev"] == "b"
        # The outer run's context is back.
        assert running_context_opts()["destination_rev"] == "c"
