"""upload lease holders; upload states keyed by storage.keys; known logins

Revision ID: 0008_harden
Revises: 0005_hooks
Create Date: 2026-12-03 18:00:00.000000
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op


revision = '0008_harden'
down_revision = '0006_scan'
branch_labels = None
depends_on = None

_UPLOADS = sa.table('uploads', sa.column('id', sa.String), sa.column('driver_state', sa.Text))


def _named(state: dict[str, Any]) -> dict[str, Any]:
    """An upload state as drivers now save it: S3 segments by name (storage.keys builds their
    keys), nothing at all for the filesystem, whose only key is the upload's data file."""
    if 'dir' not in state:
        return {}
    return {
        'segments': [[segment['key'].rsplit('/', 1)[1], segment['size']] for segment in state.get('segments', [])],
        'obsolete': [key.rsplit('/', 1)[1] for key in state.get('obsolete', [])],
    }


def _keyed(upload_id: str, state: dict[str, Any]) -> dict[str, Any]:
    """The other way round."""
    directory = f'uploads/{upload_id}/'
    if 'segments' not in state:
        return {'key': directory + 'data'}
    return {
        'dir': directory,
        'segments': [{'key': directory + name, 'size': size} for name, size in state['segments']],
        'obsolete': [directory + name for name in state.get('obsolete', [])],
    }


def _convert(change: Any) -> None:
    conn = op.get_bind()
    for upload_id, saved in conn.execute(sa.select(_UPLOADS.c.id, _UPLOADS.c.driver_state)).all():
        converted = json.dumps(change(upload_id, json.loads(saved)))
        conn.execute(_UPLOADS.update().where(_UPLOADS.c.id == upload_id).values(driver_state=converted))


def upgrade() -> None:
    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_holder', sa.String(length=200), nullable=True))
    _convert(lambda _, state: _named(state))
    op.create_table('auth_known_logins',
    sa.Column('pair', sa.String(length=64), nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('pair')
    )
    # Failures were counted per address; they are now counted under other keys.
    op.execute(sa.text('DELETE FROM auth_failures'))


def downgrade() -> None:
    op.drop_table('auth_known_logins')
    op.execute(sa.text('DELETE FROM auth_failures'))
    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.drop_column('lease_holder')
    _convert(_keyed)
