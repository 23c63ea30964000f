"""leader involved

`report.leader_involved`: the reporter marked the report as concerning the leadership of the unit
(涉及单位负责人). With a unit named it becomes the case's conflict-of-interest department; without
one it still tells the office's triage not to send it to that unit's own leadership.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain ADD/DROP COLUMN, no batch mode (see the note in 0004).


def upgrade() -> None:
    op.add_column(
        'report',
        sa.Column('leader_involved', sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column('report', 'leader_involved')
