"""What a DDL statement does, read from its text: the table it changes and,
for the changes preflight checks data for, the columns, types, keys and
expressions involved.

This is not a full SQL parser. It understands the statements Alembic and
people write for MySQL/MariaDB and SQLite (ALTER TABLE … ADD/MODIFY/CHANGE
COLUMN, ADD [UNIQUE] INDEX/KEY/CONSTRAINT, ADD FOREIGN KEY, ADD CHECK, CREATE
[UNIQUE] INDEX, CREATE/DROP/RENAME TABLE, DROP INDEX, and DML by its first
word); anything else comes back as an `Action("unknown")` or a statement of
kind "unknown", which preflight reports as not analysed, never as safe.

The executor and the guards read every statement by its first words instead
(changes_something, tables_touched, data_loss_by_sql: the last section).
"""

import re
from dataclasses import dataclass, field

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|--[^\n]*|\#[^\n]*|/\*.*?\*/)
  | (?P<ident>`(?:[^`]|``)*`|"(?:[^"]|"")*"|\[[^\]]*\])
  | (?P<string>'(?:[^'\\]|\\.|'')*')
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<word>[A-Za-z_$][\w$]*)
  | (?P<punct>.)
    """,
    re.VERBOSE | re.DOTALL,
)

# Alembic's batch mode (SQLite) rebuilds a table through a copy named so.
BATCH_TEMP = "_alembic_tmp_"


@dataclass(frozen=True)
class Token:
    kind: str  # ident (quoted), string, number, word, punct
    value: str  # the name without quotes, the string's value, the word
    start: int
    end: int

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.value.upper() in words


def tokenize(sql: str) -> list[Token]:
    tokens = []
    for match in _TOKEN.finditer(sql):
        kind = match.lastgroup
        text = match.group()
        if kind == "space":
            continue
        if kind == "ident":
            value = text[1:-1].replace(text[0] * 2, text[0])
        elif kind == "string":
            value = text[1:-1].replace("''", "'").replace("\\'", "'")
        else:
            value = text
        tokens.append(Token(kind, value, match.start(), match.end()))
    return tokens


def split_statements(sql: str) -> list[str]:
    """The statements of a script, split at the semicolons between them
    (not those inside strings or comments)."""
    statements, start = [], 0
    for token in tokenize(sql):
        if token.kind == "punct" and token.value == ";":
            statements.append(sql[start : token.start].strip())
            start = token.end
    statements.append(sql[start:].strip())
    return [s for s in statements if tokenize(s)]


@dataclass(frozen=True)
class ColumnType:
    """A column's type as written: `name` upper-cased (INT, VARCHAR, ENUM …),
    its arguments (lengths, precision, or ENUM/SET values), UNSIGNED."""

    name: str
    args: tuple[str, ...] = ()
    unsigned: bool = False

    def __str__(self) -> str:
        if self.name in ("ENUM", "SET"):
            args = ",".join("'" + a.replace("'", "''") + "'" for a in self.args)
        else:
            args = ",".join(self.args)
        text = f"{self.name}({args})" if self.args else self.name
        return text + (" UNSIGNED" if self.unsigned else "")


@dataclass(frozen=True)
class ColumnDef:
    name: str
    type: ColumnType
    not_null: bool
    has_default: bool
    auto_increment: bool = False


@dataclass(frozen=True)
class Action:
    """One change an ALTER TABLE (or CREATE INDEX) makes.

    kind: add_column, modify_column (MODIFY and CHANGE), add_index,
    add_unique, add_primary_key, add_foreign_key, add_check, drop_column,
    drop_index, drop_foreign_key, drop_primary_key, drop_constraint,
    alter_default, rename_column, rename_table, rename_index, option,
    unknown (preflight cannot say what it does)."""

    kind: str
    column: str | None = None  # the column changed (the old name for CHANGE)
    definition: ColumnDef | None = None
    name: str | None = None  # the index, key or constraint name
    columns: tuple[str, ...] = ()  # the key's columns
    prefixes: tuple[int | None, ...] = ()  # index prefix lengths, per column
    references: str | None = None  # a foreign key's parent table
    referenced_columns: tuple[str, ...] = ()
    expression: str | None = None  # a CHECK's condition, as written
    text: str = ""  # the clause as written


@dataclass
class ParsedStatement:
    """kind: alter (ALTER TABLE, CREATE INDEX, DROP INDEX: the ones the
    server can run in place), create_table, drop_table, rename_table, dml
    (INSERT, UPDATE, DELETE, REPLACE), batch_copy (a SQLite batch rebuild
    copying `table`), other (a statement that touches no table's rows: views,
    triggers, SET …) or unknown."""

    kind: str
    tables: list[str] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    # For alter: where the ALGORITHM/LOCK options go ("," between them for
    # ALTER TABLE, a space for CREATE/DROP INDEX).
    option_separator: str = ", "
    # The same change as an ALTER TABLE, for a statement that takes no
    # ALGORITHM/LOCK options (MariaDB's DROP INDEX … ON).
    alter_form: str | None = None

    @property
    def table(self) -> str | None:
        return self.tables[0] if self.tables else None


class _Reader:
    def __init__(self, sql: str, tokens: list[Token]) -> None:
        self.sql = sql
        self.tokens = tokens
        self.i = 0

    def peek(self, ahead: int = 0) -> Token | None:
        j = self.i + ahead
        return self.tokens[j] if j < len(self.tokens) else None

    def at_word(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.is_word(*words)

    def accept(self, *words: str) -> bool:
        if self.at_word(*words):
            self.i += 1
            return True
        return False

    def accept_seq(self, *words: str) -> bool:
        """Accept these words in a row, or none of them."""
        ahead = [self.peek(k) for k in range(len(words))]
        if all(
            t is not None and t.is_word(w) for t, w in zip(ahead, words, strict=True)
        ):
            self.i += len(words)
            return True
        return False

    def at_punct(self, value: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "punct" and token.value == value

    def accept_punct(self, value: str) -> bool:
        if self.at_punct(value):
            self.i += 1
            return True
        return False

    def done(self) -> bool:
        return self.i >= len(self.tokens)

    def name(self) -> str:
        """An identifier, quoted or not; `schema.name` gives the name."""
        token = self.peek()
        if token is None or token.kind not in ("ident", "word"):
            raise _Unparsed
        self.i += 1
        if (
            self.at_punct(".")
            and self.peek(1)
            and self.peek(1).kind
            in (
                "ident",
                "word",
            )
        ):
            self.i += 1
            return self.name()
        return token.value

    def group(self) -> tuple[int, int]:
        """Skip a parenthesised group; its inner text's span."""
        if not self.accept_punct("("):
            raise _Unparsed
        start, depth = self.peek().start if self.peek() else 0, 1
        while not self.done():
            token = self.tokens[self.i]
            self.i += 1
            if token.kind == "punct" and token.value == "(":
                depth += 1
            elif token.kind == "punct" and token.value == ")":
                depth -= 1
                if depth == 0:
                    return start, token.start
        raise _Unparsed

    def key_columns(self) -> tuple[tuple[str, ...], tuple[int | None, ...]]:
        """`(a, b(10) DESC, …)`: the names and prefix lengths."""
        if not self.accept_punct("("):
            raise _Unparsed
        names, prefixes = [], []
        while True:
            if self.at_punct("("):  # an expression index (MySQL 8)
                raise _Unparsed
            names.append(self.name())
            prefix = None
            if self.accept_punct("("):
                token = self.peek()
                if token is None or token.kind != "number":
                    raise _Unparsed
                prefix = int(token.value)
                self.i += 1
                if not self.accept_punct(")"):
                    raise _Unparsed
            prefixes.append(prefix)
            self.accept("ASC", "DESC")
            if self.accept_punct(","):
                continue
            if self.accept_punct(")"):
                return tuple(names), tuple(prefixes)
            raise _Unparsed


class _Unparsed(Exception):
    pass


def _split_top_level(tokens: list[Token]) -> list[list[Token]]:
    parts, current, depth = [], [], 0
    for token in tokens:
        if token.kind == "punct" and token.value == "(":
            depth += 1
        elif token.kind == "punct" and token.value == ")":
            depth -= 1
        if depth == 0 and token.kind == "punct" and token.value == ",":
            parts.append(current)
            current = []
        else:
            current.append(token)
    if current:
        parts.append(current)
    return parts


def parse_type(text: str) -> ColumnType | None:
    """A type as information_schema or a declaration writes it:
    `int(11) unsigned`, `varchar(14)`, `enum('M','F')`, `DECIMAL(10, 2)`."""
    reader = _Reader(text, tokenize(text))
    try:
        return _type(reader)
    except (_Unparsed, AttributeError):
        return None


def _type(reader: _Reader) -> ColumnType:
    token = reader.peek()
    if token is None or token.kind != "word":
        raise _Unparsed
    reader.i += 1
    name = token.value.upper()
    if name in ("DOUBLE",) and reader.accept("PRECISION"):
        pass
    if name in ("CHARACTER", "NATIONAL") or (
        name in ("CHAR", "NCHAR") and reader.at_word("VARYING")
    ):
        reader.accept("CHARACTER", "CHAR", "VARYING")
        name = "VARCHAR"
    args: list[str] = []
    if reader.accept_punct("("):
        while not reader.accept_punct(")"):
            part = reader.peek()
            if part is None:
                raise _Unparsed
            reader.i += 1
            if part.kind in ("number", "string", "word"):
                args.append(part.value)
            elif part.kind == "punct" and part.value == ",":
                continue
            else:
                raise _Unparsed
    unsigned = False
    while reader.at_word("UNSIGNED", "SIGNED", "ZEROFILL"):
        unsigned = unsigned or reader.peek().value.upper() == "UNSIGNED"
        reader.i += 1
    aliases = {"INTEGER": "INT", "BOOL": "TINYINT", "BOOLEAN": "TINYINT"}
    if name in ("BOOL", "BOOLEAN"):
        args = ["1"]
    if name in ("NUMERIC", "DEC", "FIXED"):
        name = "DECIMAL"
    return ColumnType(aliases.get(name, name), tuple(args), unsigned)


def _column_def(reader: _Reader, name: str) -> ColumnDef:
    type_ = _type(reader)
    not_null = has_default = auto_increment = False
    while not reader.done():
        if reader.accept("NOT"):
            if not reader.accept("NULL"):
                raise _Unparsed
            not_null = True
        elif reader.accept("NULL"):
            not_null = False
        elif reader.accept("DEFAULT"):
            has_default = True
            if reader.at_punct("("):
                reader.group()
            else:
                reader.i += 1
                if reader.at_punct("("):  # a function call: CURRENT_TIMESTAMP()
                    reader.group()
        elif reader.accept("AUTO_INCREMENT", "AUTOINCREMENT"):
            auto_increment = True
        elif reader.at_word("PRIMARY"):
            reader.i += 1
            reader.accept("KEY")
            not_null = True
        elif reader.at_punct("("):
            reader.group()
        else:
            reader.i += 1  # COMMENT '…', COLLATE x, AFTER y, FIRST, …
    return ColumnDef(name, type_, not_null, has_default, auto_increment)


def _add(reader: _Reader, text: str) -> Action:
    name = None
    if reader.accept("CONSTRAINT"):
        if not reader.at_word("PRIMARY", "UNIQUE", "FOREIGN", "CHECK"):
            name = reader.name()
    if reader.accept("PRIMARY"):
        reader.accept("KEY")
        columns, prefixes = reader.key_columns()
        return Action(
            "add_primary_key",
            name=name,
            columns=columns,
            prefixes=prefixes,
            text=text,
        )
    if reader.accept("UNIQUE"):
        reader.accept("INDEX", "KEY")
        return _add_index(reader, "add_unique", name, text)
    if reader.accept("FOREIGN"):
        reader.accept("KEY")
        if not reader.at_punct("("):
            name = name or reader.name()
        columns, _ = reader.key_columns()
        if not reader.accept("REFERENCES"):
            raise _Unparsed
        parent = reader.name()
        referenced, _ = reader.key_columns()
        return Action(
            "add_foreign_key",
            name=name,
            columns=columns,
            references=parent,
            referenced_columns=referenced,
            text=text,
        )
    if reader.accept("CHECK"):
        start, end = reader.group()
        return Action(
            "add_check", name=name, expression=reader.sql[start:end], text=text
        )
    if reader.accept("INDEX", "KEY"):
        return _add_index(reader, "add_index", name, text)
    if reader.at_word("FULLTEXT", "SPATIAL", "PERIOD", "SYSTEM", "PARTITION"):
        return Action("unknown", text=text)
    reader.accept("COLUMN")
    reader.accept_seq("IF", "NOT", "EXISTS")
    if reader.at_punct("("):
        raise _Unparsed  # ADD COLUMN (a …, b …)
    column = reader.name()
    definition = _column_def(reader, column)
    return Action("add_column", column=column, definition=definition, text=text)


def _add_index(reader: _Reader, kind: str, name: str | None, text: str) -> Action:
    """ADD [UNIQUE] INDEX|KEY [IF NOT EXISTS] [name] [USING x] (columns)."""
    reader.accept_seq("IF", "NOT", "EXISTS")
    if not reader.at_punct("("):
        name = reader.name()
    if reader.accept("USING"):
        reader.i += 1
    columns, prefixes = reader.key_columns()
    return Action(kind, name=name, columns=columns, prefixes=prefixes, text=text)


def _alter_clause(sql: str, tokens: list[Token]) -> Action:
    text = sql[tokens[0].start : tokens[-1].end]
    reader = _Reader(sql, tokens)
    try:
        if reader.accept("ADD"):
            return _add(reader, text)
        renames = reader.at_word("CHANGE")
        if reader.accept("MODIFY", "CHANGE"):
            reader.accept("COLUMN")
            reader.accept_seq("IF", "EXISTS")
            old = reader.name()
            new = reader.name() if renames else old  # CHANGE old new definition
            return Action(
                "modify_column",
                column=old,
                definition=_column_def(reader, new),
                text=text,
            )
        if reader.accept("ALTER"):
            reader.accept("COLUMN")
            column = reader.name()
            if reader.at_word("SET", "DROP") and reader.peek(1).is_word("DEFAULT"):
                return Action("alter_default", column=column, text=text)
            return Action("unknown", column=column, text=text)
        if reader.accept("DROP"):
            if reader.accept("PRIMARY"):
                return Action("drop_primary_key", text=text)
            if reader.accept("FOREIGN"):
                reader.accept("KEY")
                return Action("drop_foreign_key", name=reader.name(), text=text)
            if reader.accept("INDEX", "KEY"):
                reader.accept_seq("IF", "EXISTS")
                return Action("drop_index", name=reader.name(), text=text)
            if reader.accept("CONSTRAINT", "CHECK"):
                reader.accept_seq("IF", "EXISTS")
                return Action("drop_constraint", name=reader.name(), text=text)
            reader.accept("COLUMN")
            reader.accept_seq("IF", "EXISTS")
            return Action("drop_column", column=reader.name(), text=text)
        if reader.accept("RENAME"):
            if reader.accept("COLUMN"):
                return Action("rename_column", column=reader.name(), text=text)
            if reader.accept("INDEX", "KEY"):
                return Action("rename_index", name=reader.name(), text=text)
            reader.accept("TO", "AS")
            return Action("rename_table", name=reader.name(), text=text)
        if reader.at_word("ALGORITHM", "LOCK", "FORCE", "ENGINE"):
            return Action("option", text=text)
    except _Unparsed:
        pass
    return Action("unknown", text=text)


def parse_statement(sql: str) -> ParsedStatement:
    tokens = tokenize(sql)
    reader = _Reader(sql, tokens)
    try:
        if reader.accept("ALTER"):
            reader.accept("ONLINE", "IGNORE")
            if not reader.accept("TABLE"):
                return ParsedStatement("other")
            reader.accept_seq("IF", "EXISTS")
            table = reader.name()
            clauses = _split_top_level(tokens[reader.i :])
            actions = [_alter_clause(sql, clause) for clause in clauses if clause]
            renamed = [a.name for a in actions if a.kind == "rename_table"]
            if renamed and all(a.kind == "rename_table" for a in actions):
                return ParsedStatement("rename_table", [table, *renamed], actions)
            return ParsedStatement("alter", [table], actions)
        if reader.accept("CREATE"):
            reader.accept_seq("OR", "REPLACE")
            unique = reader.accept("UNIQUE")
            if reader.at_word("FULLTEXT", "SPATIAL"):
                return ParsedStatement("unknown")
            if reader.accept("INDEX"):
                reader.accept_seq("IF", "NOT", "EXISTS")
                name = reader.name()
                if reader.accept("USING"):
                    reader.i += 1
                if not reader.accept("ON"):
                    return ParsedStatement("unknown")
                table = reader.name()
                columns, prefixes = reader.key_columns()
                action = Action(
                    "add_unique" if unique else "add_index",
                    name=name,
                    columns=columns,
                    prefixes=prefixes,
                    text=sql,
                )
                return ParsedStatement("alter", [table], [action], " ")
            reader.accept("TEMPORARY")
            if reader.accept("TABLE"):
                reader.accept_seq("IF", "NOT", "EXISTS")
                return ParsedStatement("create_table", [reader.name()])
            return ParsedStatement("other")
        if reader.accept("DROP"):
            reader.accept("TEMPORARY")
            if reader.accept("TABLE"):
                reader.accept_seq("IF", "EXISTS")
                tables = [reader.name()]
                while reader.accept_punct(","):
                    tables.append(reader.name())
                return ParsedStatement("drop_table", tables)
            if reader.accept("INDEX"):
                reader.accept_seq("IF", "EXISTS")
                name = reader.name()
                if reader.accept("ON"):
                    table = reader.name()
                    action = Action("drop_index", name=name, text=sql)
                    alter_form = (
                        f"ALTER TABLE {_quoted(table)} DROP INDEX {_quoted(name)}"
                    )
                    return ParsedStatement(
                        "alter", [table], [action], alter_form=alter_form
                    )
                return ParsedStatement("other")  # SQLite: DROP INDEX name
            return ParsedStatement("other")
        if reader.accept("RENAME"):
            reader.accept("TABLE")
            tables = []
            while not reader.done():
                tables.append(reader.name())
                reader.accept("TO")
                tables.append(reader.name())
                reader.accept_punct(",")
            return ParsedStatement("rename_table", tables)
        if reader.at_word("INSERT", "REPLACE"):
            reader.i += 1
            reader.accept("IGNORE")
            reader.accept("INTO")
            table = reader.name()
            source = _first_table_after(reader, "FROM")
            if table.startswith(BATCH_TEMP) and source:
                return ParsedStatement("batch_copy", [source])
            return ParsedStatement("dml", [table])
        if reader.accept("UPDATE"):
            reader.accept("IGNORE")
            return ParsedStatement("dml", [reader.name()])
        if reader.accept("DELETE"):
            reader.accept("IGNORE")
            reader.accept("FROM")
            return ParsedStatement("dml", [reader.name()])
        if reader.at_word("SET", "PRAGMA", "COMMENT", "SELECT"):
            return ParsedStatement("other")
        if reader.accept("CREATE") or reader.at_word("GRANT", "REVOKE"):
            return ParsedStatement("other")
    except _Unparsed:
        pass
    return ParsedStatement("unknown")


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _first_table_after(reader: _Reader, word: str) -> str | None:
    while not reader.done():
        if reader.accept(word):
            try:
                return reader.name()
            except _Unparsed:
                return None
        reader.i += 1
    return None


def create_table_columns(sql: str) -> list[ColumnDef] | None:
    """The column definitions of a CREATE TABLE (a SQLite batch rebuild's
    new table, say); None when they cannot be read."""
    tokens = tokenize(sql)
    reader = _Reader(sql, tokens)
    while not reader.done() and not reader.at_punct("("):
        reader.i += 1
    try:
        start = reader.i
        reader.group()
        inner = tokens[start + 1 : reader.i - 1]
    except _Unparsed:
        return None
    columns = []
    for part in _split_top_level(inner):
        part_reader = _Reader(sql, part)
        if part_reader.at_word(
            "PRIMARY", "UNIQUE", "FOREIGN", "CHECK", "CONSTRAINT", "KEY", "INDEX"
        ):
            continue
        try:
            name = part_reader.name()
            columns.append(_column_def(part_reader, name))
        except _Unparsed:
            return None
    return columns


# --- Statements by their first words ------------------------------------------
#
# The executor (which tables a step's statement changes: their before-images)
# and the data-loss guard (what a statement drops, empties or overwrites) read
# every statement with these regular expressions, not with parse_statement:
# the two answer differently on some statements (ALTER TABLE t RENAME TO u is
# t alone here, t and u there; TRUNCATE and CREATE FULLTEXT INDEX are unknown
# there), and a rollback restores the tables of the before-image.

# Statements that read or set up the session, not the schema or the data.
_READS = re.compile(
    r"^\s*(SELECT|SHOW|DESCRIBE|DESC|EXPLAIN|PRAGMA|SET|BEGIN|COMMIT|ROLLBACK"
    r"|SAVEPOINT|RELEASE|WITH|USE|DO)\b",
    re.IGNORECASE,
)
# Alembic's and Headway's own bookkeeping, written beside every step.
_BOOKKEEPING = re.compile(r"\balembic_version\b|\bheadway_\w+", re.IGNORECASE)
_DDL = re.compile(r"^\s*(ALTER|CREATE|DROP|RENAME|TRUNCATE)\b", re.IGNORECASE)

# A table's name, quoted or not (group 1: the name); with its schema, if any.
_NAME = r"[`\"\[]?(\w+)[`\"\]]?"
_QUALIFIED_NAME = rf"(?:[`\"\[]?\w+[`\"\]]?\s*\.\s*)?{_NAME}"
_QUALIFIED = re.compile(_QUALIFIED_NAME)
_TOUCHES = [
    re.compile(
        rf"^\s*ALTER\s+(?:ONLINE\s+)?(?:IGNORE\s+)?TABLE\s+{_QUALIFIED_NAME}", re.I
    ),
    re.compile(
        rf"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?"
        rf"INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?\S+\s+(?:USING\s+\w+\s+)?ON\s+"
        rf"{_QUALIFIED_NAME}",
        re.I,
    ),
    re.compile(
        rf"^\s*DROP\s+INDEX\s+(?:IF\s+EXISTS\s+)?\S+\s+ON\s+{_QUALIFIED_NAME}", re.I
    ),
    re.compile(
        rf"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMPORARY\s+)?TABLE\s+"
        rf"(?:IF\s+NOT\s+EXISTS\s+)?{_QUALIFIED_NAME}",
        re.I,
    ),
    re.compile(rf"^\s*TRUNCATE\s+(?:TABLE\s+)?{_QUALIFIED_NAME}", re.I),
]
_DROP_TABLE = re.compile(r"^\s*DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?(.+)", re.I | re.S)
_RENAME_TABLE = re.compile(r"^\s*RENAME\s+TABLE\s+(.+)", re.I | re.S)

_DROP_TABLES = re.compile(
    rf"^\s*DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?((?:{_NAME}\s*,\s*)*{_NAME})",
    re.IGNORECASE,
)
_ALTER_TABLE = re.compile(rf"^\s*ALTER\s+TABLE\s+{_NAME}\s+(.*)$", re.I | re.S)
_DROP_COLUMN_CLAUSE = re.compile(
    r"^\s*DROP\s+(?:COLUMN\s+)?(?:IF\s+EXISTS\s+)?"
    rf"(?!(?:INDEX|KEY|FOREIGN|PRIMARY|CONSTRAINT|CHECK|PARTITION)\b){_NAME}\s*$",
    re.IGNORECASE,
)
_TRUNCATE = re.compile(rf"^\s*TRUNCATE\s+(?:TABLE\s+)?{_NAME}\s*;?\s*$", re.I)
_DELETE_ALL = re.compile(rf"^\s*DELETE\s+FROM\s+{_NAME}\s*;?\s*$", re.I)
_UPDATE = re.compile(rf"^\s*UPDATE\s+{_NAME}\s+SET\s", re.I)
_WHERE = re.compile(r"\bWHERE\b", re.I)
_REMOVES = re.compile(
    r"^\s*(?:TRUNCATE|DELETE|UPDATE|REPLACE|DROP\s+TABLE|ALTER\s+TABLE\b.*\bDROP\b)",
    re.I | re.S,
)
_STARTS_ALTER_TABLE = re.compile(r"^\s*ALTER\s+TABLE\b", re.I)
_BATCH_RENAME = re.compile(
    rf"^\s*ALTER\s+TABLE\s+{BATCH_TEMP}(\w+)\s+RENAME\s+TO\s+{_NAME}", re.I
)


def changes_something(sql: str) -> bool:
    """A statement the executor journals: not a read, not bookkeeping."""
    return not _READS.match(sql) and not _BOOKKEEPING.search(sql)


def is_ddl(sql: str) -> bool:
    return bool(_DDL.match(sql))


def tables_touched(sql: str) -> list[str]:
    """The tables a DDL statement changes, as far as its text tells."""
    for pattern in _TOUCHES:
        found = pattern.match(sql)
        if found:
            return [found.group(1)]
    dropped = _DROP_TABLE.match(sql)
    if dropped:
        names = re.split(r"\s*,\s*", dropped.group(1).split(";")[0].strip())
        # An empty name (`DROP TABLE a, , b`) is the server's syntax error to
        # report, not ours to trip on.
        return [
            m.group(1) for n in names if n and (m := _QUALIFIED.match(n.split()[0]))
        ]
    renamed = _RENAME_TABLE.match(sql)
    if renamed:
        found = []
        for pair in re.split(r"\s*,\s*", renamed.group(1)):
            parts = re.split(r"\s+TO\s+", pair.strip(), flags=re.I)
            found += [m.group(1) for p in parts if (m := _QUALIFIED.match(p.strip()))]
        return found
    return []


def data_loss_by_sql(sql: str) -> list[tuple[str, str | None, str]]:
    """What one SQL statement drops, empties or overwrites: (table, None,
    how) for a table (how: drop, truncate, delete, update), (table, column,
    "drop") for a column."""
    table = _DROP_TABLES.match(sql)
    if table:
        names = re.findall(_NAME, table.group(1))
        return [
            (name, None, "drop") for name in names if not name.startswith(BATCH_TEMP)
        ]
    found = _TRUNCATE.match(sql)
    if found:
        return [(found.group(1), None, "truncate")]
    found = _DELETE_ALL.match(sql)
    if found:
        return [(found.group(1), None, "delete")]
    found = _UPDATE.match(sql)
    if found and not _WHERE.search(sql):
        return [(found.group(1), None, "update")]
    altered = _ALTER_TABLE.match(sql)
    if altered:
        return [
            (altered.group(1), column.group(1), "drop")
            for clause in _alter_clauses(altered.group(2))
            if (column := _DROP_COLUMN_CLAUSE.match(clause))
        ]
    return []


def _alter_clauses(text: str) -> list[str]:
    """An ALTER TABLE's clauses: split at the commas outside parentheses."""
    clauses, depth, current = [], 0, []
    for char in text.rstrip().rstrip(";"):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            clauses.append("".join(current))
            current = []
        else:
            current.append(char)
    clauses.append("".join(current))
    return clauses


def removes_rows_unparsed(sql: str) -> bool:
    """A statement that may remove data in a way data_loss_by_sql cannot
    count (a DELETE with a join, REPLACE, ...)."""
    return bool(
        _REMOVES.match(sql)
        and not data_loss_by_sql(sql)
        and not _WHERE.search(sql)
        and BATCH_TEMP not in sql
        and not _STARTS_ALTER_TABLE.match(sql)
    )


def batch_rebuilt(sql: str) -> list[str]:
    """The table a SQLite batch rebuild's final rename puts back."""
    found = _BATCH_RENAME.match(sql)
    return [found.group(2)] if found else []
