"""broadcast

`broadcast`: the office's notices to liaisons (audience, text, author); their messages live in
the outbox, and `reported_at` records that the author got the delivery report.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.models

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'broadcast',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('author_account_id', sa.Integer(), nullable=True),
        sa.Column('audience', sa.String(length=60), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('recipients', sa.Integer(), nullable=False),
        sa.Column('unreachable', sa.Integer(), nullable=False),
        sa.Column('created_at', db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('reported_at', db.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['author_account_id'], ['account.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_broadcast_reported_at', 'broadcast', ['reported_at'])


def downgrade() -> None:
    op.drop_table('broadcast')
