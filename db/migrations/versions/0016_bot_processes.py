"""bot processes and the scheduler's lease

Several bot processes may share one PostgreSQL database: each registers itself with a heartbeat,
one holds the scheduler's lease and runs the jobs, and an outbox attempt records the process
making it, so that only a gone process's attempts are taken over.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import db.models

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'bot_process',
        sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('host', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('started_at', db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('heartbeat_at', db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('stopped_at', db.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'scheduler_lease',
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('acquired_at', db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', db.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
    # Plain ADD COLUMN (see 0005): a nullable column needs no table rebuild.
    op.add_column('outbox', sa.Column('claimed_by', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))


def downgrade() -> None:
    op.drop_column('outbox', 'claimed_by')
    op.drop_table('scheduler_lease')
    op.drop_table('bot_process')
