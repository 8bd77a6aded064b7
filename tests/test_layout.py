"""The code's shape: no import cycle anywhere in app/, and a migration core
that knows nothing of the web."""

import ast
from pathlib import Path

from tests.helpers import ROOT

APP = ROOT / "app"
WEB_NAMES = {"request", "jsonify", "Blueprint"}
WEB_PACKAGES = ("flask_admin", "flask_login")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in APP.rglob("*.py")}


def imports_of(path: Path, known: dict[str, Path]) -> list[tuple[str, list[str]]]:
    """(module, names) of every import in the file, function-level ones too."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [alias.name for alias in node.names]
            found.append((node.module, names))
            # `from app.x import y` where y is itself a module imports it too.
            found.extend(
                (f"{node.module}.{name}", [])
                for name in names
                if f"{node.module}.{name}" in known
            )
    return found


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {
        name: {m for m, _ in imports_of(path, known) if m in known and m != name}
        for name, path in known.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    visiting, done = [], set()

    def visit(node: str) -> list[str] | None:
        if node in visiting:
            return visiting[visiting.index(node) :] + [node]
        if node in done:
            return None
        visiting.append(node)
        for nxt in sorted(graph[node]):
            cycle = visit(nxt)
            if cycle:
                return cycle
        visiting.pop()
        done.add(node)
        return None

    for node in sorted(graph):
        cycle = visit(node)
        if cycle:
            return cycle
    return None


def test_no_import_cycle_in_app():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_find_cycle_finds_one():
    """The check itself can fail."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_migration_core_knows_nothing_of_the_web():
    known = modules()
    offenders = []
    for name, path in known.items():
        if not name.startswith("app.dbadmin.core"):
            continue
        for module, names in imports_of(path, known):
            if module.startswith(WEB_PACKAGES) or (
                module == "flask" and WEB_NAMES & set(names)
            ):
                offenders.append(f"{name} imports {module} {names}")
    assert offenders == []
