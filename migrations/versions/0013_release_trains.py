"""release trains: environment snapshots, locks with a message, scheduled promotions

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-20 10:00:00

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "environment_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("environment_id", sa.Integer(), nullable=True),
        sa.Column("environment_name", sa.String(length=100), nullable=False),
        sa.Column("operation_id", sa.Integer(), nullable=True),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('manual', 'automatic')", name=op.f("ck_environment_snapshots_kind_known")),
        sa.ForeignKeyConstraint(["environment_id"], ["environments.id"],
                                name=op.f("fk_environment_snapshots_environment_id_environments"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["operation_id"], ["sync_operations.id"],
                                name=op.f("fk_environment_snapshots_operation_id_sync_operations"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_environment_snapshots")),
        sa.UniqueConstraint("name", name="uq_environment_snapshots_name"),
    )
    with op.batch_alter_table("environment_snapshots", schema=None) as batch_op:
        batch_op.create_index("ix_environment_snapshots_environment_created", ["environment_id", "created_at"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_environment_snapshots_operation_id"), ["operation_id"], unique=False)

    op.create_table(
        "environment_locks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("environment_id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=253), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed_by", sa.String(length=320), nullable=True),
        sa.ForeignKeyConstraint(["environment_id"], ["environments.id"],
                                name=op.f("fk_environment_locks_environment_id_environments"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_environment_locks")),
    )
    with op.batch_alter_table("environment_locks", schema=None) as batch_op:
        batch_op.create_index("ix_environment_locks_in_force", ["environment_id"], unique=False,
                              sqlite_where=sa.text("removed_at IS NULL"),
                              postgresql_where=sa.text("removed_at IS NULL"))

    op.create_table(
        "scheduled_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("source_environment_id", sa.Integer(), nullable=True),
        sa.Column("target_environment_id", sa.Integer(), nullable=True),
        sa.Column("source_environment_name", sa.String(length=100), nullable=False),
        sa.Column("target_environment_name", sa.String(length=100), nullable=False),
        sa.Column("snapshot_id", sa.Integer(), nullable=True),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("fire_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("operation_id", sa.Integer(), nullable=True),
        sa.Column("approval_request_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("kind IN ('sync', 'snapshot')", name=op.f("ck_scheduled_requests_kind_known")),
        sa.CheckConstraint("status IN ('scheduled', 'running', 'executed', 'requested', 'refused', 'failed', "
                           "'cancelled')", name=op.f("ck_scheduled_requests_status_known")),
        sa.ForeignKeyConstraint(["source_environment_id"], ["environments.id"],
                                name=op.f("fk_scheduled_requests_source_environment_id_environments"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["target_environment_id"], ["environments.id"],
                                name=op.f("fk_scheduled_requests_target_environment_id_environments"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["snapshot_id"], ["environment_snapshots.id"],
                                name=op.f("fk_scheduled_requests_snapshot_id_environment_snapshots"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["operation_id"], ["sync_operations.id"],
                                name=op.f("fk_scheduled_requests_operation_id_sync_operations"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["approval_request_id"], ["approval_requests.id"],
                                name=op.f("fk_scheduled_requests_approval_request_id_approval_requests"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_requests")),
    )
    with op.batch_alter_table("scheduled_requests", schema=None) as batch_op:
        batch_op.create_index("ix_scheduled_requests_status_fire_at", ["status", "fire_at"], unique=False)


def downgrade() -> None:
    op.drop_table("scheduled_requests")
    op.drop_table("environment_locks")
    op.drop_table("environment_snapshots")
