"""engines: deployments handed to an external engine (Docker Swarm, Amazon ECS)

Revision ID: 0012_engines
Revises: 0006_scan
Create Date: 2026-12-03 20:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0012_engines'
down_revision = '0010_console'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ecs_engine_rollouts',
    sa.Column('deployment_id', sa.String(length=64), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('ref', sa.String(length=128), nullable=False),
    sa.Column('handed_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['deployment_id'], ['ecs_deployments.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_id'], ['ecs_services.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('deployment_id')
    )
    op.create_index('ix_ecs_engine_rollouts_service', 'ecs_engine_rollouts', ['service_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_ecs_engine_rollouts_service', table_name='ecs_engine_rollouts')
    op.drop_table('ecs_engine_rollouts')
