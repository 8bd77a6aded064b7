"""requirements.txt declares everything the app imports when it runs.

The development tools (pytest pulls in `packaging`, for one) make a dev
environment richer than a user's: gunicorn's gevent worker imports
`packaging`, which only gunicorn's `gevent` extra declares, and `make run` on a
fresh machine failed on it while every test here passed.
"""

import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent

# Everything that runs in production, beyond what the interpreter starts
# with: the app with its web admin and every module the CLI or a job imports
# late, the Alembic environment's helpers,
# and each worker class gunicorn.conf.py can choose.
IMPORT_EVERYTHING = """
import importlib, json, pkgutil, sys
before = set(sys.modules)  # the interpreter's own (and site's .pth files')
import wsgi, app
for module in pkgutil.walk_packages(app.__path__, "app."):
    importlib.import_module(module.name)
for worker in ("ggevent", "gthread", "sync"):
    importlib.import_module("gunicorn.workers." + worker)
import pymysql
print(json.dumps(sorted({name.split(".")[0] for name in set(sys.modules) - before})))
"""


def declared_distributions() -> set[str]:
    """requirements.txt's distributions and, transitively, what they require
    (with the extras asked for), as installed here."""
    wanted = []
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            wanted.append(Requirement(line))
    found: set[str] = set()
    while wanted:
        requirement = wanted.pop()
        name = canonical(requirement.name)
        key = (name, tuple(sorted(requirement.extras)))
        if key in found:
            continue
        found.add(key)
        for text in metadata.distribution(requirement.name).requires or []:
            needed = Requirement(text)
            if needed.marker is None or any(
                needed.marker.evaluate({"extra": extra})
                for extra in (requirement.extras or {""})
            ):
                wanted.append(needed)
    return {name for name, _ in found}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.mark.live
def test_every_imported_distribution_is_declared():
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    imported = json.loads(result.stdout.splitlines()[-1])
    owners = metadata.packages_distributions()
    used = {canonical(d) for module in imported for d in owners.get(module, [])}
    assert used, imported  # the mapping found the app's libraries at all
    assert "flask" in used
    missing = sorted(used - declared_distributions())
    assert not missing, f"imported but not in requirements.txt: {missing}"
