"""duties

Campaigns and their phases; duties (`obligation`, with `obligation_unit` for listed units), the
submissions each unit owes per period with every review round; the rectification ledger with
its history; files of rounds and ledger updates; drafts of both.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-22
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.models

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('campaign',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('template', sa.String(length=50), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', db.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('campaign_phase',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('campaign_phase', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_phase_campaign_id'), ['campaign_id'], unique=False)

    op.create_table('duty_draft',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=40), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('updated_at', db.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.PrimaryKeyConstraint('account_id', 'subject')
    )
    with op.batch_alter_table('duty_draft', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_duty_draft_updated_at'), ['updated_at'], unique=False)

    op.create_table('obligation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.Enum('self_check', 'plan', 'quarterly', 'summary', 'other', name='obligationkind', native_enum=False, create_constraint=False, length=20), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('scope', sa.Enum('all', 'dept_class', 'listed', name='dutyscope', native_enum=False, create_constraint=False, length=20), nullable=False),
    sa.Column('scope_class', sa.String(length=20), nullable=True),
    sa.Column('period', sa.Enum('once', 'month', 'quarter', 'half_year', name='dueperiod', native_enum=False, create_constraint=False, length=20), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('days_after', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('questions', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', db.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], ),
    sa.ForeignKeyConstraint(['created_by'], ['account.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('obligation_unit',
    sa.Column('obligation_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], ),
    sa.ForeignKeyConstraint(['obligation_id'], ['obligation.id'], ),
    sa.PrimaryKeyConstraint('obligation_id', 'department_id')
    )
    op.create_table('submission',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('obligation_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('due_at', db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('questions', sa.Text(), nullable=False),
    sa.Column('state', sa.Enum('due', 'submitted', 'returned', 'accepted', name='submissionstate', native_enum=False, create_constraint=False, length=20), nullable=False),
    sa.Column('rounds', sa.Integer(), nullable=False),
    sa.Column('first_submitted_at', db.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('submitted_at', db.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resubmit_due_at', db.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('accepted_at', db.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', db.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], ),
    sa.ForeignKeyConstraint(['obligation_id'], ['obligation.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('obligation_id', 'department_id', 'period')
    )
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_submission_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_submission_obligation_id'), ['obligation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_submission_state'), ['state'], unique=False)
        batch_op.create_index('ix_submission_state_due', ['state', 'due_at'], unique=False)

    op.create_table('rectification_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.Enum('self_check', 'inspection', 'report', name='ledgersource', native_enum=False, create_constraint=False, length=20), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=True),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('measure', sa.Text(), nullable=True),
    sa.Column('owner_name', sa.String(length=50), nullable=True),
    sa.Column('due_at', db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('state', sa.Enum('open', 'done', 'confirmed', name='ledgerstate', native_enum=False, create_constraint=False, length=20), nullable=False),
    sa.Column('reopen_count', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('done_at', db.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('confirmed_at', db.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['category.id'], ),
    sa.ForeignKeyConstraint(['created_by'], ['account.id'], ),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], ),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], ),
    sa.ForeignKeyConstraint(['submission_id'], ['submission.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('rectification_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rectification_item_department_id'), ['department_id'], unique=False)
        batch_op.create_index('ix_rectification_item_state_due', ['state', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_rectification_item_submission_id'), ['submission_id'], unique=False)

    op.create_table('submission_round',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('answers', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('submitted_by', sa.Integer(), nullable=True),
    sa.Column('submitted_at', db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decision', sa.Enum('accepted', 'returned', name='reviewdecision', native_enum=False, create_constraint=False, length=20), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('reviewed_by', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', db.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['reviewed_by'], ['account.id'], ),
    sa.ForeignKeyConstraint(['submission_id'], ['submission.id'], ),
    sa.ForeignKeyConstraint(['submitted_by'], ['account.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('submission_id', 'number')
    )
    with op.batch_alter_table('submission_round', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_submission_round_submission_id'), ['submission_id'], unique=False)

    op.create_table('ledger_update',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('created', 'progress', 'done', 'confirmed', 'reopened', name='ledgerupdatekind', native_enum=False, create_constraint=False, length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('created_at', db.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.ForeignKeyConstraint(['item_id'], ['rectification_item.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('ledger_update', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_update_item_id'), ['item_id'], unique=False)

    op.create_table('duty_file',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=True),
    sa.Column('update_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=True),
    sa.Column('mime_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('path', sa.String(length=255), nullable=False),
    sa.Column('created_at', db.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['round_id'], ['submission_round.id'], ),
    sa.ForeignKeyConstraint(['update_id'], ['ledger_update.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('duty_file', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_duty_file_round_id'), ['round_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_duty_file_sha256'), ['sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_duty_file_update_id'), ['update_id'], unique=False)



def downgrade() -> None:
    for table in (
        'duty_file',
        'ledger_update',
        'submission_round',
        'rectification_item',
        'submission',
        'obligation_unit',
        'obligation',
        'duty_draft',
        'campaign_phase',
        'campaign',
    ):
        op.drop_table(table)
