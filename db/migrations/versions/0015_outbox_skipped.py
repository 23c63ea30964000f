"""outbox skipped

A reminder that would arrive after the deadline it announces, and the lower rungs of a ladder
passed over after downtime, are skipped rather than sent: the row records when and why, and keeps
its key so that no later scan queues it again.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import db.models

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ADD/DROP COLUMN, no batch mode (see 0005): nullable columns need no table rebuild.


def upgrade() -> None:
    op.add_column('outbox', sa.Column('expires_at', db.models.UTCDateTime(timezone=True), nullable=True))
    op.add_column('outbox', sa.Column('skipped_at', db.models.UTCDateTime(timezone=True), nullable=True))
    op.add_column('outbox', sa.Column('skip_reason', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))


def downgrade() -> None:
    for column in ('skip_reason', 'skipped_at', 'expires_at'):
        op.drop_column('outbox', column)
