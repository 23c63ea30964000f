"""appraisal rounds, post-service ratings, the quarterly bulletin

Evaluator groups (with the three of seed 001 to start with) and the group an evaluator invite
joins and an evaluator grant holds; appraisal rounds with their groups, units, ballots and frozen
results; rating links and post-service ratings (公述民评); the quarterly bulletin and whether it
is published.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import db.models

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('evaluator_group',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', db.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_table('appraisal_round',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('period', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('quarter', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=True),
    sa.Column('dimensions', sa.Text(), nullable=False),
    sa.Column('scale_max', sa.Integer(), nullable=False),
    sa.Column('closes_on', sa.Date(), nullable=False),
    sa.Column('closes_at', db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('state', sa.Enum('open', 'closed', name='roundstate', native_enum=False, length=20), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', db.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('anomalies_queued_at', db.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['account.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('appraisal_round', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appraisal_round_closes_at'), ['closes_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_appraisal_round_quarter'), ['quarter'], unique=False)
        batch_op.create_index(batch_op.f('ix_appraisal_round_state'), ['state'], unique=False)

    op.create_table('quarter_bulletin',
    sa.Column('quarter', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('computed_at', db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', db.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('published_at', db.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('published_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['published_by'], ['account.id'], ),
    sa.PrimaryKeyConstraint('quarter')
    )
    op.create_table('rating_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('public_token', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('kind', sa.Enum('poster', 'single', name='ratinglinkkind', native_enum=False, length=20), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('label', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', db.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('used_by_account_id', sa.Integer(), nullable=True),
    sa.Column('revoked_at', db.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['account.id'], ),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], ),
    sa.ForeignKeyConstraint(['used_by_account_id'], ['account.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('rating_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rating_link_department_id'), ['department_id'], unique=False)

    op.create_table('ballot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.Column('scores', sa.Text(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('created_at', db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('excluded_at', db.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('excluded_by', sa.Integer(), nullable=True),
    sa.Column('excluded_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], ),
    sa.ForeignKeyConstraint(['excluded_by'], ['account.id'], ),
    sa.ForeignKeyConstraint(['group_id'], ['evaluator_group.id'], ),
    sa.ForeignKeyConstraint(['round_id'], ['appraisal_round.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('round_id', 'department_id', 'account_id')
    )
    with op.batch_alter_table('ballot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ballot_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ballot_round_id'), ['round_id'], unique=False)

    op.create_table('round_group',
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['evaluator_group.id'], ),
    sa.ForeignKeyConstraint(['round_id'], ['appraisal_round.id'], ),
    sa.PrimaryKeyConstraint('round_id', 'group_id')
    )
    op.create_table('round_result',
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('ballots', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('means', sa.Text(), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('computed_at', db.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], ),
    sa.ForeignKeyConstraint(['round_id'], ['appraisal_round.id'], ),
    sa.PrimaryKeyConstraint('round_id', 'department_id')
    )
    op.create_table('round_unit',
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], ),
    sa.ForeignKeyConstraint(['round_id'], ['appraisal_round.id'], ),
    sa.PrimaryKeyConstraint('round_id', 'department_id')
    )
    op.create_table('service_rating',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('link_id', sa.Integer(), nullable=True),
    sa.Column('value', sa.Enum('satisfied', 'basic', 'unsatisfied', name='serviceratingvalue', native_enum=False, length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('rated_on', sa.Date(), nullable=False),
    sa.Column('day_key', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('created_at', db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('excluded_at', db.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('excluded_by', sa.Integer(), nullable=True),
    sa.Column('excluded_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], ),
    sa.ForeignKeyConstraint(['excluded_by'], ['account.id'], ),
    sa.ForeignKeyConstraint(['link_id'], ['rating_link.id'], ),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_id', 'department_id', 'day_key')
    )
    with op.batch_alter_table('service_rating', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_rating_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_rating_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_rating_rated_on'), ['rated_on'], unique=False)

    # No batch mode: a rebuild drops the old table, which SQLite refuses while foreign keys are
    # on and another table's rows point at it (a handover invite names a grant). SQLite adds a
    # nullable column with its REFERENCES in place, which Alembic's add_column does not offer.
    for table in ('invite', 'role_grant'):
        if op.get_bind().dialect.name == 'sqlite':
            op.execute(
                f'ALTER TABLE {table} ADD COLUMN group_id INTEGER REFERENCES evaluator_group (id)'
            )
        else:
            op.add_column(table, sa.Column('group_id', sa.Integer(), nullable=True))
            op.create_foreign_key(
                f'fk_{table}_group_id', table, 'evaluator_group', ['group_id'], ['id']
            )
    # A window's published duties (公开岗位职责), printed on its rating poster.
    op.add_column('department', sa.Column('duties', sa.Text(), nullable=True))
    groups = sa.table(
        'evaluator_group',
        sa.column('code', sa.String()),
        sa.column('name', sa.String()),
        sa.column('active', sa.Boolean()),
        sa.column('created_at', db.models.UTCDateTime(timezone=True)),
    )
    now = db.models.utcnow()
    op.bulk_insert(groups, [
        {'code': 'QY', 'name': '企业代表', 'active': True, 'created_at': now},
        {'code': 'WS', 'name': '外商代表', 'active': True, 'created_at': now},
        {'code': 'DB', 'name': '人大代表和政协委员', 'active': True, 'created_at': now},
    ])


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35 and later), for the reason given in upgrade.
    op.drop_column('department', 'duties')
    for table in ('role_grant', 'invite'):
        if op.get_bind().dialect.name != 'sqlite':
            op.drop_constraint(f'fk_{table}_group_id', table, type_='foreignkey')
        op.drop_column(table, 'group_id')

    with op.batch_alter_table('service_rating', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_rating_rated_on'))
        batch_op.drop_index(batch_op.f('ix_service_rating_department_id'))
        batch_op.drop_index(batch_op.f('ix_service_rating_account_id'))

    op.drop_table('service_rating')
    op.drop_table('round_unit')
    op.drop_table('round_result')
    op.drop_table('round_group')
    with op.batch_alter_table('ballot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ballot_round_id'))
        batch_op.drop_index(batch_op.f('ix_ballot_account_id'))

    op.drop_table('ballot')
    with op.batch_alter_table('rating_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rating_link_department_id'))

    op.drop_table('rating_link')
    op.drop_table('quarter_bulletin')
    with op.batch_alter_table('appraisal_round', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appraisal_round_state'))
        batch_op.drop_index(batch_op.f('ix_appraisal_round_quarter'))
        batch_op.drop_index(batch_op.f('ix_appraisal_round_closes_at'))

    op.drop_table('appraisal_round')
    op.drop_table('evaluator_group')
