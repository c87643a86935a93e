"""bytewise collation for listed names on PostgreSQL

Revision ID: 0004_s3pg
Revises: 0003_auth
Create Date: 2026-11-29 23:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0004_s3pg'
down_revision = '0003_auth'
branch_labels = None
depends_on = None

# The catalog and tag lists are ordered (and paged with `last`) bytewise, as OCI clients expect.
# SQLite compares bytes already; PostgreSQL would use the database's locale.
COLUMNS = [("repositories", "name", 255), ("tags", "name", 128)]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, length in COLUMNS:
        op.alter_column(table, column, type_=sa.String(length, collation="C"), existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, length in COLUMNS:
        op.alter_column(table, column, type_=sa.String(length, collation="default"), existing_nullable=False)
