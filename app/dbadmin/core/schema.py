"""A database's schema as comparable data, and its differences in words.

Both sides of a comparison are reflected from real databases of the same
dialect (the live one, and a scratch one built by the migrations), so types
compare as the server reports them. Foreign keys, unique keys and CHECK
constraints compare by what they do, not by name: names are often
server-generated. Indexes and triggers compare by name, as Alembic does.
Tables the reference does not have are not differences: legacy databases hold
tables the application does not model.

What compares is what behaves: two foreign keys on the same columns are two
(the stricter one decides whether a delete fails), a key on a prefix of a
column (`dept_name(10)`) is not the key on the whole column, an index the
optimizer ignores is not the index it uses, a generated column is not a plain
one, and column order counts (an INSERT without column names, as dump files
and test_db's data files write it, fills columns by position).

SQL text (view definitions, CHECK clauses, trigger bodies) compares as
normalised tokens, so that spacing, case and identifier quoting do not count.
MariaDB rewrites a view on creation (every column qualified, `AS` aliases
added); its `SHOW CREATE VIEW` leaves out the current database's name, so a
scratch database of another name reads the same.
"""

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

_ON_DELETE_DEFAULTS = {None, "", "NO ACTION", "RESTRICT"}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool
    default: str | None
    autoincrement: bool
    comment: str | None = None
    # A generated column: "stored|virtual <normalised expression>".
    generated: str | None = None


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    referred_table: str
    referred_columns: tuple[str, ...]
    ondelete: str
    onupdate: str

    @property
    def target(self) -> tuple:
        return (self.columns, self.referred_table, self.referred_columns)

    def __str__(self) -> str:
        return (
            f"({', '.join(self.columns)}) -> {self.referred_table}"
            f"({', '.join(self.referred_columns)})"
        )


@dataclass(frozen=True)
class Trigger:
    name: str
    table: str
    # Normalised: when it fires and what it does (see normalise_sql).
    definition: str


@dataclass
class Table:
    name: str
    # In the table's column order.
    columns: dict[str, Column] = field(default_factory=dict)
    primary_key: tuple[str, ...] = ()
    # name -> (columns, unique); a column indexed on a prefix reads `name(10)`.
    indexes: dict[str, tuple[tuple[str, ...], bool]] = field(default_factory=dict)
    unique_keys: set[tuple[str, ...]] = field(default_factory=set)
    # Names of the indexes and unique keys the optimizer ignores (MariaDB's
    # IGNORED, MySQL's INVISIBLE).
    ignored_indexes: set[str] = field(default_factory=set)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    # Normalised CHECK clauses (see normalise_sql).
    checks: set[str] = field(default_factory=set)
    comment: str | None = None
    # MySQL/MariaDB only (None elsewhere): the table's storage engine and its
    # default collation (which names its character set).
    engine: str | None = None
    collation: str | None = None


@dataclass
class Schema:
    tables: dict[str, Table] = field(default_factory=dict)
    # name -> normalised definition
    views: dict[str, str] = field(default_factory=dict)
    triggers: dict[str, Trigger] = field(default_factory=dict)


# SQL text as tokens: quoted identifiers, string literals, words (keywords,
# names, numbers), operators. Comments and spacing are dropped.
_SQL_TOKEN = re.compile(
    r"""
    (?P<skip>\s+|--[^\n]*|/\*.*?\*/)
    | (?P<string>'(?:[^'\\]|''|\\.)*')
    | (?P<ident>`(?:[^`]|``)*`|"(?:[^"]|"")*"|\[[^\]]*\])
    | (?P<word>[\w$]+)
    | (?P<op><=|>=|<>|!=|==|\|\||.)
    """,
    re.VERBOSE | re.DOTALL,
)
# Keywords after which "(" opens an operand list, not a function's arguments.
_SPACED_BEFORE_PAREN = {
    "and", "as", "check", "exists", "from", "in", "join", "not", "on", "or",
    "select", "then", "when", "where", "else", "using",
}  # fmt: skip


def _sql_tokens(text: str) -> list[tuple[str, str]]:
    """(kind, value) pairs; words and identifiers lower-cased, identifiers
    unquoted, string literals kept exactly."""
    tokens = []
    for match in _SQL_TOKEN.finditer(text):
        kind = match.lastgroup
        value = match.group()
        if kind == "skip":
            continue
        if kind == "ident":
            quote = value[0]
            value = value[1:-1]
            if quote in '`"':
                value = value.replace(quote * 2, quote)
            value = value.lower()
            if not re.fullmatch(r"[\w$]+", value):
                value = "`" + value.replace("`", "``") + "`"
        elif kind == "word":
            value = value.lower()
        tokens.append((kind, value))
    return tokens


def _render(tokens: list[tuple[str, str]]) -> str:
    """Tokens back to one line of SQL, spaced the same way whatever the source."""
    out = ""
    previous = None
    for kind, value in tokens:
        if previous is None or previous[1] in ("(", "."):
            glued = True
        elif value == "(":
            # f(x) but IN (1, 2)
            glued = previous[0] in ("word", "ident") and (
                previous[1] not in _SPACED_BEFORE_PAREN
            )
        else:
            glued = value in (")", ",", ".")
        out += value if glued else f" {value}"
        previous = (kind, value)
    return out


def normalise_sql(text: str) -> str:
    """SQL text with spacing, comments, case and identifier quoting evened out."""
    return _render(_sql_tokens(text))


def _after_name(text: str, keyword: str) -> list[tuple[str, str]]:
    """The tokens of a `CREATE ... VIEW|TRIGGER [IF NOT EXISTS] name ...`
    statement that follow the object's name (MySQL's ALGORITHM and DEFINER
    clauses, before the keyword, fall away)."""
    tokens = _sql_tokens(text)
    start = next(
        (i for i, t in enumerate(tokens) if t == ("word", keyword)), len(tokens)
    )
    rest = tokens[start + 1 :]
    if [value for _, value in rest[:3]] == ["if", "not", "exists"]:
        rest = rest[3:]
    rest = rest[1:]  # the name
    while len(rest) >= 2 and rest[0][1] == ".":  # schema.name
        rest = rest[2:]
    return rest


def _view_definition(create_view: str) -> str:
    """`select ...` (or `(columns) as select ...`) of a CREATE VIEW."""
    tokens = _after_name(create_view, "view")
    if tokens[:1] == [("word", "as")]:
        tokens = tokens[1:]
    return _render(tokens)


def _ondelete(value: str | None) -> str:
    value = (value or "").upper()
    return "NO ACTION" if value in _ON_DELETE_DEFAULTS else value


def _type_name(type_: sa.types.TypeEngine, dialect) -> str:
    try:
        return type_.compile(dialect=dialect)
    except sa.exc.CompileError:
        return repr(type_)


def reflect_schema(connection: Connection, ignore: Callable[[str], bool]) -> Schema:
    """Reflect every table, view and trigger whose name (a trigger: whose
    table's name) `ignore` does not reject."""
    inspector = sa.inspect(connection)
    schema = Schema()
    for name in inspector.get_view_names():
        if not ignore(name):
            schema.views[name] = _view_definition(inspector.get_view_definition(name))
    names = [n for n in inspector.get_table_names() if not ignore(n)]
    mysql = connection.dialect.name == "mysql"
    checks = _mysql_checks(connection) if mysql else {}
    options = _mysql_table_options(connection) if mysql else {}
    indexes = _mysql_indexes(connection) if mysql else {}
    for name in names:
        table = _reflect_table(inspector, name)
        if mysql:
            table.checks = checks.get(name, set())
            table.engine, table.collation, table.comment = options.get(
                name, (None, None, None)
            )
            table.indexes, table.unique_keys, table.ignored_indexes = indexes.get(
                name, ({}, set(), set())
            )
        else:
            table.foreign_keys = _sqlite_foreign_keys(connection, name)
            table.checks = {
                normalise_sql(check["sqltext"])
                for check in inspector.get_check_constraints(name)
            }
        schema.tables[name] = table
    for trigger in _triggers(connection):
        if not ignore(trigger.table):
            schema.triggers[trigger.name] = trigger
    return schema


def _reflect_table(inspector: sa.Inspector, name: str) -> Table:
    with warnings.catch_warnings():
        # SQLAlchemy's MySQL parser does not know MariaDB's `KEY ... IGNORED`
        # (and leaves the index out): the indexes are read from
        # information_schema instead (_mysql_indexes).
        warnings.filterwarnings(
            "ignore", "Unknown schema content", category=sa.exc.SAWarning
        )
        return _reflect_table_parts(inspector, name)


def _generated(col: dict) -> str | None:
    computed = col.get("computed")
    if not computed:
        return None
    kind = "stored" if computed.get("persisted") else "virtual"
    return f"{kind} {normalise_sql(computed.get('sqltext') or '')}"


def _reflect_table_parts(inspector: sa.Inspector, name: str) -> Table:
    table = Table(name)
    for col in inspector.get_columns(name):
        default = col.get("default")
        table.columns[col["name"]] = Column(
            name=col["name"],
            type=_type_name(col["type"], inspector.dialect),
            nullable=bool(col["nullable"]),
            default=None if default is None else str(default),
            autoincrement=col.get("autoincrement") is True,
            comment=col.get("comment") or None,
            generated=_generated(col),
        )
    table.primary_key = tuple(
        inspector.get_pk_constraint(name).get("constrained_columns") or ()
    )
    for index in inspector.get_indexes(name):
        # MySQL reports a unique key both as an index and a constraint.
        if index.get("duplicates_constraint"):
            continue
        columns = tuple(c for c in index["column_names"] if c is not None)
        table.indexes[index["name"]] = (columns, bool(index.get("unique")))
    for unique in inspector.get_unique_constraints(name):
        table.unique_keys.add(tuple(unique["column_names"]))
    if inspector.dialect.name == "sqlite":
        return table  # foreign keys: _sqlite_foreign_keys
    for fk in inspector.get_foreign_keys(name):
        options = fk.get("options") or {}
        table.foreign_keys.append(
            ForeignKey(
                columns=tuple(fk["constrained_columns"]),
                referred_table=fk["referred_table"],
                referred_columns=tuple(fk["referred_columns"]),
                ondelete=_ondelete(options.get("ondelete")),
                onupdate=_ondelete(options.get("onupdate")),
            )
        )
    return table


def _sqlite_foreign_keys(connection: Connection, name: str) -> list[ForeignKey]:
    """Every foreign key of a SQLite table, two on the same columns included
    (SQLAlchemy's reflection keeps one of them)."""
    quote = connection.dialect.identifier_preparer.quote_identifier
    rows = connection.exec_driver_sql(f"PRAGMA foreign_key_list({quote(name)})").all()
    keys: dict[int, list] = {}
    for key_id, _seq, referred, column, referred_column, onupdate, ondelete, _ in rows:
        keys.setdefault(key_id, []).append(
            (referred, column, referred_column, onupdate, ondelete)
        )
    out = []
    for parts in keys.values():
        referred = parts[0][0]
        referred_columns = [p[2] for p in parts]
        if None in referred_columns:  # REFERENCES t: its primary key
            pk = connection.exec_driver_sql(
                f"PRAGMA table_info({quote(referred)})"
            ).all()
            referred_columns = [r[1] for r in sorted(pk, key=lambda r: r[5]) if r[5]]
        out.append(
            ForeignKey(
                columns=tuple(p[1] for p in parts),
                referred_table=referred,
                referred_columns=tuple(referred_columns),
                ondelete=_ondelete(parts[0][4]),
                onupdate=_ondelete(parts[0][3]),
            )
        )
    return out


def _mysql_indexes(
    connection: Connection,
) -> dict[str, tuple[dict[str, tuple[tuple[str, ...], bool]], set, set]]:
    """table -> (indexes, unique keys, ignored index names), in one query:
    information_schema has what SQLAlchemy's reflection leaves out (a key on a
    column's prefix, an index the optimizer ignores)."""
    dialect = connection.dialect
    version = dialect.server_version_info or ()
    if dialect.is_mariadb and version >= (10, 6):
        ignored = "IGNORED = 'YES'"
    elif not dialect.is_mariadb and version >= (8, 0):
        ignored = "IS_VISIBLE = 'NO'"
    else:
        ignored = "0"
    rows = connection.exec_driver_sql(
        "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART, "
        f"{ignored} FROM information_schema.STATISTICS "
        "WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME <> 'PRIMARY' "
        "ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
    )
    found: dict[tuple[str, str], list] = {}
    for table, index, non_unique, column, prefix, is_ignored in rows:
        entry = found.setdefault((table, index), [[], not non_unique, False])
        entry[0].append(f"{column}({prefix})" if prefix else column)
        entry[2] = entry[2] or bool(is_ignored)
    out: dict[str, tuple[dict, set, set]] = {}
    for (table, index), (columns, unique, is_ignored) in found.items():
        indexes, unique_keys, ignored_names = out.setdefault(table, ({}, set(), set()))
        indexes[index] = (tuple(columns), unique)
        if unique:
            unique_keys.add(tuple(columns))
        if is_ignored:
            ignored_names.add(index)
    return out


def _mysql_table_options(connection: Connection) -> dict[str, tuple]:
    """name -> (engine, default collation, comment) of every table, in one
    query."""
    rows = connection.exec_driver_sql(
        "SELECT TABLE_NAME, ENGINE, TABLE_COLLATION, TABLE_COMMENT "
        "FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE <> 'VIEW'"
    )
    return {
        name: (engine, collation, comment or None)
        for name, engine, collation, comment in rows
    }


def _mysql_checks(connection: Connection) -> dict[str, set[str]]:
    """table -> its normalised CHECK clauses, column-level ones included
    (SQLAlchemy's reflection sees only the table-level ones)."""
    if connection.dialect.is_mariadb:
        query = (
            "SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
            "WHERE CONSTRAINT_SCHEMA = DATABASE()"
        )
    elif connection.dialect.server_version_info < (8, 0, 16):
        return {}  # MySQL before 8.0.16 parsed CHECKs and kept none
    else:  # MySQL names the table in TABLE_CONSTRAINTS only
        query = (
            "SELECT t.TABLE_NAME, c.CHECK_CLAUSE "
            "FROM information_schema.CHECK_CONSTRAINTS c "
            "JOIN information_schema.TABLE_CONSTRAINTS t "
            "ON t.CONSTRAINT_SCHEMA = c.CONSTRAINT_SCHEMA "
            "AND t.CONSTRAINT_NAME = c.CONSTRAINT_NAME "
            "AND t.CONSTRAINT_TYPE = 'CHECK' "
            "WHERE c.CONSTRAINT_SCHEMA = DATABASE()"
        )
    checks: dict[str, set[str]] = {}
    for table, clause in connection.exec_driver_sql(query):
        checks.setdefault(table, set()).add(normalise_sql(clause))
    return checks


def _triggers(connection: Connection) -> list[Trigger]:
    dialect = connection.dialect.name
    if dialect == "sqlite":
        rows = connection.exec_driver_sql(
            "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'"
        )
        return [
            Trigger(n, t, _render(_after_name(sql, "trigger"))) for n, t, sql in rows
        ]
    if dialect == "mysql":
        rows = connection.exec_driver_sql(
            "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, "
            "EVENT_MANIPULATION, ACTION_STATEMENT FROM information_schema.TRIGGERS "
            "WHERE TRIGGER_SCHEMA = DATABASE()"
        )
        return [
            Trigger(
                name,
                table,
                normalise_sql(
                    f"{timing} {event} ON `{table.replace('`', '``')}` "
                    f"FOR EACH ROW {statement}"
                ),
            )
            for name, table, timing, event, statement in rows
        ]
    return []


def compare_schemas(live: Schema, expected: Schema) -> list[str]:
    """Every way `live` differs from `expected`, one sentence each."""
    differences = []
    for name, definition in expected.views.items():
        got = live.views.get(name)
        if got is None:
            differences.append(f"view {name}: missing")
        elif got != definition:
            differences.append(f"view {name}: {_sql_differs(got, definition)}")
    for name, want in expected.tables.items():
        have = live.tables.get(name)
        if have is None:
            differences.append(f"table {name}: missing")
        else:
            differences.extend(_compare_tables(have, want))
    differences.extend(_compare_triggers(live, expected))
    return differences


def _compare_triggers(live: Schema, expected: Schema) -> list[str]:
    out = []
    for name, want in expected.triggers.items():
        got = live.triggers.get(name)
        if got is None:
            out.append(f"trigger {name} on {want.table}: missing")
        elif got.table != want.table:
            out.append(f"trigger {name}: on {got.table}, expected on {want.table}")
        elif got.definition != want.definition:
            out.append(
                f"trigger {name} on {got.table}: "
                f"{_sql_differs(got.definition, want.definition)}"
            )
    for name, got in live.triggers.items():
        # Like tables, triggers of tables the reference does not know are not
        # differences.
        if name not in expected.triggers and got.table in expected.tables:
            out.append(f"trigger {name} on {got.table}: not in the expected schema")
    return out


def _sql_differs(got: str, want: str, context: int = 50) -> str:
    """Two normalised definitions, shown from just before where they part."""
    start = 0
    while start < min(len(got), len(want)) and got[start] == want[start]:
        start += 1
    start = max(0, start - 10)

    def excerpt(text: str) -> str:
        part = text[start : start + context]
        return (
            ("..." if start else "")
            + part
            + ("..." if len(text) > start + context else "")
        )

    return f"defined as `{excerpt(got)}`, expected `{excerpt(want)}`"


def _compare_tables(have: Table, want: Table) -> list[str]:
    t = have.name
    out = []
    for name, col in want.columns.items():
        got = have.columns.get(name)
        if got is None:
            out.append(f"column {t}.{name}: missing")
            continue
        if got.type != col.type:
            out.append(f"column {t}.{name}: type is {got.type}, expected {col.type}")
        if got.nullable != col.nullable:
            out.append(
                f"column {t}.{name}: {_null(got.nullable)}, "
                f"expected {_null(col.nullable)}"
            )
        if got.default != col.default:
            out.append(
                f"column {t}.{name}: default is {got.default or 'none'}, "
                f"expected {col.default or 'none'}"
            )
        if got.autoincrement != col.autoincrement:
            out.append(
                f"column {t}.{name}: "
                f"{'auto-increment' if got.autoincrement else 'no auto-increment'}, "
                f"expected {'auto-increment' if col.autoincrement else 'none'}"
            )
        if got.comment != col.comment:
            out.append(
                f"column {t}.{name}: comment is {_quoted(got.comment)}, "
                f"expected {_quoted(col.comment)}"
            )
        if got.generated != col.generated:
            out.append(
                f"column {t}.{name}: {_generated_words(got.generated)}, "
                f"expected {_generated_words(col.generated)}"
            )
    for name in have.columns.keys() - want.columns.keys():
        out.append(f"column {t}.{name}: not in the expected schema")
    out.extend(_compare_column_order(have, want))

    if have.primary_key != want.primary_key:
        out.append(
            f"table {t}: primary key is {_cols(have.primary_key)}, "
            f"expected {_cols(want.primary_key)}"
        )

    for name, (columns, unique) in want.indexes.items():
        got = have.indexes.get(name)
        if got is None:
            out.append(f"index {t}.{name} {_cols(columns)}: missing")
        elif got[0] != columns:
            out.append(
                f"index {t}.{name}: on {_cols(got[0])}, expected {_cols(columns)}"
            )
        elif got[1] != unique:
            out.append(
                f"index {t}.{name}: {'unique' if got[1] else 'not unique'}, "
                f"expected {'unique' if unique else 'not unique'}"
            )
    for name in have.indexes.keys() - want.indexes.keys():
        out.append(f"index {t}.{name}: not in the expected schema")
    for name in sorted(have.ignored_indexes - want.ignored_indexes):
        if name in want.indexes:
            out.append(f"index {t}.{name}: IGNORED by the optimizer, expected in use")
    for name in sorted(want.ignored_indexes - have.ignored_indexes):
        if name in have.indexes:
            out.append(f"index {t}.{name}: in use, expected IGNORED by the optimizer")

    for columns in want.unique_keys - have.unique_keys:
        out.append(f"unique key {t}{_cols(columns)}: missing")
    for columns in have.unique_keys - want.unique_keys:
        out.append(f"unique key {t}{_cols(columns)}: not in the expected schema")

    out.extend(_compare_foreign_keys(have, want))

    for clause in sorted(want.checks - have.checks):
        out.append(f"check constraint {t} ({clause}): missing")
    for clause in sorted(have.checks - want.checks):
        out.append(f"check constraint {t} ({clause}): not in the expected schema")

    out.extend(_compare_table_options(have, want))
    return out


def _compare_foreign_keys(have: Table, want: Table) -> list[str]:
    """Foreign keys as a multiset: a second key on the same columns is a
    difference (a delete fails on the stricter one), reported with its
    actions."""
    t = have.name
    out = []
    extra = list(have.foreign_keys)
    unmatched = []
    for fk in want.foreign_keys:
        if fk in extra:
            extra.remove(fk)
        else:
            unmatched.append(fk)
    for fk in unmatched:
        # The same columns and target with other actions: one difference.
        got = next((k for k in extra if k.target == fk.target), None)
        if got is None:
            out.append(f"foreign key {t}{fk}: missing ({_actions(fk)})")
            continue
        extra.remove(got)
        if got.ondelete != fk.ondelete:
            out.append(
                f"foreign key {t}{fk}: ON DELETE {got.ondelete}, "
                f"expected ON DELETE {fk.ondelete}"
            )
        if got.onupdate != fk.onupdate:
            out.append(
                f"foreign key {t}{fk}: ON UPDATE {got.onupdate}, "
                f"expected ON UPDATE {fk.onupdate}"
            )
    for fk in extra:
        second = any(k.target == fk.target for k in want.foreign_keys)
        out.append(
            f"foreign key {t}{fk} ({_actions(fk)}): not in the expected schema"
            + (" (a second key on these columns)" if second else "")
        )
    return out


def _actions(fk: ForeignKey) -> str:
    words = f"ON DELETE {fk.ondelete}"
    if fk.onupdate != "NO ACTION":
        words += f" ON UPDATE {fk.onupdate}"
    return words


def _compare_column_order(have: Table, want: Table) -> list[str]:
    """The columns both have, in the live order against the expected one: a
    moved column is named with the column it now follows."""
    have_order = [c for c in have.columns if c in want.columns]
    want_order = [c for c in want.columns if c in have.columns]
    if have_order == want_order:
        return []
    kept = set(_longest_common_subsequence(have_order, want_order))
    out = []
    for name in want_order:
        if name in kept:
            continue
        out.append(
            f"column {have.name}.{name}: {_position(have_order, name)}, "
            f"expected {_position(want_order, name)} (an INSERT without "
            "column names fills columns by position)"
        )
    return out


def _position(order: list[str], name: str) -> str:
    i = order.index(name)
    return "first" if i == 0 else f"after {order[i - 1]}"


def _longest_common_subsequence(a: list[str], b: list[str]) -> list[str]:
    lengths = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            lengths[i + 1][j + 1] = (
                lengths[i][j] + 1
                if x == y
                else max(lengths[i][j + 1], lengths[i + 1][j])
            )
    out = []
    i, j = len(a), len(b)
    while i and j:
        if a[i - 1] == b[j - 1]:
            out.append(a[i - 1])
            i, j = i - 1, j - 1
        elif lengths[i - 1][j] >= lengths[i][j - 1]:
            i -= 1
        else:
            j -= 1
    return out[::-1]


def _generated_words(generated: str | None) -> str:
    if generated is None:
        return "not generated"
    kind, _, expression = generated.partition(" ")
    return f"generated ({kind}) as {expression}"


def _compare_table_options(have: Table, want: Table) -> list[str]:
    t = have.name
    out = []
    if have.engine != want.engine:
        out.append(f"table {t}: engine is {have.engine}, expected {want.engine}")
    if have.collation != want.collation:
        out.append(
            f"table {t}: default character set and collation are "
            f"{_charset(have.collation)}, expected {_charset(want.collation)}"
        )
    if have.comment != want.comment:
        out.append(
            f"table {t}: comment is {_quoted(have.comment)}, "
            f"expected {_quoted(want.comment)}"
        )
    return out


def _null(nullable: bool) -> str:
    return "nullable" if nullable else "NOT NULL"


def _cols(columns: tuple[str, ...]) -> str:
    return f"({', '.join(columns)})"


def _quoted(comment: str | None) -> str:
    return "none" if comment is None else repr(comment)


def _charset(collation: str | None) -> str:
    # A MySQL collation's name starts with its character set's.
    if collation is None:
        return "none"
    return f"{collation.split('_')[0]} ({collation})"


def schema_objects(schema: Schema) -> dict[tuple, str]:
    """Every view, table, column and index of `schema`, keyed for comparing
    sets, each with its name in words. The columns and indexes of a table
    come with it (see `outermost`)."""
    objects = {("view", name): f"view {name}" for name in schema.views}
    for name, table in schema.tables.items():
        objects[("table", name)] = f"table {name}"
        for column in table.columns:
            objects[("column", name, column)] = f"column {name}.{column}"
        for index in table.indexes:
            objects[("index", name, index)] = f"index {name}.{index}"
    return objects


def outermost(keys: set[tuple]) -> list[tuple]:
    """`keys` without the columns and indexes of a table that is in `keys`
    itself (a new table is one object, not one per column), in order."""
    tables = {key[1] for key in keys if key[0] == "table"}
    return sorted(k for k in keys if k[0] in ("view", "table") or k[1] not in tables)
