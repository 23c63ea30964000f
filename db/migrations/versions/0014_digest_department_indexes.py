"""digest department indexes

On SQLite the monthly digest now reads each department's figures with index seeks, department
by department (`db.cases.metrics`), instead of one range over the whole month followed by a sort of
every row by department: sorting a month of a million-report table cost more than reading it.
These covering indexes lead with the department for that. The month-first indexes of revision
0009 stay: PostgreSQL still aggregates the month's range in hash tables, its fast shape.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = (
    ('ix_report_department_assigned_at', 'report', ['handling_department_id', 'assigned_at', 'signed_at']),
    ('ix_report_department_due', 'report', ['handling_department_id', 'due_kind', 'due_at', 'state', 'number']),
    ('ix_report_event_department_kind', 'report_event', ['department_id', 'kind', 'created_at', 'due_at']),
)


def upgrade() -> None:
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _columns in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
