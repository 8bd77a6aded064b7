"""A job's log for its page: plain lines, and each Python traceback folded
to its last line (the exception), with the whole text kept to unfold."""

import re
import socket
from dataclasses import dataclass

from flask_login import current_user

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


# An absolute file path (not part of a URL): its directories are the server's.
ABSOLUTE_PATH = re.compile(r"""(?<![\w/:.~-])/(?:[^\s"'/:]+/)+([^\s"'/:,)]+)""")


def sees_server_details() -> bool:
    """Operators see where a job ran and where its files are: they may need
    them to look at the server. Viewers do not."""
    return current_user.is_authenticated and current_user.has_role("operator")


def hide_server_details(text: str | None, host: str | None = None) -> str | None:
    """`text` for a viewer: each file path cut to its last part, the server's
    host name (this one's, and `host`) replaced."""
    if not text or sees_server_details():
        return text
    text = ABSOLUTE_PATH.sub(r"…/\1", text)
    for name in {socket.gethostname(), host or ""}:
        if len(name) > 1:
            text = re.sub(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", "(server)", text)
    return text


def hide_os_user_host(os_user: str | None) -> str | None:
    """An audit row's `user@host`, the host hidden from viewers."""
    if not os_user or "@" not in os_user:
        return os_user
    return hide_server_details(os_user, os_user.rpartition("@")[2])
