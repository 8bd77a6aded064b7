"""A job's log for its page: plain lines, and each Python traceback folded
to its last line (the exception), with the whole text kept to unfold."""

import re
from dataclasses import dataclass

TRACEBACK = "Traceback (most recent call last):"
# What Python prints between the tracebacks of chained exceptions.
CHAINED = (
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
)
# A line of the job's own (runner.py's JobLog): a time, or its last words.
OWN_LINE = re.compile(r"^(\d\d:\d\d:\d\d |failed[:;]|succeeded;|drift check:)")


@dataclass
class LogPart:
    text: str
    # The exception line, when the part is a traceback.
    last_line: str | None = None

    @property
    def is_traceback(self) -> bool:
        return self.last_line is not None


def log_parts(log: str) -> list[LogPart]:
    """The log split into runs of plain lines and whole tracebacks."""
    lines = log.splitlines()
    parts: list[LogPart] = []
    plain: list[str] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() != TRACEBACK:
            plain.append(lines[i])
            i += 1
            continue
        if plain:
            parts.append(LogPart("\n".join(plain)))
            plain = []
        end, last = _traceback_end(lines, i)
        parts.append(LogPart("\n".join(lines[i:end]), last_line=last))
        i = end
    if plain:
        parts.append(LogPart("\n".join(plain)))
    return parts


def _traceback_end(lines: list[str], start: int) -> tuple[int, str]:
    """The index after the traceback that starts at `start` (chained ones
    included), and its last exception line."""
    i, last = start + 1, ""
    while True:
        # The frames: indented lines.
        while i < len(lines) and lines[i][:1] in (" ", "\t"):
            i += 1
        if i < len(lines):
            last = lines[i]
            i += 1
            # A message of several lines goes on until the job's next line.
            while (
                i < len(lines)
                and lines[i].strip()
                and lines[i].strip() != TRACEBACK
                and not OWN_LINE.match(lines[i])
            ):
                i += 1
        # A chained exception follows after a blank line.
        j = i
        while j < len(lines) and not lines[j].strip():
            j += 1
        if j < len(lines) and lines[j].strip() in CHAINED:
            j += 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            if j < len(lines) and lines[j].strip() == TRACEBACK:
                i = j + 1
                continue
        return i, last or "(an exception)"
