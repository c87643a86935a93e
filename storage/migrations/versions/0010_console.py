"""web console: sessions, who moved each tag, indexes for newest-first pages

Revision ID: 0010_console
Revises: 0007_deployer
Create Date: 2026-12-03 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0010_console'
down_revision = '0008_harden'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('console_sessions',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('principal_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('expires_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['principal_id'], ['principals.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash')
    )
    op.create_index('ix_console_sessions_principal', 'console_sessions', ['principal_id'], unique=False)
    with op.batch_alter_table('tag_history') as batch:
        batch.add_column(sa.Column('actor_kind', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('actor_name', sa.String(length=255), nullable=True))
    op.create_index('ix_manifests_pushed', 'manifests', ['repository_id', 'pushed_at', 'digest'], unique=False)
    op.create_index('ix_tag_history_repository', 'tag_history', ['repository_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_tag_history_repository', table_name='tag_history')
    op.drop_index('ix_manifests_pushed', table_name='manifests')
    with op.batch_alter_table('tag_history') as batch:
        batch.drop_column('actor_name')
        batch.drop_column('actor_kind')
    op.drop_index('ix_console_sessions_principal', table_name='console_sessions')
    op.drop_table('console_sessions')
