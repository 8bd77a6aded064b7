"""The catalog of the user's revision scripts, parsed once per process.

The catalog is rebuilt only when a file in versions/ changes (checked at most
every SCRIPT_CACHE_CHECK_SECONDS), so no page re-imports every revision file.
A broken file (a syntax error, a down_revision that does not exist, a cycle)
is set aside and reported by name; the rest of the history stays usable.
"""

import hashlib
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from alembic.script import Script, ScriptDirectory
from flask import current_app

from app.dbadmin.core.alembic_env import (
    ScriptDirectoryLoadingItsOwn,
    lent_revision_map,
    read_scripts,
)
from app.errors import HeadwayError, error_line


@dataclass(frozen=True)
class BrokenFile:
    filename: str
    problem: str


@dataclass(frozen=True)
class Revision:
    id: str
    down_revisions: tuple[str, ...]
    message: str
    created: str | None
    filename: str
    checksum: str
    is_head: bool
    is_base: bool
    is_branch_point: bool
    is_merge_point: bool

    @property
    def kinds(self) -> list[str]:
        names = ("head", "base", "branch point", "merge point")
        flags = (self.is_head, self.is_base, self.is_branch_point, self.is_merge_point)
        return [name for name, flag in zip(names, flags, strict=True) if flag]


class TolerantScriptDirectory(ScriptDirectoryLoadingItsOwn):
    """A ScriptDirectory that skips broken revision files and records why."""

    def __init__(self, directory: str) -> None:
        self.broken: list[BrokenFile] = []
        super().__init__(directory)

    def load_revisions(self) -> Iterator[Script]:
        scripts: dict[str, Script] = {}
        for path, script, error in read_scripts(self):
            if error is not None:
                self.broken.append(BrokenFile(path.name, _describe(error)))
                continue
            if script is None:
                continue
            if script.revision in scripts:
                self.broken.append(
                    BrokenFile(path.name, f"revision id {script.revision} is taken")
                )
                continue
            scripts[script.revision] = script
        yield from _without_dangling(scripts, self.broken)


def _describe(exc: Exception) -> str:
    if isinstance(exc, SyntaxError):
        return f"syntax error on line {exc.lineno}: {exc.msg}"
    return error_line(exc, with_type=True)


def _line_of(path: str, name: str) -> int | None:
    """The line that assigns `name` in a revision file, for messages."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return None
    pattern = re.compile(rf"^{name}\s*(:[^=]*)?=")
    return next((n for n, text in enumerate(lines, 1) if pattern.match(text)), None)


def _parents(script: Script) -> tuple[str, ...]:
    down = script.down_revision
    if down is None:
        return ()
    return (down,) if isinstance(down, str) else tuple(down)


def _without_dangling(
    scripts: dict[str, Script], broken: list[BrokenFile]
) -> list[Script]:
    """Drop scripts whose parent is missing (transitively) or in a cycle."""
    good = dict(scripts)
    changed = True
    while changed:
        changed = False
        for rev, script in list(good.items()):
            missing = [p for p in _parents(script) if p not in good]
            if missing:
                reason = (
                    f"down_revision {missing[0]} does not exist"
                    if missing[0] not in scripts
                    else f"its parent {missing[0]} is broken"
                )
                line = _line_of(script.path, "down_revision")
                reason = f"line {line}: {reason}" if line else reason
                broken.append(BrokenFile(Path(script.path).name, reason))
                del good[rev]
                changed = True
    # Kahn's algorithm: what cannot be ordered is in a cycle.
    children: dict[str, list[str]] = {rev: [] for rev in good}
    pending = {rev: len(_parents(s)) for rev, s in good.items()}
    for rev, script in good.items():
        for parent in _parents(script):
            children[parent].append(rev)
    ready = [rev for rev, n in pending.items() if n == 0]
    ordered = []
    while ready:
        rev = ready.pop()
        ordered.append(rev)
        for child in children[rev]:
            pending[child] -= 1
            if pending[child] == 0:
                ready.append(child)
    for rev in sorted(set(good) - set(ordered)):
        broken.append(
            BrokenFile(Path(good[rev].path).name, "part of a down_revision cycle")
        )
    return [good[rev] for rev in ordered]


_CREATE_DATE = re.compile(r"^Create Date:\s*(.+)$", re.MULTILINE)


@dataclass
class Catalog:
    """Everything the console shows about the scripts, newest first."""

    script: TolerantScriptDirectory
    revisions: list[Revision]
    heads: tuple[str, ...]
    broken: list[BrokenFile]
    # The revision files as imported, for Alembic's own runs (lend_scripts).
    scripts: tuple[Script, ...] = ()
    by_id: dict[str, Revision] = field(init=False)
    _memo: dict = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.by_id = {r.id: r for r in self.revisions}

    def memo(self, key, compute):
        """compute() once per key for this catalog. The scripts don't change
        until the catalog is rebuilt, so what follows from them and the
        database's current revisions (pending, applied, the graph) is kept."""
        try:
            return self._memo[key]
        except KeyError:
            value = self._memo[key] = compute()
            return value

    @property
    def versions_path(self) -> Path:
        return Path(self.script.versions)

    def resolve(self, rev: str) -> str | None:
        """A full id from an id or a unique prefix, else None."""
        if rev in self.by_id:
            return rev
        matches = [r for r in self.by_id if r.startswith(rev)]
        return matches[0] if len(matches) == 1 else None

    def one_revision(self, rev: str) -> str:
        """A full id from an id, a unique prefix, or head/heads when there is
        one head; HeadwayError naming the problem otherwise."""
        if rev in ("head", "heads"):
            if len(self.heads) != 1:
                raise HeadwayError(
                    f"{rev!r} names {len(self.heads)} revisions; give exactly one"
                )
            return self.heads[0]
        full = self.resolve(rev)
        if full is None:
            raise HeadwayError(self.unresolved(rev, "revision"))
        return full

    def unresolved(self, rev: str, what: str) -> str:
        """Why `rev` names no revision: none starts with it, or several do."""
        matches = sorted(r for r in self.by_id if r.startswith(rev))
        if len(matches) < 2:
            return f"unknown {what} {rev!r}"
        shown = ", ".join(matches[:3]) + (", ..." if len(matches) > 3 else "")
        return f"{rev!r} starts {len(matches)} revisions ({shown}): type more of the id"

    def refuse_broken_files(self, what: str) -> None:
        """Raise HeadwayError naming each broken revision file: `what` (a job,
        a drift check) loads every script the way Alembic does, and would fail
        on it half-way instead of now."""
        if self.broken:
            files = "; ".join(f"{b.filename}: {b.problem}" for b in self.broken)
            raise HeadwayError(
                f"{what} needs every revision file, and "
                f"{'this one is' if len(self.broken) == 1 else 'these are'} "
                f"broken ({files}): fix or remove it first"
            )

    def in_order(self) -> list[str]:
        """Every revision id, oldest first (parents before children)."""
        return [r.id for r in reversed(self.revisions)]


def _build(directory: str) -> Catalog:
    script = TolerantScriptDirectory(directory)
    walked = list(script.walk_revisions("base", "heads"))
    heads = tuple(script.get_heads())
    revisions = []
    for s in walked:
        doc = s.module.__doc__ or ""
        created = _CREATE_DATE.search(doc)
        revisions.append(
            Revision(
                id=s.revision,
                down_revisions=_parents(s),
                message=(s.doc or "").strip().splitlines()[0] if s.doc else "",
                created=created.group(1).strip() if created else None,
                filename=Path(s.path).name,
                checksum=hashlib.sha256(Path(s.path).read_bytes()).hexdigest(),
                is_head=s.revision in heads,
                is_base=not _parents(s),
                is_branch_point=len(s.nextrev) > 1,
                is_merge_point=len(_parents(s)) > 1,
            )
        )
    return Catalog(script, revisions, heads, script.broken, tuple(walked))


def _signature(versions: str) -> tuple:
    try:
        entries = os.scandir(versions)
    except FileNotFoundError:
        return ()
    with entries:
        return tuple(
            sorted(
                (e.name, e.stat().st_mtime_ns, e.stat().st_size)
                for e in entries
                if e.name.endswith(".py")
            )
        )


class _CatalogCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # directory -> (signature, checked at, catalog)
        self._entries: dict[str, tuple[tuple, float, Catalog]] = {}

    def get(self, directory: str, check_every: float) -> Catalog:
        with self._lock:
            entry = self._entries.get(directory)
            now = time.monotonic()
            if entry is not None and now - entry[1] < check_every:
                return entry[2]
            signature = _signature(os.path.join(directory, "versions"))
            if entry is not None and entry[0] == signature:
                self._entries[directory] = (signature, now, entry[2])
                return entry[2]
            catalog = _build(directory)
            self._entries[directory] = (signature, now, catalog)
            return catalog


_cache = _CatalogCache()


def load_catalog(directory: str | None = None, check_every: float = 0.0) -> Catalog:
    """The catalog of the scripts in `directory` (default: the current app's
    migrations, re-read as its SCRIPT_CACHE_CHECK_SECONDS says)."""
    if directory is None:
        config = current_app.config
        directory = config["MIGRATIONS_DIR"]
        check_every = config["SCRIPT_CACHE_CHECK_SECONDS"]
    return _cache.get(directory, check_every)


def lend_scripts(script: ScriptDirectory) -> None:
    """Hand the revision files the catalog has imported to `script`, the
    ScriptDirectory an Alembic command made for its run (from the config: a
    command takes none), which would import every one of them again: about
    0.1 s at 1,000 revisions, in every `flask db` command that runs
    migrations/env.py. Not when the catalog set a broken file aside
    (Alembic's own loading then says what it says), nor where `script`
    reads other files than the catalog (version_locations, sourceless)."""
    if (
        script.version_locations
        or script.recursive_version_locations
        or script.sourceless
    ):
        return
    catalog = load_catalog(os.path.abspath(script.dir))
    if catalog.broken or catalog.script is script:
        return
    script.revision_map = lent_revision_map(catalog.scripts)
