"""INSERT ... ON CONFLICT DO NOTHING for both dialects."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Connection, CursorResult, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert


@functools.cache
def _statement(dialect: str, table: Table) -> Insert:
    # Built once per table: building a statement costs more than running it, and pushes run many.
    module = postgresql if dialect == "postgresql" else sqlite
    statement: Insert = module.insert(table).on_conflict_do_nothing()
    return statement


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any] | list[dict[str, Any]]) -> CursorResult[Any]:
    """Insert the row (or rows), skipping any already there; for one row, the rowcount tells
    whether it was inserted (1) or already there (0)."""
    return conn.execute(_statement(conn.dialect.name, table), values)
