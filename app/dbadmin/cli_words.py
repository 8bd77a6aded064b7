"""The CLI's words for the ways on from a refusal (core/ways.py): its flags and
commands."""

from app.dbadmin.core.ways import Ways

CLI_WAYS = Ways(
    allow_data_loss="--allow-data-loss",
    stamp_unverified=lambda target: f"`flask db stamp --no-verify {target}`",
    rollback="`flask db rollback` (`--dry-run` shows its SQL first)",
    resume="`flask db resume`",
    adopt_unversioned=(
        "nothing was run. Adopt it instead: "
        "`flask db adopt --dry-run` shows the revision it matches, `flask db "
        "adopt` stamps it (`flask db upgrade --adopt` does both, then upgrades)."
    ),
    restamp_unknown=(
        "`flask db stamp --purge REV` (checked against REV's schema first), or "
        "`flask db stamp --purge base` then `flask db adopt`."
    ),
    remove_redundant=lambda effective: (
        f": `flask db stamp --purge {' '.join(effective)}`."
    ),
    adopt_matching="run `flask db adopt`.",
    restamp_matching=lambda matching: (
        f"run `flask db stamp --purge {matching}`, or `flask db stamp "
        "--purge base` then `flask db adopt`."
    ),
    skip_preflight="--no-preflight",
    no_match=(
        "No revision matches it: `flask db adopt` names the closest one and "
        "the ways forward."
    ),
)


def cli_ways() -> Ways:
    """The terminal's words: the default of core's refusals, for the callers
    that are the CLI's alone (its commands, migrations/env.py outside a
    console job)."""
    return CLI_WAYS
