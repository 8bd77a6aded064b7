"""The rules for what Headway accepts from people: names (usernames, token
names, job targets, revisions) are printable text of a bounded length; ids,
page numbers and other integers are read by one parser (parse_integer)."""

import unicodedata

from werkzeug.routing import IntegerConverter

from app.errors import HeadwayError

# Row ids and other integers from requests fit a signed 64-bit column; a bigger
# one overflows SQLite's driver and MySQL's parser alike.
MAX_ID = 2**63 - 1

# Control characters (NUL, newlines, escapes), invisible format characters
# (such as a right-to-left override), lone surrogates, and line or paragraph
# separators: none of them belongs in a name, and each has broken or disguised
# something downstream (a process argument, a log line, a page).
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def refused_character(value: str) -> str | None:
    """The first character of `value` that no name may hold, or None."""
    for char in value:
        if unicodedata.category(char) in REFUSED_CATEGORIES:
            return char
    return None


def check_name(value: str, what: str, max_length: int, required: bool = True) -> str:
    """`value` when it may serve as `what` (e.g. "the username"); otherwise a
    HeadwayError that says why."""
    if required and not value.strip():
        raise HeadwayError(f"{what} must not be empty")
    if len(value) > max_length:
        raise HeadwayError(f"{what} must have at most {max_length} characters")
    char = refused_character(value)
    if char is not None:
        raise HeadwayError(
            f"{what} must not contain control characters (found U+{ord(char):04X})"
        )
    return value


def printable(text: str, max_length: int) -> str:
    """`text` without the characters names may not hold, cut to `max_length`:
    for what Headway records but does not check (a browser's user agent)."""
    kept = (c for c in text if unicodedata.category(c) not in REFUSED_CATEGORIES)
    return "".join(kept)[:max_length]


def is_valid_id(value: int) -> bool:
    return 1 <= value <= MAX_ID


def parse_integer(
    text: str | None, low: int = -MAX_ID - 1, high: int = MAX_ID
) -> int | None:
    """The integer `text` holds when it is from `low` to `high`, else None.
    ASCII digits with an optional leading minus only: int() also takes other
    scripts' digits ("١٢"), superscripts fail it after isdigit() passed them
    ("²": a 500), and "1_000" or " 12 " are not what a person typed as a
    number. Digits are counted before int() runs, so a long string costs
    nothing."""
    if text is None:
        return None
    digits = text[1:] if text.startswith("-") else text
    if not (digits.isascii() and digits.isdigit()):
        return None
    if len(digits) > len(str(max(abs(low), abs(high)))):
        return None
    value = int(text)
    return value if low <= value <= high else None


def parse_id(text: str | None) -> int | None:
    """A row id (1 to MAX_ID) from a form or a query string, else None."""
    return parse_integer(text, 1, MAX_ID)


class IdConverter(IntegerConverter):
    """`<id:name>` in a route: a row id, 1 to MAX_ID; anything else is a 404
    before the view runs."""

    def __init__(self, url_map) -> None:
        super().__init__(url_map, min=1, max=MAX_ID)
