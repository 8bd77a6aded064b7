"""How a refusal's reader goes on, in the words of the surface that refused.

Core says what is wrong (the facts: the tables, the revisions, the rows); the
way on is an option of the surface the user is on: a flag of the CLI, a
button of the console, a field of the API. Each surface words its own:
`app/dbadmin/cli_words.py` for the terminal, `app/dbadmin/web/words.py` for the
console and the API. Core holds none of those words; a function given none
says the CLI's (the callers that are the CLI's alone pass nothing).
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Ways:
    """A surface's words for the ways on that core's refusals offer."""

    # Say yes to dropping data.
    allow_data_loss: str
    # Stamp REV without the proof of its schema (the revision label).
    stamp_unverified: Callable[[str], str]
    # Undo what a step left half-way applied; run the rest of it.
    rollback: str
    resume: str
    # After "the database is unversioned but already has ...: why, so ".
    adopt_unversioned: str
    # After "stamped with REV, which the scripts do not have. Deploy the code
    # that has it, or restamp: ".
    restamp_unknown: str
    # After "... no upgrade or downgrade runs until it is removed" (the
    # revisions that stay stamped).
    remove_redundant: Callable[[tuple[str, ...]], str]
    # The schema matches a revision: adopt it (unversioned), or restamp it.
    adopt_matching: str
    restamp_matching: Callable[[str], str]
    # Run the steps without preflight first (a step that will fail is then
    # not refused before it starts).
    skip_preflight: str
    # No revision matches: where to look further (None: nothing to add).
    no_match: str | None = None
