"""event due

`report_event.due_at`: the due time a step was measured against (the sign due on `signed`, the
reply due on `replied`), so the on-time answer rate (按时办结率) can be computed. Nullable: events
recorded before this revision carry none.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.models

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain ADD/DROP COLUMN, no batch mode: batch mode would rebuild report_event (copy, DROP TABLE,
# rename), which attachments point to; see the note in 0004. SQLite >= 3.35 drops a column
# natively, PostgreSQL always could.


def upgrade() -> None:
    op.add_column(
        'report_event',
        sa.Column('due_at', db.models.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column('report_event', 'due_at')
