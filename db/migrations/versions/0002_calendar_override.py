"""calendar override

Admin-entered working days and holidays that beat the packaged Chinese calendar (which only knows
the years published before its release).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


import db.models

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('calendar_override',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('working', sa.Boolean(), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('created_at', db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_account_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_account_id'], ['account.id'], ),
    sa.PrimaryKeyConstraint('day')
    )


def downgrade() -> None:
    op.drop_table('calendar_override')
