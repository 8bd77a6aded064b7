"""What a stamp job will check, shown on the plan page before it starts: the
same proof migrations/env.py asks for (core/guards.py's prove_stamp), made
now, as a dry run. A stamp runs no SQL on the user's tables; the check is
what there is to read."""

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from app.dbadmin.core.catalog import Catalog
from app.dbadmin.core.guards import Refused, prove_stamp
from app.dbadmin.web.overview import DRY_RUN_MAX_REVISIONS
from app.dbadmin.web.words import CONSOLE_WAYS
from app.errors import HeadwayError


@dataclass
class StampDryRun:
    target: str
    revisions: tuple[str, ...]
    # "verified", "refused", "nothing" (base) or "not made" (see `text`).
    outcome: str
    text: str  # how it was proven, or the refusal with its differences

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()


def stamp_revisions(catalog: Catalog, target: str) -> tuple[str, ...]:
    """The revisions a stamp of `target` proves (the job works them out again
    from where the database then stands)."""
    if target == "base":
        return ()
    if target == "heads":
        return tuple(catalog.heads)
    return (catalog.one_revision(target),)


def _ancestors(catalog: Catalog, revisions: tuple[str, ...]) -> int:
    seen: set[str] = set()
    todo = list(revisions)
    while todo:
        rev = todo.pop()
        if rev in seen or rev not in catalog.by_id:
            continue
        seen.add(rev)
        todo.extend(catalog.by_id[rev].down_revisions)
    return len(seen)


def stamp_dry_run(
    engine: Engine, catalog: Catalog, metadata, target: str
) -> StampDryRun:
    try:
        revisions = stamp_revisions(catalog, target)
    except HeadwayError as exc:
        return StampDryRun(target, (), "not made", str(exc))
    if not revisions:
        return StampDryRun(
            target, (), "nothing", "a stamp of base removes the stamp: nothing to prove"
        )
    if _ancestors(catalog, revisions) > DRY_RUN_MAX_REVISIONS:
        return StampDryRun(
            target,
            revisions,
            "not made",
            "it builds the revision's schema from the first revision, too long "
            "for a page: run `flask db verify` in a shell, or start the stamp "
            "(the job checks before it stamps)",
        )
    try:
        how = prove_stamp(engine, catalog, metadata, revisions, CONSOLE_WAYS)
    except Refused as exc:
        return StampDryRun(target, revisions, "refused", str(exc))
    except HeadwayError as exc:
        return StampDryRun(target, revisions, "not made", str(exc))
    return StampDryRun(target, revisions, "verified", how)
