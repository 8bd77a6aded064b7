"""`flask db preflight` in words: what core/preflight.py found, as tables
and lines for a terminal (the console lays out the same result itself)."""

from app.dbadmin.core import preflight as preflight_core

LOCK_WORDS = {
    preflight_core.INSTANT: "instant",
    preflight_core.IN_PLACE_WRITES_ALLOWED: "in place, writes allowed",
    preflight_core.IN_PLACE_WRITES_BLOCKED: "in place, writes blocked",
    preflight_core.COPY: "table copy, writes blocked",
    preflight_core.ROWS: "row locks (data change)",
    preflight_core.NONE: "none (no existing table)",
    preflight_core.UNKNOWN: "unknown",
}


def preflight_lines(result, direction: str, target: str) -> list[str]:
    """The preflight as the CLI prints it: per step a table of its
    statements, then what was found, then the verdict; the possible
    blockers last."""
    steps = result.steps
    lines = [
        f"Preflight of the {direction} to {target}: {len(steps)} "
        f"step{'s' if len(steps) != 1 else ''} ({result.elapsed_s:.1f} s)"
    ]
    if result.lock_unknown_reason:
        lines.append(f"lock impact unknown: {result.lock_unknown_reason}")
    for step in steps:
        lines.append("")
        lines.append(f"{step.revision} ({step.direction}): {verdict_words(step)}")
        rows = [("#", "statement", "table", "rows", "size", "lock", "time")]
        for s in step.statements:
            size = s.sizes[0] if s.sizes else None
            rows.append(
                (
                    str(s.index),
                    _shorten(" ".join(s.sql.split()), 56),
                    ", ".join(s.tables) or "-",
                    count_text(size.rows, size.estimated) if size else "-",
                    bytes_text(size.bytes, size.estimated) if size else "-",
                    LOCK_WORDS[s.lock.kind],
                    duration_text(s.estimate_s) if s.estimate_s is not None else "-",
                )
            )
        lines += _table(rows, indent="  ")
        notes = []
        for s in step.statements:
            for finding in s.findings:
                notes.append(f"  {s.index}  {finding_words(finding)}")
            if s.lock.reason and s.lock.kind != preflight_core.INSTANT:
                what = "server" if s.lock.kind != preflight_core.UNKNOWN else "why"
                notes.append(f"  {s.index}  lock ({what}): {s.lock.reason}")
        if step.rehearsal_error and not any(
            f.kind == "schema_error" for f in step.findings
        ):
            notes.append(
                "     fails in the rehearsal (the steps run on an empty copy of "
                f"the schema): {step.rehearsal_error}"
            )
        lines += notes
    lines.append("")
    lines += _blocker_lines(result)
    return lines


def verdict_words(step) -> str:
    if step.verdict == "fails":
        parts = [
            f.kind.replace("_", " ") + (f" on {f.table}" if f.table else "")
            for f in step.failures
        ]
        return "WILL FAIL (" + "; ".join(parts) + ")"
    words = []
    for blocked in step.blocked_writes:
        about = (
            f" for about {duration_text(blocked.estimate_s)}"
            if blocked.estimate_s is not None
            else ""
        )
        words.append(f"will block writes on {blocked.table}{about}")
    if step.unknowns or any(
        s.lock.kind == preflight_core.UNKNOWN for s in step.statements
    ):
        words.append("not everything could be checked (see below)")
    return "; ".join(words) or "safe"


def finding_words(f) -> str:
    label = {
        preflight_core.FAILS: "fails",
        preflight_core.WARNING: "warning",
        preflight_core.NOT_CHECKED: "not checked",
        preflight_core.NOT_ANALYSED: "not analysed",
    }[f.severity]
    where = f"{f.table}({', '.join(f.columns)})" if f.columns else f.table
    if f.severity == preflight_core.NOT_CHECKED:
        return f"{label}: {f.kind.replace('_', ' ')} in {where}: {f.detail}"
    if f.severity == preflight_core.NOT_ANALYSED:
        return f"{label}: {f.detail}"
    count = count_text(f.count, f.estimated) if f.count is not None else ""
    what = {
        "duplicates": f"{count} groups of duplicate values in {where} for {f.target}",
        "nulls": f"{count} rows with NULL in {where}",
        "zero_filled": f"{count} rows get {f.target} in the new NOT NULL "
        f"column {where} (no default)",
        "too_long": f"{count} values in {where} longer than {f.target} allows",
        "out_of_range": f"{count} values in {where} outside {f.target}",
        "rounded": f"{count} values in {where} rounded to {f.target}",
        "enum_values": f"{count} rows in {where} use values {f.target} drops",
        "orphans": f"{count} rows in {where} with no parent in {f.target}",
        "check_violations": f"{count} rows of {f.table} violate CHECK ({f.target})",
        "schema_error": f"the server refuses it on the schema: {f.detail}",
    }.get(f.kind, f"{f.kind}: {f.detail}")
    if f.examples:
        what += "; e.g. " + ", ".join(_example(f, e) for e in f.examples[:3])
    return f"{label}: {what}"


def _example(f, example: tuple) -> str:
    if f.kind == "duplicates":
        values = ", ".join(repr(v) for v in example[:-1])
        return f"({values}) x{example[-1]}"
    pairs = zip(f.example_columns, example, strict=False)
    return "(" + ", ".join(f"{c}={v!r}" for c, v in pairs) + ")"


def _blocker_lines(result) -> list[str]:
    if result.dialect != "mysql":
        return []
    after = result.blocker_after_s
    if not result.blockers:
        return [f"Possible blockers: none (no transaction open longer than {after} s)"]
    lines = [
        f"Possible blockers: {len(result.blockers)} transaction(s) open longer "
        f"than {after} s; an ALTER waits for them, and queries on its table "
        "queue behind it:"
    ]
    for b in result.blockers:
        holds = ", ".join(b.tables) if b.tables else "tables unknown"
        query = _shorten(" ".join((b.query or "idle").split()), 60)
        lines.append(
            f"  connection {b.connection_id} ({b.user}@{b.host}, db {b.database}): "
            f"open {b.seconds} s, {holds}; {query}"
        )
    if result.blockers_unnamed_reason:
        lines.append(f"  ({result.blockers_unnamed_reason})")
    return lines


def _table(rows: list[tuple[str, ...]], indent: str = "") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        indent
        + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def count_text(n: int | None, estimated: bool) -> str:
    if n is None:
        return "?"
    return f"{'~' if estimated else ''}{n:,}"


def bytes_text(n: int | None, estimated: bool) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            shown = f"{size:.0f}" if unit == "B" else f"{size:.1f}"
            return f"{'~' if estimated else ''}{shown} {unit}"
        size /= 1024
    return str(n)


def duration_text(seconds: float) -> str:
    if seconds < 1:
        return f"~{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"~{seconds:.1f} s"
    return f"~{seconds / 60:.0f} min"


# What to do about each kind of failure preflight finds, before running again.
_FIXES = {
    "duplicates": "remove the duplicates first (a data revision before this "
    "one), or make the index or key non-unique",
    "nulls": "fill in the NULLs first (a data revision before this one), or "
    "keep the column nullable",
    "too_long": "shorten those values first, or keep the longer type",
    "out_of_range": "change those values first, or keep the wider type",
    "enum_values": "move those rows to a value that stays first, or keep the value",
    "orphans": "delete or fix the rows without a parent first, or add their parents",
    "check_violations": "fix the rows that violate it first, or change the CHECK",
    "schema_error": "fix the revision: the server refuses the statement on the "
    "schema itself, whatever the data",
}


def preflight_refusal(result, direction: str, skip: str, cli: bool = True) -> str:
    """Why a run is refused before its first statement: each step that will
    fail, the statement, what preflight found, and what to fix; `skip` says
    how to run it anyway in the words of the surface that refused (`cli`:
    the terminal's, which also names the commands that go further)."""
    failing = [s for s in result.steps if s.verdict == "fails"]
    first = failing[0]
    lines = [
        f"refusing to {direction}: preflight finds that "
        + ", ".join(s.revision for s in failing)
        + " will fail; nothing was run."
    ]
    for step in failing:
        for statement in step.statements:
            for finding in statement.findings:
                if finding.severity != preflight_core.FAILS:
                    continue
                sql = _shorten(" ".join(statement.sql.split()), 70)
                lines.append(
                    f"  - {step.revision}, statement {statement.index} ({sql}): "
                    f"{finding_words(finding)}"
                )
                lines.append(f"    to fix: {_FIXES.get(finding.kind, 'see above')}")
        if step.rehearsal_error and not any(
            f.kind == "schema_error" for f in step.findings
        ):
            lines.append(
                f"  - {step.revision} fails in the rehearsal (the steps run on an "
                f"empty copy of the schema): {step.rehearsal_error}"
            )
            lines.append(f"    to fix: {_FIXES['schema_error']}")
    index = result.steps.index(first)
    if index and cli:
        before = result.steps[index - 1].revision
        lines.append(
            f"The steps before {first.revision} pass: `flask db {direction} "
            f"{before}` runs them."
        )
    if cli:
        lines.append("`flask db preflight TARGET` shows the whole preflight.")
    lines.append(f"To run it anyway (a step may then fail half-way): {skip}.")
    return "\n".join(lines)
