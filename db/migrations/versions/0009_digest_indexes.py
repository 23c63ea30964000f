"""digest indexes

The monthly digest over a million reports: `report_event.department_id` (the department that
was handling the report when the event happened, so the event figures need no join with
`report`), backfilled from each report's current handling department, which is what the
figures counted before; and covering indexes for the month's assignments, the open backlog (with
the numbers of overdue reports) and the month's events of a few kinds.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain ADD COLUMN with an inline REFERENCES clause, no batch mode: see the note in 0004.
_INDEXES = (
    ('ix_report_assigned_at_department', 'report', ['assigned_at', 'handling_department_id', 'signed_at']),
    ('ix_report_due_kind_due_at', 'report', ['due_kind', 'due_at', 'handling_department_id', 'state', 'number']),
    ('ix_report_event_kind_created_at', 'report_event', ['kind', 'created_at', 'department_id', 'due_at']),
)


def upgrade() -> None:
    op.add_column(
        'report_event',
        sa.Column('department_id', sa.Integer(), sa.ForeignKey('department.id'), nullable=True),
        inline_references=True,
    )
    op.execute(
        'UPDATE report_event SET department_id = '
        '(SELECT report.handling_department_id FROM report WHERE report.id = report_event.report_id)'
    )
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    # Indexes first: SQLite refuses to drop an indexed column.
    for name, table, _columns in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_column('report_event', 'department_id')
