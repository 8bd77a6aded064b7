"""Put a MySQL/MariaDB table back the way it was, byte for byte.

A migration step that fails half-way on MySQL/MariaDB leaves the DDL it already
ran committed (DDL is not transactional there). Undoing it from the step's own
operations is not exact: Alembic's `AlterColumnOp.reverse()` rebuilds a column
from `existing_*`, which drops a default, a comment or a collation the author
left out. So the undo is computed from text instead: the table's
`SHOW CREATE TABLE` before the step (its before-image) and now. Each column
comes back with its exact before line (`MODIFY COLUMN <line>` keeps the default,
comment, charset, collation and NULL-ness), each key, foreign key and check
with its exact line, and the table options with their before values.

Success means `same_table(show_create(conn, table), before)` afterwards; what
cannot be made to hold (partitioning, system versioning, anything this module
does not recognise) raises `Unrestorable` rather than returning something
approximate.

Data is a separate matter the caller handles (the data-loss guard): a column
or table the step dropped comes back with its structure only, and a column or
table the step added is dropped with whatever it holds. `restore_plan` names
those in its notes, and the column pairs that may be a rename (the text alone
cannot tell a rename from a drop and an add). A column put back to a narrower
type fails on rows written since that do not fit (strict mode) rather than
truncate them. The statements run with foreign_key_checks on: a column that
another table's foreign key uses cannot change type, as for the step itself.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa

from app.errors import HeadwayError

# The table option only the data moves: never part of the comparison.
_AUTO_INCREMENT_OPTION = re.compile(r" AUTO_INCREMENT=\d+")

# MySQL's "table doesn't exist".
_ER_NO_SUCH_TABLE = 1146

# Column types whose definition depends on the table's default character set
# and collation: their SHOW CREATE line names a charset only when it differs
# from the table's, so the same line means another collation under another
# table default.
_TEXT_TYPE = re.compile(
    r"(?:national\s+)?(?:var)?char|(?:tiny|medium|long)?text|enum|set|json",
    re.IGNORECASE,
)

# The value that removes a table option absent from the before-image (SHOW
# CREATE TABLE prints an option only when it is set).
_OPTION_RESET = {
    "COMMENT": "''",
    "ROW_FORMAT": "DEFAULT",
    "STATS_PERSISTENT": "DEFAULT",
    "STATS_AUTO_RECALC": "DEFAULT",
    "STATS_SAMPLE_PAGES": "DEFAULT",
    "PACK_KEYS": "DEFAULT",
    "CHECKSUM": "0",
    "PAGE_CHECKSUM": "DEFAULT",
    "DELAY_KEY_WRITE": "0",
    "MIN_ROWS": "0",
    "MAX_ROWS": "0",
    "AVG_ROW_LENGTH": "0",
    "TRANSACTIONAL": "DEFAULT",
}

_OPTION = re.compile(
    r"\s*(DEFAULT CHARSET|`?[A-Za-z_]+`?)=('(?:[^'\\]|''|\\.)*'|\S+)",
)


class Unrestorable(HeadwayError):
    """The table cannot be put back exactly from its before-image: `reasons`
    says what and why, one line each."""

    def __init__(self, table: str, reasons: list[str]):
        self.table = table
        self.reasons = reasons
        super().__init__(
            f"cannot restore table `{table}` exactly: " + "; ".join(reasons)
        )


@dataclass
class RestorePlan:
    """The statements that put `table` back, and what they cannot bring back
    (notes in words, for the data-loss guard and the user)."""

    table: str
    statements: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # (name now, name before) of a column dropped here and one added again at
    # the same place: perhaps a rename, whose values a CHANGE back would keep
    # (pass it as renamed_columns); the text alone cannot tell.
    possible_renames: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Table:
    """A SHOW CREATE TABLE text taken apart. Every part keeps its exact text:
    the restore re-emits it as it was."""

    columns: dict[str, str]  # name -> definition line, in table order
    keys: list[tuple[str, str]]  # (name, line), PRIMARY KEY included, in order
    foreign_keys: dict[str, str]  # constraint name -> line
    checks: list[tuple[str, str]]  # (name, line), in order
    others: list[str]  # body lines of any other kind (periods, ...)
    options: dict[str, str]  # option name (upper case) -> value text
    tail: str  # what follows the options: partitioning, system versioning


def restore_statements(
    table: str,
    before: str | None,
    now: str | None,
    renamed_columns: Mapping[str, str] | None = None,
) -> list[str]:
    """The MySQL/MariaDB statements that turn `table`, whose SHOW CREATE TABLE
    is `now` (None: absent), back into `before` (None: it did not exist).

    A column the step dropped comes back empty (its structure only), a column
    or table it added is dropped with its data: see `restore_plan` for those
    notes. `renamed_columns` maps a column's name now to its name before,
    for a rename the caller knows of (the step's own statement): it is renamed
    back, keeping its data, instead of dropped and added again.
    Raises Unrestorable when the table cannot be put back exactly."""
    return restore_plan(table, before, now, renamed_columns).statements


def restore_plan(
    table: str,
    before: str | None,
    now: str | None,
    renamed_columns: Mapping[str, str] | None = None,
) -> RestorePlan:
    """`restore_statements` with notes on the data the statements cannot
    bring back or will drop."""
    plan = RestorePlan(table)
    if before is not None:
        before = strip_auto_increment(before)
    if now is not None:
        now = strip_auto_increment(now)
    if before == now:
        return plan
    name = _quote(table)
    if before is None:
        plan.statements.append(f"DROP TABLE {name}")
        plan.notes.append(f"table `{table}` is dropped with its rows")
        return plan
    if now is None:
        plan.statements.append(before)
        plan.notes.append(
            f"table `{table}` is created again with its structure only: "
            "its rows cannot come back"
        )
        return plan

    old, new = _parse(table, before), _parse(table, now)
    renamed = {_quote(n): _quote(b) for n, b in (renamed_columns or {}).items()}
    _check_restorable(table, old, new, renamed)

    clauses = []
    drop_fks = [
        fk_name
        for fk_name, line in new.foreign_keys.items()
        if old.foreign_keys.get(fk_name) != line
    ]
    add_fks = [
        (fk_name, line)
        for fk_name, line in old.foreign_keys.items()
        if new.foreign_keys.get(fk_name) != line
    ]

    drop_checks, add_checks = _ordered_difference(old.checks, new.checks)
    clauses += [f"DROP CONSTRAINT {check_name}" for check_name, _ in drop_checks]

    # Indexes: what `now` has and `before` has not is dropped; so is every
    # index after the first one out of place, to be added again in the before
    # order. MariaDB takes an index dropped and added with the same name and
    # definition in one ALTER for the old one: it keeps the old one's place
    # and IGNORED flag. Such an index is added under a temporary name, then
    # renamed (RENAME INDEX keeps the place). The flag is compared apart: when
    # only the flag differs, ALTER INDEX sets it.
    drop_keys, add_keys = _ordered_difference(
        _unflagged(old.keys), _unflagged(new.keys)
    )
    for key_name, _ in drop_keys:
        clauses.append(
            "DROP PRIMARY KEY" if key_name == "PRIMARY" else f"DROP INDEX {key_name}"
        )

    clauses += _column_clauses(table, old, new, renamed, plan)

    now_keys = dict(_unflagged(new.keys))
    names_in_use = {key_name for key_name, _ in old.keys + new.keys}
    renames = []
    for key_name, unflagged_line in add_keys:
        line = dict(old.keys)[key_name]
        if key_name != "PRIMARY" and now_keys.get(key_name) == unflagged_line:
            temporary = _free_name("hw_restore", names_in_use)
            names_in_use.add(temporary)
            clauses.append("ADD " + line.replace(key_name, temporary, 1))
            renames.append(f"RENAME INDEX {temporary} TO {key_name}")
        else:
            clauses.append(f"ADD {line}")
    dropped = {key_name for key_name, _ in drop_keys}
    now_ignored = {key_name: _ignored(line) for key_name, line in new.keys}
    for key_name, line in old.keys:
        if key_name not in dropped and key_name in now_ignored:
            if now_ignored[key_name] != _ignored(line):
                flag = "IGNORED" if _ignored(line) else "NOT IGNORED"
                clauses.append(f"ALTER INDEX {key_name} {flag}")
    clauses += [f"ADD {line}" for _, line in add_checks]
    options, resets = _option_clauses(table, old.options, new.options)
    clauses += options
    # A reset in the ALTER that changes the engine back does not hold (Aria's
    # PAGE_CHECKSUM=1 stays): then it goes in a statement of its own, after.
    engine_changed = old.options.get("ENGINE") != new.options.get("ENGINE")
    if not engine_changed:
        clauses += resets

    # MariaDB refuses to drop and add a foreign key of the same name in one
    # ALTER (errno 121): then the drops go first, on their own. Otherwise one
    # ALTER does it all: a foreign key may be dropped with the index it needs,
    # or added with it, in the same statement.
    drop_clauses = [f"DROP FOREIGN KEY {fk_name}" for fk_name in drop_fks]
    clauses += [f"ADD {line}" for _, line in add_fks]
    if set(drop_fks) & {fk_name for fk_name, _ in add_fks}:
        plan.statements.append(_alter(name, drop_clauses))
    else:
        clauses = drop_clauses + clauses
    if clauses:
        plan.statements.append(_alter(name, clauses))
    if renames:
        plan.statements.append(_alter(name, renames))
    if engine_changed and resets:
        plan.statements.append(_alter(name, resets))
    if not plan.statements:
        # The texts differ where this module looks at nothing (the opening
        # line, say): better said than a restore that changes nothing.
        raise Unrestorable(table, ["the texts differ outside its definitions"])
    return plan


def restore_tables(
    before: Mapping[str, str | None],
    now: Mapping[str, str | None],
    renamed_columns: Mapping[str, Mapping[str, str]] | None = None,
) -> list[RestorePlan]:
    """The plans for several tables a step touched (`before` and `now` map
    each table to its SHOW CREATE TABLE, None when absent), in an order their
    foreign keys allow with foreign_key_checks on: the tables to create again
    first, parents before children; then the tables to alter (which may add
    a foreign key to a table just created, or drop one to a table about to
    go); the tables to drop last, children before parents.
    `renamed_columns` maps a table to its renames (see restore_statements).
    Raises Unrestorable, naming every table that cannot be put back."""
    renamed_columns = renamed_columns or {}
    plans, refused = {}, []
    for table in sorted(set(before) | set(now)):
        try:
            plans[table] = restore_plan(
                table,
                before.get(table),
                now.get(table),
                renamed_columns.get(table),
            )
        except Unrestorable as exc:
            refused.append(exc)
    if refused:
        raise Unrestorable(
            ", ".join(exc.table for exc in refused),
            [f"{exc.table}: {reason}" for exc in refused for reason in exc.reasons],
        )
    created = [t for t in plans if now.get(t) is None and before.get(t) is not None]
    dropped = [t for t in plans if before.get(t) is None and now.get(t) is not None]
    altered = [t for t in plans if t not in created and t not in dropped]
    order = (
        _parents_first(created, before) + altered + _parents_first(dropped, now)[::-1]
    )
    return [plans[table] for table in order if plans[table].statements]


def _parents_first(tables: list[str], texts: Mapping[str, str | None]) -> list[str]:
    """`tables` ordered so that a table comes after those of them it
    references (a table referencing itself aside)."""
    references = {
        table: {
            name.replace("``", "`")
            for name in re.findall(r" REFERENCES `((?:[^`]|``)*)` ", texts[table] or "")
            if name.replace("``", "`") in tables and name != table
        }
        for table in tables
    }
    ordered: list[str] = []
    while len(ordered) < len(tables):
        ready = [
            t for t in tables if t not in ordered and references[t] <= set(ordered)
        ]
        # A cycle of foreign keys: no order works; keep the given one, and
        # let the server say which constraint is in the way.
        ordered += ready or [t for t in tables if t not in ordered]
    return ordered


def show_create(conn: sa.Connection, table: str) -> str | None:
    """The table's SHOW CREATE TABLE text without its AUTO_INCREMENT counter,
    or None when there is no such table."""
    try:
        row = conn.exec_driver_sql(f"SHOW CREATE TABLE {_quote(table)}").one()
    except sa.exc.DBAPIError as exc:
        args = getattr(exc.orig, "args", ())
        if args and args[0] == _ER_NO_SUCH_TABLE:
            return None
        raise
    text = row[1]
    if not text.startswith("CREATE TABLE"):
        raise HeadwayError(f"`{table}` is not a table: {text.split(' (')[0]}")
    return strip_auto_increment(text)


def same_table(a: str | None, b: str | None) -> bool:
    """Whether two SHOW CREATE TABLE texts (None: no table) describe the same
    table byte for byte, the AUTO_INCREMENT counter aside."""
    if a is None or b is None:
        return a is b
    return strip_auto_increment(a) == strip_auto_increment(b)


def strip_auto_increment(text: str) -> str:
    """The text without its table option AUTO_INCREMENT=N (the next value of
    the counter, which rows move, not DDL). A column's AUTO_INCREMENT stays."""
    head, sep, options = text.rpartition("\n)")
    if not sep:
        return text
    return head + sep + _AUTO_INCREMENT_OPTION.sub("", options, count=1)


def _alter(name: str, clauses: list[str]) -> str:
    return f"ALTER TABLE {name}\n  " + ",\n  ".join(clauses)


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _unquote(identifier: str) -> str:
    return identifier[1:-1].replace("``", "`")


def _leading_identifier(text: str) -> str:
    """The backquoted identifier `text` starts with, quotes included."""
    match = re.match(r"`(?:[^`]|``)*`", text)
    if not match:
        raise ValueError(f"no identifier at {text[:40]!r}")
    return match.group(0)


def _free_name(stem: str, in_use: set[str]) -> str:
    """A quoted identifier `stem_N` not in `in_use`."""
    number = 1
    while f"`{stem}_{number}`" in in_use:
        number += 1
    return f"`{stem}_{number}`"


def _ignored(key_line: str) -> bool:
    return key_line.endswith(" IGNORED")


def _unflagged(keys: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(key_name, line.removesuffix(" IGNORED")) for key_name, line in keys]


def _ordered_difference(
    before: list[tuple[str, str]], now: list[tuple[str, str]]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Which of `now` to drop and which of `before` to add so that the list
    reads as `before` again, in the same order.

    The server keeps indexes (and checks) in the order they were made, a new
    one going after those that stay (then sorted by kind for indexes: primary,
    unique, plain, fulltext). So what is not in `before` is dropped; of the
    rest, the part that starts like `before` stays, and everything after it
    is dropped and added again in `before`'s order."""
    wanted = set(before)
    drop = [item for item in now if item not in wanted]
    kept = [item for item in now if item in wanted]
    prefix = 0
    while (
        prefix < len(kept) and prefix < len(before) and kept[prefix] == before[prefix]
    ):
        prefix += 1
    return drop + kept[prefix:], before[prefix:]


def _column_clauses(
    table: str,
    old: _Table,
    new: _Table,
    renamed: dict[str, str],
    plan: RestorePlan,
) -> list[str]:
    """DROP, CHANGE, MODIFY and ADD COLUMN clauses that give the columns their
    before lines and order."""
    clauses, notes = [], plan.notes
    # Current name -> before name, for the columns present in both.
    now_to_before = {}
    for now_name in new.columns:
        before_name = renamed.get(now_name, now_name)
        if before_name in old.columns:
            now_to_before[now_name] = before_name
        else:
            clauses.append(f"DROP COLUMN {now_name}")
            notes.append(
                f"column {table}.{_unquote(now_name)} is dropped with its values"
            )
    before_to_now = {b: n for n, b in now_to_before.items()}

    # A changed table default charset or collation changes what an unchanged
    # text column line means: give every text column its line again.
    charset_changed = _charset(old.options) != _charset(new.options)

    # The columns that keep their place: the longest run of shared columns
    # already in the before order. Every other one is moved (or added) right
    # after its before predecessor, in the before order, which rebuilds the
    # whole order clause by clause (the server applies FIRST/AFTER in turn).
    shared_now_order = [now_to_before[n] for n in new.columns if n in now_to_before]
    staying = set(_longest_common_subsequence(list(old.columns), shared_now_order))

    previous = None
    for before_name, line in old.columns.items():
        position = "FIRST" if previous is None else f"AFTER {previous}"
        previous = before_name
        now_name = before_to_now.get(before_name)
        if now_name is None:
            clauses.append(f"ADD COLUMN {line} {position}")
            notes.append(
                f"column {table}.{_unquote(before_name)} is added again empty: "
                "its values cannot come back"
            )
            continue
        moved = before_name not in staying
        changed = new.columns[now_name] != line or (
            charset_changed and _is_text_column(line)
        )
        if now_name != before_name:
            clauses.append(f"CHANGE COLUMN {now_name} {line} {position}")
        elif moved:
            clauses.append(f"MODIFY COLUMN {line} {position}")
        elif changed:
            clauses.append(f"MODIFY COLUMN {line}")

    for before_name, now_name in zip(old.columns, new.columns, strict=False):
        if before_name not in before_to_now and now_name not in now_to_before:
            plan.possible_renames.append((_unquote(now_name), _unquote(before_name)))
    return clauses


def _longest_common_subsequence(a: list[str], b: list[str]) -> list[str]:
    lengths = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) - 1, -1, -1):
        for j in range(len(b) - 1, -1, -1):
            if a[i] == b[j]:
                lengths[i][j] = lengths[i + 1][j + 1] + 1
            else:
                lengths[i][j] = max(lengths[i + 1][j], lengths[i][j + 1])
    result, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        if a[i] == b[j]:
            result.append(a[i])
            i, j = i + 1, j + 1
        elif lengths[i + 1][j] >= lengths[i][j + 1]:
            i += 1
        else:
            j += 1
    return result


def _is_text_column(line: str) -> bool:
    type_text = line[len(_leading_identifier(line)) :].lstrip()
    return bool(_TEXT_TYPE.match(type_text))


def _charset(options: dict[str, str]) -> tuple[str | None, str | None]:
    return options.get("DEFAULT CHARSET"), options.get("COLLATE")


def _option_clauses(
    table: str, before: dict[str, str], now: dict[str, str]
) -> tuple[list[str], list[str]]:
    """The clauses that give the options their before values, and those that
    remove the options the before-image has not."""
    clauses, resets = [], []
    if _charset(before) != _charset(now):
        charset, collation = _charset(before)
        if charset is None:
            raise Unrestorable(table, ["the before-image names no DEFAULT CHARSET"])
        # Without COLLATE, the before-image had the charset's default one.
        clause = f"DEFAULT CHARSET={charset}"
        clauses.append(clause + (f" COLLATE={collation}" if collation else ""))
    unknown = []
    if before.get("KEY_BLOCK_SIZE") != now.get("KEY_BLOCK_SIZE"):
        # Each index keeps the block size it was built with, shown on its own
        # line once the table's differs: the option alone does not undo it.
        unknown.append("KEY_BLOCK_SIZE changed, and every index keeps its own")
    for option in sorted(set(before) | set(now)):
        if option in ("DEFAULT CHARSET", "COLLATE", "KEY_BLOCK_SIZE"):
            continue
        if before.get(option) == now.get(option):
            continue
        if option in before:
            clauses.append(f"{option}={before[option]}")
        elif option.upper() in _OPTION_RESET:
            resets.append(f"{option}={_OPTION_RESET[option.upper()]}")
        else:
            unknown.append(f"table option {option} was added and has no known reset")
    if unknown:
        raise Unrestorable(table, unknown)
    return clauses, resets


def _check_restorable(
    table: str, old: _Table, new: _Table, renamed: dict[str, str]
) -> None:
    reasons = []
    if old.tail != new.tail:
        reasons.append(
            "its partitioning or system versioning changed "
            f"(before: {old.tail.strip() or 'none'}; now: {new.tail.strip() or 'none'})"
        )
    if old.others != new.others:
        reasons.append(
            "definition lines this restore does not handle changed: "
            + ", ".join(sorted(set(old.others) ^ set(new.others)))
        )
    for now_name, before_name in renamed.items():
        if now_name not in new.columns:
            reasons.append(f"renamed column {now_name} does not exist now")
        elif before_name not in old.columns:
            reasons.append(f"renamed column {before_name} did not exist before")
    if reasons:
        raise Unrestorable(table, reasons)


def _parse(table: str, text: str) -> _Table:
    """Take a SHOW CREATE TABLE text apart (the server's own layout: one
    definition per line, indented by two spaces)."""
    opening, body, closing = _split_definition(table, text)
    if not opening.startswith("CREATE TABLE "):
        raise Unrestorable(table, [f"not a CREATE TABLE text: {opening[:60]!r}"])
    parsed = _Table({}, [], {}, [], [], {}, "")
    for line in body:
        if line.startswith("`"):
            parsed.columns[_leading_identifier(line)] = line
        elif line.startswith("PRIMARY KEY "):
            parsed.keys.append(("PRIMARY", line))
        elif re.match(r"(?:UNIQUE |FULLTEXT |SPATIAL )?KEY `", line):
            key_name = _leading_identifier(line[line.index("`") :])
            parsed.keys.append((key_name, line))
        elif line.startswith("CONSTRAINT `"):
            constraint = _leading_identifier(line.removeprefix("CONSTRAINT "))
            kind = line.removeprefix("CONSTRAINT ")[len(constraint) :].lstrip()
            if kind.startswith("FOREIGN KEY "):
                parsed.foreign_keys[constraint] = line
            elif kind.startswith("CHECK "):
                parsed.checks.append((constraint, line))
            else:
                parsed.others.append(line)
        else:
            parsed.others.append(line)
    parsed.options, parsed.tail = _parse_options(table, closing)
    return parsed


def _split_definition(table: str, text: str) -> tuple[str, list[str], str]:
    """The opening line, the definition lines (without their indent and
    trailing comma) and what follows the closing parenthesis.

    The server escapes newlines inside strings (`'a\\nb'`), so a line break
    outside backquotes and quotes always ends a definition."""
    lines, current, quote = [], [], None
    i = 0
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\" and quote != "`":
                current.append(text[i : i + 2])
                i += 2
                continue
            if char == quote:
                if text[i + 1 : i + 2] == quote:  # doubled: still quoted
                    current.append(char * 2)
                    i += 2
                    continue
                quote = None
        elif char in "`'\"":
            quote = char
        elif char == "\n":
            lines.append("".join(current))
            current = []
            i += 1
            continue
        current.append(char)
        i += 1
    lines.append("".join(current))
    closing_at = next(
        (n for n in range(1, len(lines)) if lines[n].startswith(")")), None
    )
    if not lines[0].endswith(" (") or closing_at is None:
        raise Unrestorable(table, ["not a SHOW CREATE TABLE text"])
    body = []
    for line in lines[1:closing_at]:
        if not line.startswith("  "):
            raise Unrestorable(table, [f"unexpected definition line {line[:60]!r}"])
        body.append(line[2:].removesuffix(","))
    closing = "\n".join(lines[closing_at:])[1:]
    return lines[0], body, closing


def _parse_options(table: str, closing: str) -> tuple[dict[str, str], str]:
    """Table options (`ENGINE=InnoDB DEFAULT CHARSET=... COMMENT='...'`) and
    the rest (partitioning on the next lines, WITH SYSTEM VERSIONING)."""
    first, newline, rest = closing.partition("\n")
    options, position = {}, 0
    while True:
        match = _OPTION.match(first, position)
        if not match:
            break
        options[match.group(1).upper()] = match.group(2)
        position = match.end()
    tail = first[position:] + newline + rest
    return options, tail
