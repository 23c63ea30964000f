"""case fields

The handling case of `db.cases.rules` stored on the report: owner, due time, handling department,
extension request, rating, merge target and a version for compare-and-set writes. Every column
is nullable or has a server default, so reports filed before this revision stay valid.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import db.models

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# No batch mode, although SQLite cannot add a foreign key with ALTER: batch mode rebuilds the
# table (copy, DROP TABLE report, rename), and with foreign keys on, dropping a report that
# events and attachments point to fails inside the migration's transaction, where
# ``PRAGMA foreign_keys=OFF`` is ignored. A nullable column may carry its REFERENCES clause
# inline in ``ALTER TABLE … ADD COLUMN`` (SQLite and PostgreSQL both accept it), and dropping a
# column drops its foreign key on both (SQLite >= 3.35 drops columns natively), so neither
# direction copies the table.
_REFERENCES = {
    'owner_department_id': 'department.id',
    'handling_department_id': 'department.id',
    'conflict_department_id': 'department.id',
    'merged_into_id': 'report.id',
}

_INDEXES = (('ix_report_due_at', 'due_at'), ('ix_report_handling_department_id', 'handling_department_id'))


def _columns() -> list[sa.Column]:
    def ref(name: str) -> sa.Column:
        return sa.Column(name, sa.Integer(), sa.ForeignKey(_REFERENCES[name]), nullable=True)

    return [
        sa.Column('owner_kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        ref('owner_department_id'),
        sa.Column('due_at', db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('due_kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        ref('handling_department_id'),
        sa.Column('assigned_at', db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('signed_at', db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('replied_at', db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('extension_used', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column('extension_days', sa.Integer(), nullable=True),
        sa.Column('extension_reason', sa.Text(), nullable=True),
        sa.Column('extension_requested_at', db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('reopen_count', sa.Integer(), nullable=False, server_default='0'),
        ref('conflict_department_id'),
        sa.Column('rating', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column('rating_comment', sa.Text(), nullable=True),
        ref('merged_into_id'),
        sa.Column('version', sa.Integer(), nullable=False, server_default='0'),
    ]


def upgrade() -> None:
    for column in _columns():
        op.add_column('report', column, inline_references=column.name in _REFERENCES)
    for name, column_name in _INDEXES:
        op.create_index(name, 'report', [column_name], unique=False)


def downgrade() -> None:
    # Indexes first: SQLite refuses to drop an indexed column.
    for name, _column_name in _INDEXES:
        op.drop_index(name, table_name='report')
    for column in reversed(_columns()):
        op.drop_column('report', column.name)
