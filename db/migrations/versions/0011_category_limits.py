"""category limits

`category.sign_days` and `category.reply_days`: per-category time limits in working days that
override the configured defaults (null keeps the default). Also `invite.replaces_grant_id`: an
invite made for a handover ends the old liaison's grant when it is redeemed.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain ADD/DROP COLUMN with the reference inline, no batch mode (see the note in 0004).


def upgrade() -> None:
    op.add_column('category', sa.Column('sign_days', sa.Integer(), nullable=True))
    op.add_column('category', sa.Column('reply_days', sa.Integer(), nullable=True))
    op.add_column(
        'invite',
        sa.Column('replaces_grant_id', sa.Integer(), sa.ForeignKey('role_grant.id'), nullable=True),
        inline_references=True,
    )


def downgrade() -> None:
    op.drop_column('invite', 'replaces_grant_id')
    op.drop_column('category', 'reply_days')
    op.drop_column('category', 'sign_days')
