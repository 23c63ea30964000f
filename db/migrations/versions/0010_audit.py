"""audit

`audit_event`: every admin action with actor, subject and the fields before and after.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.models

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'audit_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('actor_account_id', sa.Integer(), nullable=True),
        sa.Column('action', sa.String(length=50), nullable=False),
        sa.Column('subject', sa.String(length=100), nullable=False),
        sa.Column('before', sa.Text(), nullable=True),
        sa.Column('after', sa.Text(), nullable=True),
        sa.Column('created_at', db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['actor_account_id'], ['account.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_audit_event_actor_account_id', 'audit_event', ['actor_account_id'])
    op.create_index('ix_audit_event_created_at', 'audit_event', ['created_at'])
    op.create_index('ix_audit_event_subject', 'audit_event', ['subject', 'created_at'])


def downgrade() -> None:
    op.drop_table('audit_event')
