"""A database's schema as comparable data, and its differences in words.

Both sides of a comparison are reflected from real databases of the same
dialect (the live one, and a scratch one built by the migrations), so types
compare as the server reports them. Foreign keys and unique keys compare by
what they do, not by name: names are often server-generated. Indexes compare
by name, as Alembic does. Tables the reference does not have are not
differences: legacy databases hold tables the application does not model.
"""

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


@dataclass
class Table:
    name: str
    columns: dict[str, Column] = field(default_factory=dict)
    primary_key: tuple[str, ...] = ()
    # name -> (columns, unique)
    indexes: dict[str, tuple[tuple[str, ...], bool]] = field(default_factory=dict)
    unique_keys: set[tuple[str, ...]] = field(default_factory=set)
    foreign_keys: list[ForeignKey] = field(default_factory=list)


@dataclass
class Schema:
    tables: dict[str, Table] = field(default_factory=dict)
    views: set[str] = field(default_factory=set)


def _ondelete(value: str | None) -> str:
    value = (value or "").upper()
    return "NO ACTION" if value in _ON_DELETE_DEFAULTS else value


def _type_name(type_: sa.types.TypeEngine, dialect) -> str:
    try:
        return type_.compile(dialect=dialect)
    except sa.exc.CompileError:
        return repr(type_)


def reflect_schema(connection: Connection, ignore: Callable[[str], bool]) -> Schema:
    """Reflect every table and view whose name `ignore` does not reject."""
    inspector = sa.inspect(connection)
    dialect = connection.dialect
    schema = Schema(views={v for v in inspector.get_view_names() if not ignore(v)})
    for name in inspector.get_table_names():
        if ignore(name):
            continue
        table = Table(name)
        for col in inspector.get_columns(name):
            default = col.get("default")
            table.columns[col["name"]] = Column(
                name=col["name"],
                type=_type_name(col["type"], dialect),
                nullable=bool(col["nullable"]),
                default=None if default is None else str(default),
                autoincrement=col.get("autoincrement") is True,
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
        schema.tables[name] = table
    return schema


def compare_schemas(live: Schema, expected: Schema) -> list[str]:
    """Every way `live` differs from `expected`, one sentence each."""
    differences = [
        f"view {view}: missing" for view in sorted(expected.views - live.views)
    ]
    for name, want in expected.tables.items():
        have = live.tables.get(name)
        if have is None:
            differences.append(f"table {name}: missing")
        else:
            differences.extend(_compare_tables(have, want))
    return differences


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
                f"column {t}.{name}: default is {got.default}, expected {col.default}"
            )
        if got.autoincrement != col.autoincrement:
            out.append(
                f"column {t}.{name}: "
                f"{'auto-increment' if got.autoincrement else 'no auto-increment'}, "
                f"expected {'auto-increment' if col.autoincrement else 'none'}"
            )
    for name in have.columns.keys() - want.columns.keys():
        out.append(f"column {t}.{name}: not in the expected schema")

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

    for columns in want.unique_keys - have.unique_keys:
        out.append(f"unique key {t}{_cols(columns)}: missing")
    for columns in have.unique_keys - want.unique_keys:
        out.append(f"unique key {t}{_cols(columns)}: not in the expected schema")

    have_fks = {fk.target: fk for fk in have.foreign_keys}
    want_fks = {fk.target: fk for fk in want.foreign_keys}
    for target, fk in want_fks.items():
        got = have_fks.get(target)
        if got is None:
            out.append(f"foreign key {t}{fk}: missing (ON DELETE {fk.ondelete})")
            continue
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
    for target in have_fks.keys() - want_fks.keys():
        out.append(f"foreign key {t}{have_fks[target]}: not in the expected schema")
    return out


def _null(nullable: bool) -> str:
    return "nullable" if nullable else "NOT NULL"


def _cols(columns: tuple[str, ...]) -> str:
    return f"({', '.join(columns)})"
