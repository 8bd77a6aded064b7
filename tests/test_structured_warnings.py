"""Lint warnings and data-loss items are facts with fields: the console finds
a warning's counts by them, so rewording a message drops nothing."""

import ast
from pathlib import Path
from types import SimpleNamespace

import sqlalchemy as sa

from app.dbadmin.core.guards import AtRisk
from app.dbadmin.core.lint import LintWarning, Operation, lint_step
from app.dbadmin.web.views import at_risk_count, counted_warnings


def test_drop_warnings_name_their_table_and_column(tmp_path):
    source = tmp_path / "0002_drop.py"
    source.write_text("def upgrade():\n    pass\n")
    operations = [
        Operation("drop_table", (sa.Table("titles", sa.MetaData()),), {}),
        Operation("drop_column", ("employees", sa.Column("phone", sa.String(20))), {}),
    ]
    engine = sa.create_engine("sqlite://")
    found = lint_step(engine, "0002", "upgrade", operations, source)
    facts = [(w.code, w.table, w.column) for w in found]
    assert facts == [
        ("drop_table", "titles", None),
        ("drop_column", "employees", "phone"),
    ]


def test_counts_are_found_by_fields_not_by_wording():
    # Messages no rule would write: the counts still go to the right warning.
    warnings = [
        LintWarning("0002", "drop_table", "reworded", "titles"),
        LintWarning("0002", "drop_column", "also reworded", "employees", "phone"),
        LintWarning("0002", "drop_column", "another column", "employees", "fax"),
        LintWarning("0003", "drop_table", "another revision", "titles"),
    ]
    at_risk = [
        AtRisk("0002", "titles", None, 1234, estimated=False),
        AtRisk("0002", "employees", "phone", 1, estimated=False),
    ]
    plan = SimpleNamespace(warnings=warnings)
    counts = [count for _, count in counted_warnings(plan, at_risk)]
    assert counts == ["1,234 rows", "1 non-NULL value", None, None]


def test_the_web_words_the_counts():
    assert at_risk_count(AtRisk("1", "t", None, 1, estimated=False)) == "1 row"
    assert at_risk_count(AtRisk("1", "t", None, 2_000_000, True)) == "~2,000,000 rows"
    assert at_risk_count(AtRisk("1", "t", "c", 3, estimated=False)) == (
        "3 non-NULL values"
    )
    assert at_risk_count(AtRisk("1", "t", "c", 5_000, True)) == (
        "holds values (~5,000 rows)"
    )


def _strings(path):
    """The string literals of a module, docstrings left out."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(
            node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
        )
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_core_words_no_surface_opt_in():
    """The opt-ins are the surfaces' words (app/dbadmin/cli_words.py,
    app/dbadmin/web/words.py), never core's."""
    core = Path(__file__).resolve().parent.parent / "app" / "dbadmin" / "core"
    opt_ins = ("--allow-data-loss", "--no-verify", "(console)", "(API)", '"action"')
    found = [
        f"{path.name}: {text!r}"
        for path in sorted(core.glob("*.py"))
        for text in _strings(path)
        if any(word in text for word in opt_ins)
    ]
    assert found == []
