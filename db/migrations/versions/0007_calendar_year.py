"""calendar year

`calendar_year`: years the campaign office declared complete after entering their holidays as
overrides (for years the packaged calendar does not know yet).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.models

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'calendar_year',
        sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('confirmed_at', db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('confirmed_by_account_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['confirmed_by_account_id'], ['account.id']),
        sa.PrimaryKeyConstraint('year'),
    )


def downgrade() -> None:
    op.drop_table('calendar_year')
