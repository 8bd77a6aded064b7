"""The console's and the API's words for the ways on from a refusal
(core/ways.py): a refusal reaches a user of either (a job's log, the plan
page, the API's answer), so each way is said for both."""

from app.dbadmin.core.ways import Ways


def _remove_redundant(effective: tuple[str, ...]) -> str:
    target = effective[0] if len(effective) == 1 else "heads"
    return (
        f': stamp {target} with purge (console: Plan, "Stamp a '
        f'revision", purge ticked; API: {{"action": "stamp", "target": '
        f'"{target}", "purge": true}})'
    )


CONSOLE_WAYS = Ways(
    allow_data_loss=(
        'type the target to confirm (console), or "allow_data_loss": true '
        'with "typed_target" (API)'
    ),
    stamp_unverified=lambda target: (
        '"Stamp without verifying" (console), or "no_verify": true (API)'
    ),
    rollback='"Roll back" on the dashboard (console), or "action": "rollback" (API)',
    resume='"Resume" on the dashboard (console), or "action": "resume" (API)',
    adopt_unversioned=(
        "nothing was planned. Adopt it instead (it stamps the revision "
        "the schema matches): the console's \"Adopt\", or the API's "
        '{"action": "adopt"}.'
    ),
    restamp_unknown=(
        'a stamp of REV with purge (the console\'s "Stamp a revision", purge '
        'ticked, or {"action": "stamp", "target": "REV", "purge": true}), '
        "checked against REV's schema first."
    ),
    remove_redundant=_remove_redundant,
    adopt_matching='adopt it (the console\'s "Adopt", or {"action": "adopt"}).',
    restamp_matching=lambda matching: (
        f'stamp {matching} with purge ({{"action": "stamp", '
        f'"target": "{matching}", "purge": true}}).'
    ),
    skip_preflight='"Skip preflight" on the plan page (console), or '
    '"no_preflight": true (API)',
)
