"""Whether a SQLite database file changed: what is read from it stays true
while it has not (the home page's row counts, the schema's fingerprint)."""

import os


def sqlite_file_state(path: str | None) -> tuple | None:
    """What changes when a SQLite database is written: the file change counter
    in its header (bytes 24-27, one more on every commit in the default
    rollback-journal mode) and, should the file be in WAL mode, its log's
    size and time; and the file itself (inode, size). Counts made in the
    same state still hold. None for an in-memory database, which is counted
    every time."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    try:
        with open(path, "rb") as db_file:
            stat = os.fstat(db_file.fileno())
            db_file.seek(24)
            counter = db_file.read(4)
        wal = os.stat(path + "-wal") if os.path.exists(path + "-wal") else None
    except OSError:
        return None
    # The file's identity and size too: a database made anew in its place
    # (`flask demo prepare`) starts its counter again.
    return (stat.st_ino, stat.st_size, counter), wal and (wal.st_mtime_ns, wal.st_size)
