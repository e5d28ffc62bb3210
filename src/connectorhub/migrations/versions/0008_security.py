"""security roles inside solutions (S5): business units, teams, roles, owners, shares

Revision ID: 0008
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

from connectorhub.db import UtcDateTime

revision = '0008'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'security_business_units',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('org_id', sa.String(length=40), nullable=False),
        sa.Column('environment_id', sa.String(length=40), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('parent_id', sa.String(length=40), nullable=True),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_security_business_units_environment_id_environments'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_security_business_units_org_id_organizations')),
        sa.ForeignKeyConstraint(['parent_id'], ['security_business_units.id'], name=op.f('fk_security_business_units_parent_id_security_business_units')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_security_business_units')),
        sa.UniqueConstraint('environment_id', 'name', name=op.f('uq_security_business_units_environment_id')),
    )
    with op.batch_alter_table('security_business_units', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_security_business_units_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_security_business_units_parent_id'), ['parent_id'], unique=False)

    op.create_table(
        'security_teams',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('org_id', sa.String(length=40), nullable=False),
        sa.Column('environment_id', sa.String(length=40), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('business_unit_id', sa.String(length=40), nullable=False),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['business_unit_id'], ['security_business_units.id'], name=op.f('fk_security_teams_business_unit_id_security_business_units')),
        sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_security_teams_environment_id_environments'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_security_teams_org_id_organizations')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_security_teams')),
        sa.UniqueConstraint('environment_id', 'name', name=op.f('uq_security_teams_environment_id')),
    )
    with op.batch_alter_table('security_teams', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_security_teams_business_unit_id'), ['business_unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_security_teams_org_id'), ['org_id'], unique=False)

    op.create_table(
        'security_team_members',
        sa.Column('team_id', sa.String(length=40), nullable=False),
        sa.Column('user_id', sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(['team_id'], ['security_teams.id'], name=op.f('fk_security_team_members_team_id_security_teams'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_security_team_members_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('team_id', 'user_id', name=op.f('pk_security_team_members')),
    )
    with op.batch_alter_table('security_team_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_security_team_members_user_id'), ['user_id'], unique=False)

    op.create_table(
        'security_roles',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('org_id', sa.String(length=40), nullable=False),
        sa.Column('environment_id', sa.String(length=40), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('builtin', sa.Boolean(), nullable=False),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_security_roles_environment_id_environments'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_security_roles_org_id_organizations')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_security_roles')),
        sa.UniqueConstraint('environment_id', 'name', name=op.f('uq_security_roles_environment_id')),
    )
    with op.batch_alter_table('security_roles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_security_roles_org_id'), ['org_id'], unique=False)

    op.create_table(
        'security_role_privileges',
        sa.Column('role_id', sa.String(length=40), nullable=False),
        sa.Column('table_name', sa.String(length=40), nullable=False),
        sa.Column('privilege', sa.String(length=20), nullable=False),
        sa.Column('depth', sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(['role_id'], ['security_roles.id'], name=op.f('fk_security_role_privileges_role_id_security_roles'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('role_id', 'table_name', 'privilege', name=op.f('pk_security_role_privileges')),
    )

    op.create_table(
        'security_role_assignments',
        sa.Column('role_id', sa.String(length=40), nullable=False),
        sa.Column('principal_kind', sa.String(length=8), nullable=False),
        sa.Column('principal_id', sa.String(length=40), nullable=False),
        sa.Column('environment_id', sa.String(length=40), nullable=False),
        sa.Column('assigned_by', sa.String(length=40), nullable=True),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_security_role_assignments_environment_id_environments'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['role_id'], ['security_roles.id'], name=op.f('fk_security_role_assignments_role_id_security_roles'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('role_id', 'principal_kind', 'principal_id', name=op.f('pk_security_role_assignments')),
    )
    with op.batch_alter_table('security_role_assignments', schema=None) as batch_op:
        batch_op.create_index('ix_security_role_assignments_holder', ['environment_id', 'principal_kind', 'principal_id'], unique=False)

    op.create_table(
        'security_user_units',
        sa.Column('environment_id', sa.String(length=40), nullable=False),
        sa.Column('user_id', sa.String(length=40), nullable=False),
        sa.Column('business_unit_id', sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(['business_unit_id'], ['security_business_units.id'], name=op.f('fk_security_user_units_business_unit_id_security_business_units')),
        sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_security_user_units_environment_id_environments'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_security_user_units_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('environment_id', 'user_id', name=op.f('pk_security_user_units')),
    )
    with op.batch_alter_table('security_user_units', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_security_user_units_business_unit_id'), ['business_unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_security_user_units_user_id'), ['user_id'], unique=False)

    op.create_table(
        'security_records',
        sa.Column('environment_id', sa.String(length=40), nullable=False),
        sa.Column('table_name', sa.String(length=40), nullable=False),
        sa.Column('record_id', sa.String(length=200), nullable=False),
        sa.Column('owner_kind', sa.String(length=8), nullable=False),
        sa.Column('owner_id', sa.String(length=40), nullable=False),
        sa.Column('updated_at', UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_security_records_environment_id_environments'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('environment_id', 'table_name', 'record_id', name=op.f('pk_security_records')),
    )
    with op.batch_alter_table('security_records', schema=None) as batch_op:
        batch_op.create_index('ix_security_records_owner', ['environment_id', 'owner_kind', 'owner_id'], unique=False)

    op.create_table(
        'security_record_shares',
        sa.Column('environment_id', sa.String(length=40), nullable=False),
        sa.Column('table_name', sa.String(length=40), nullable=False),
        sa.Column('record_id', sa.String(length=200), nullable=False),
        sa.Column('principal_kind', sa.String(length=8), nullable=False),
        sa.Column('principal_id', sa.String(length=40), nullable=False),
        sa.Column('privilege', sa.String(length=20), nullable=False),
        sa.Column('granted_by', sa.String(length=40), nullable=True),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['environment_id', 'table_name', 'record_id'],
            ['security_records.environment_id', 'security_records.table_name', 'security_records.record_id'],
            name=op.f('fk_security_record_shares_environment_id_security_records'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('environment_id', 'table_name', 'record_id', 'principal_kind', 'principal_id', 'privilege', name=op.f('pk_security_record_shares')),
    )
    with op.batch_alter_table('security_record_shares', schema=None) as batch_op:
        batch_op.create_index('ix_security_record_shares_principal', ['environment_id', 'principal_kind', 'principal_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('security_record_shares', schema=None) as batch_op:
        batch_op.drop_index('ix_security_record_shares_principal')
    op.drop_table('security_record_shares')
    with op.batch_alter_table('security_records', schema=None) as batch_op:
        batch_op.drop_index('ix_security_records_owner')
    op.drop_table('security_records')
    with op.batch_alter_table('security_user_units', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_security_user_units_user_id'))
        batch_op.drop_index(batch_op.f('ix_security_user_units_business_unit_id'))
    op.drop_table('security_user_units')
    with op.batch_alter_table('security_role_assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_security_role_assignments_holder')
    op.drop_table('security_role_assignments')
    op.drop_table('security_role_privileges')
    with op.batch_alter_table('security_roles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_security_roles_org_id'))
    op.drop_table('security_roles')
    with op.batch_alter_table('security_team_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_security_team_members_user_id'))
    op.drop_table('security_team_members')
    with op.batch_alter_table('security_teams', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_security_teams_org_id'))
        batch_op.drop_index(batch_op.f('ix_security_teams_business_unit_id'))
    op.drop_table('security_teams')
    with op.batch_alter_table('security_business_units', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_security_business_units_parent_id'))
        batch_op.drop_index(batch_op.f('ix_security_business_units_org_id'))
    op.drop_table('security_business_units')
