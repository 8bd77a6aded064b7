"""A cheap check of the live schema, on every readiness probe and status call.

Building a revision's schema to compare with (verify, a drift check) takes a
second or more: too slow for every request. A fingerprint of the mapped
tables' columns, indexes and foreign keys is three reads of
information_schema (on SQLite, of sqlite_master and its pragmas), a couple of
milliseconds. It is compared with:

- at head, the models: every mapped table, column and named index the models
  have must exist (a stamp that lies, `flask db stamp head` on a database at
  an older revision, fails this at once);
- at any revision, the fingerprint Headway stored when it last proved the
  live schema to be that revision's (verify, adopt, a stamp's proof, a drift
  check), kept per revision and per content of the revision files: a column
  dropped out of band changes it.

With nothing to compare with (behind head, never proven) the answer is
"unchecked", never "ok".
"""

import hashlib
import json
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from app.clock import utcnow
from app.dbadmin.core.catalog import Catalog
from app.dbadmin.core.sqlite_file import sqlite_file_state
from app.models.console import SchemaFingerprint
from app.models.own import TABLE_PREFIX

OK, DRIFT, UNCHECKED = "ok", "drift", "unchecked"


@dataclass
class LiveShape:
    """The mapped tables as the server reports them: what the models check
    reads (column and index names) and a digest of everything."""

    columns: dict[str, list[str]] = field(default_factory=dict)
    indexes: dict[str, set[str]] = field(default_factory=dict)
    digest: str = ""


@dataclass
class SchemaCheck:
    state: str  # OK, DRIFT or UNCHECKED
    differences: list[str] = field(default_factory=list)
    # What it was compared with, in words ("the models", "the schema proven
    # at 0001_baseline on ...").
    against: str = ""
    # The mapped tables' columns as the server reported them: the data pages
    # map only these (app/employees/schema.py), without a read of their own.
    columns: dict[str, list[str]] = field(default_factory=dict)


def mapped_tables(metadata: sa.MetaData) -> tuple[str, ...]:
    """The user's tables the models map (not Headway's own)."""
    return tuple(sorted(n for n in metadata.tables if not n.startswith(TABLE_PREFIX)))


# SQLite: (file, tables) -> (the file's state, its shape). A schema change
# is a commit, which changes the file's state (core/sqlite_file.py).
_sqlite_shapes: dict[tuple, tuple[tuple, "LiveShape"]] = {}


def live_shape(connection: Connection, tables: tuple[str, ...]) -> LiveShape:
    if connection.dialect.name == "mysql":
        return _shape(_mysql_rows(connection, tables))
    key = (connection.engine.url.database, tables)
    state = sqlite_file_state(key[0])
    kept = _sqlite_shapes.get(key)
    if state is not None and kept is not None and kept[0] == state:
        return kept[1]
    shape = _shape(_sqlite_rows(connection, tables))
    if state is not None:
        _sqlite_shapes[key] = (state, shape)
    return shape


def _shape(rows: tuple) -> LiveShape:
    columns, indexes, foreign_keys = rows
    shape = LiveShape()
    for table, name, *_ in columns:
        shape.columns.setdefault(table, []).append(name)
    for table, name, *_ in indexes:
        shape.indexes.setdefault(table, set()).add(name)
    # Foreign keys by what they do, not by their (server-generated) names.
    keys: dict[tuple, list] = {}
    for table, name, *rest in foreign_keys:
        keys.setdefault((table, name), []).append(rest)
    by_table = sorted([table, sorted(parts)] for (table, _), parts in keys.items())
    text = json.dumps([columns, indexes, by_table], default=str)
    shape.digest = hashlib.sha256(text.encode()).hexdigest()
    return shape


def _in_list(tables: tuple[str, ...]) -> tuple[str, dict]:
    params = {f"t{i}": name for i, name in enumerate(tables)}
    return ", ".join(f":{key}" for key in params) or "NULL", params


def _mysql_rows(connection: Connection, tables: tuple[str, ...]) -> tuple:
    names, params = _in_list(tables)
    where = f"TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ({names})"
    dialect = connection.dialect
    version = dialect.server_version_info or ()
    if dialect.is_mariadb and version >= (10, 6):
        ignored = "IGNORED"
    elif not dialect.is_mariadb and version >= (8, 0):
        ignored = "IS_VISIBLE"
    else:
        ignored = "''"

    def rows(sql: str) -> list[list]:
        return [list(r) for r in connection.execute(sa.text(sql), params)]

    columns = rows(
        "SELECT TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_TYPE, "
        "IS_NULLABLE, COLUMN_DEFAULT, EXTRA, COLLATION_NAME, GENERATION_EXPRESSION "
        f"FROM information_schema.COLUMNS WHERE {where} "
        "ORDER BY TABLE_NAME, ORDINAL_POSITION"
    )
    indexes = rows(
        "SELECT TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, SUB_PART, "
        f"NON_UNIQUE, {ignored} FROM information_schema.STATISTICS WHERE {where} "
        "ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
    )
    # With their actions; their columns show in the indexes InnoDB keeps for
    # them. (Joining KEY_COLUMN_USAGE costs ten times the three reads.)
    foreign_keys = rows(
        "SELECT TABLE_NAME, '', REFERENCED_TABLE_NAME, UPDATE_RULE, DELETE_RULE "
        "FROM information_schema.REFERENTIAL_CONSTRAINTS "
        f"WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME IN ({names})"
    )
    return columns, indexes, foreign_keys


def _sqlite_rows(connection: Connection, tables: tuple[str, ...]) -> tuple:
    names, params = _in_list(tables)

    def rows(sql: str) -> list[list]:
        return [list(r) for r in connection.execute(sa.text(sql), params)]

    # pragma_table_xinfo: hidden (generated) columns too.
    columns = rows(
        'SELECT m.name, p.name, p.cid, p.type, p."notnull", p.dflt_value, p.pk, '
        "p.hidden FROM sqlite_master m JOIN pragma_table_xinfo(m.name) p "
        f"WHERE m.type = 'table' AND m.name IN ({names}) ORDER BY m.name, p.cid"
    )
    indexes = rows(
        'SELECT m.name, i.name, i."unique", i.origin, i.partial, x.sql '
        "FROM sqlite_master m JOIN pragma_index_list(m.name) i "
        "LEFT JOIN sqlite_master x ON x.type = 'index' AND x.name = i.name "
        f"WHERE m.type = 'table' AND m.name IN ({names}) ORDER BY m.name, i.name"
    )
    foreign_keys = rows(
        'SELECT m.name, f.id, f.seq, f."from", f."table", f."to", '
        "f.on_update, f.on_delete FROM sqlite_master m "
        "JOIN pragma_foreign_key_list(m.name) f "
        f"WHERE m.type = 'table' AND m.name IN ({names}) ORDER BY m.name, f.id, f.seq"
    )
    return columns, indexes, foreign_keys


def model_shape_differences(shape: LiveShape, metadata: sa.MetaData) -> list[str]:
    """What the models map that the live schema lacks: tables, columns, named
    indexes. What only the database has is not a difference (legacy
    databases have more than the models)."""
    out = []
    for name in mapped_tables(metadata):
        table = metadata.tables[name]
        live_columns = shape.columns.get(name)
        if live_columns is None:
            out.append(f"table {name}: in the models, missing from the database")
            continue
        for column in table.columns:
            if column.name not in live_columns:
                out.append(
                    f"column {name}.{column.name}: in the models, missing from "
                    "the database"
                )
        for index in table.indexes:
            if index.name and index.name not in shape.indexes.get(name, ()):
                out.append(
                    f"index {name}.{index.name}: in the models, missing from "
                    "the database"
                )
    return out


def schema_key(catalog: Catalog, current: tuple[str, ...]) -> str:
    """The stored fingerprint's key: the revisions, and the content of their
    files and their ancestors' (an edited revision file builds another
    schema)."""

    def compute() -> str:
        revisions = catalog.script.revision_map.iterate_revisions(
            current, "base", inclusive=True
        )
        parts = sorted(
            f"{r.revision}:{catalog.by_id[r.revision].checksum}" for r in revisions
        )
        text = ",".join(sorted(current)) + "|" + ",".join(parts)
        return hashlib.sha256(text.encode()).hexdigest()

    return catalog.memo(("schema key", tuple(sorted(current))), compute)


_fingerprints = SchemaFingerprint.__table__
# Built once: the statement's cache key costs more than running it.
_STORED = sa.select(_fingerprints.c.fingerprint, _fingerprints.c.recorded_at).where(
    _fingerprints.c.key == sa.bindparam("key")
)


def check_schema(
    connection: Connection,
    catalog: Catalog,
    current: tuple[str, ...],
    metadata: sa.MetaData,
) -> SchemaCheck:
    """The live schema of a database stamped with `current` (known revisions)
    against the models (at head) and the fingerprint stored for `current`.
    Four small reads."""
    shape = live_shape(connection, mapped_tables(metadata))
    check = _compare(shape, connection, catalog, current, metadata)
    check.columns = shape.columns
    return check


def _compare(
    shape: LiveShape,
    connection: Connection,
    catalog: Catalog,
    current: tuple[str, ...],
    metadata: sa.MetaData,
) -> SchemaCheck:
    at_head = set(current) == set(catalog.heads)
    if at_head:
        differences = model_shape_differences(shape, metadata)
        if differences:
            return SchemaCheck(DRIFT, differences, "the models")
    stored = _stored(connection, schema_key(catalog, current))
    if stored is not None:
        fingerprint, recorded_at = stored
        proven = (
            f"the schema proven at {', '.join(current)} on "
            f"{recorded_at:%Y-%m-%d %H:%M} UTC"
        )
        if fingerprint != shape.digest:
            return SchemaCheck(
                DRIFT,
                [
                    "the mapped tables' columns, indexes or foreign keys changed "
                    f"since Headway proved them at {', '.join(current)} "
                    f"({recorded_at:%Y-%m-%d %H:%M} UTC); a drift check names "
                    "the differences"
                ],
                proven,
            )
        return SchemaCheck(OK, [], proven)
    if at_head:
        return SchemaCheck(OK, [], "the models")
    return SchemaCheck(UNCHECKED, [], "nothing yet")


def _stored(connection: Connection, key: str) -> sa.Row | None:
    """The stored fingerprint, if any (None before `flask headway init`: a
    failed SELECT leaves MySQL's and SQLite's transactions usable; a lost
    connection does not, and is raised)."""
    try:
        return connection.execute(_STORED, {"key": key}).first()
    except sa.exc.DBAPIError as exc:
        if exc.connection_invalidated:
            raise
        return None


def record_fingerprint(
    engine: Engine, catalog: Catalog, revisions: tuple[str, ...], metadata: sa.MetaData
) -> None:
    """Keep the live schema's fingerprint as `revisions`' schema: called
    right after Headway proved the live schema to be that revision's. Before
    `flask headway init` (no table to keep it in), nothing is kept."""
    if any(r not in catalog.by_id for r in revisions):
        return
    key = schema_key(catalog, revisions)
    try:
        with engine.begin() as conn:
            digest = live_shape(conn, mapped_tables(metadata)).digest
            conn.execute(sa.delete(_fingerprints).where(_fingerprints.c.key == key))
            conn.execute(
                sa.insert(_fingerprints).values(
                    key=key,
                    revisions=",".join(revisions),
                    fingerprint=digest,
                    recorded_at=utcnow(),
                )
            )
    except sa.exc.SQLAlchemyError:
        pass  # Headway's tables are not set up yet, or another worker won
