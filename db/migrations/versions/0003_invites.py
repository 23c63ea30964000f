"""invites

Single-use, expiring invite links that bind a Telegram account to a role; only the SHA-256 of
each token is stored.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


import db.models

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('invite',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('role', sa.Enum('admin', 'liaison', 'leader', 'evaluator', name='role', native_enum=False, length=20), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('created_by_account_id', sa.Integer(), nullable=True),
    sa.Column('created_at', db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', db.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('used_by_account_id', sa.Integer(), nullable=True),
    sa.Column('revoked_at', db.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_account_id'], ['account.id'], ),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], ),
    sa.ForeignKeyConstraint(['used_by_account_id'], ['account.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )


def downgrade() -> None:
    op.drop_table('invite')
