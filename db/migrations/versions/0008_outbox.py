"""outbox

`outbox`: every message the bot sends on its own (notices, reminders, escalations, digests), with
a unique deduplication key and the delivery bookkeeping; `department.wecom_url`: the unit's WeCom
group robot.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.models

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('department', sa.Column('wecom_url', sa.String(length=300), nullable=True))
    op.create_table(
        'outbox',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dedupe_key', sa.String(length=200), nullable=False),
        sa.Column(
            'channel',
            sa.Enum('telegram', 'wecom', name='channel', native_enum=False, create_constraint=False,
                    length=20),
            nullable=False,
        ),
        sa.Column('chat_id', sa.BigInteger(), nullable=True),
        sa.Column('department_id', sa.Integer(), nullable=True),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('keyboard', sa.Text(), nullable=True),
        sa.Column('files', sa.Text(), nullable=True),
        sa.Column('urgent', sa.Boolean(), nullable=False),
        sa.Column('next_attempt_at', db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('in_doubt', sa.Integer(), nullable=False),
        sa.Column('claimed_at', db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('sent_at', db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('failed_at', db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.String(length=300), nullable=True),
        sa.Column('created_at', db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['department_id'], ['department.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('dedupe_key'),
    )
    op.create_index('ix_outbox_pending', 'outbox', ['sent_at', 'failed_at', 'next_attempt_at'])


def downgrade() -> None:
    op.drop_index('ix_outbox_pending', table_name='outbox')
    op.drop_table('outbox')
    op.drop_column('department', 'wecom_url')
