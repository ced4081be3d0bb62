"""Late index and foreign-key creation around a bulk load of whole tables.

Why: on PostgreSQL Django declares every foreign key DEFERRABLE INITIALLY DEFERRED, so a COPY of a
million order lines queues one trigger event per row and key, and the commit then runs ~2.4M single-row
`SELECT ... FOR KEY SHARE` lookups (half of the generator's write time, measured). Each secondary index
is also grown one row at a time, at random places for the columns that are not in insertion order
(product, status, dates). Dropping the keys and plain indexes before the load and creating them after
replaces all of that with one sort per index and one anti-join per key, which is what PostgreSQL's own
manual recommends for populating a database ("Populating a Database": remove indexes and foreign keys).

The definitions are read from the catalogue just before dropping (`pg_get_indexdef`,
`pg_get_constraintdef`, SQLite's `sqlite_master.sql`) and replayed verbatim, so names and definitions
come back identical and the keys are validated against every row when they are re-added. Both databases
have transactional DDL: a failure before the end rolls the drops back with the data. Primary keys and
unique constraints stay (other tables may reference them, and the generator's ids are time-ordered, so
their B-trees grow at the right edge).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

_PG_FOREIGN_KEYS = """
    SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
    FROM pg_constraint c
    WHERE c.contype = 'f' AND c.conrelid = ANY(%s::regclass[])
    ORDER BY c.conrelid::regclass::text, c.conname
"""
# plain indexes only: those backing a primary key, unique or exclusion constraint are left in place
_PG_PLAIN_INDEXES = """
    SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
    FROM pg_index i
    WHERE i.indrelid = ANY(%s::regclass[])
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
    ORDER BY 1
"""
_SQLITE_INDEXES = """
    SELECT name, sql FROM sqlite_master
    WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({})
    ORDER BY name
"""


@contextlib.contextmanager
def late_indexes_and_keys(cursor, tables: Sequence[str]) -> Iterator[None]:
    """Drop the tables' secondary indexes (and, on PostgreSQL, foreign keys) for the body, then recreate
    them exactly as they were. Only inside a transaction: outside one a failure would leave the schema
    without its indexes, so there the body simply runs with them."""
    vendor = cursor.db.vendor
    if not cursor.db.in_atomic_block or vendor not in ("postgresql", "sqlite"):
        yield
        return
    if vendor == "postgresql":
        cursor.execute(_PG_FOREIGN_KEYS, [list(tables)])
        keys = cursor.fetchall()
        cursor.execute(_PG_PLAIN_INDEXES, [list(tables)])
        indexes = cursor.fetchall()
        if keys:
            # a DELETE earlier in the transaction (write_shop(clear=True)) leaves these keys' deferred
            # checks pending, and PostgreSQL refuses to alter a table with pending trigger events:
            # run those checks now (only these keys, which are dropped next, change mode)
            cursor.execute("SET CONSTRAINTS " + ", ".join(f'"{name}"' for _, name, _ in keys) + " IMMEDIATE")
        for table, name, _ in keys:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {name}")
    else:
        cursor.execute(_SQLITE_INDEXES.format(", ".join(["%s"] * len(tables))), list(tables))
        keys = []  # SQLite's keys are part of the table definition and cannot be dropped
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    yield  # on an exception the caller's transaction rolls the drops back: nothing to restore by hand
    if vendor == "postgresql":
        # the default 64 MB makes the order-line indexes sort on disk; for this transaction only
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
    for _, definition in indexes:
        cursor.execute(definition)
    for table, name, definition in keys:
        cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
