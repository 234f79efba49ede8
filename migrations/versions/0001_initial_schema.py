"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 05:06:54.824662
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "environments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("color", sa.String(length=7), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("position >= 0", name=op.f("ck_environments_position_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_environments")),
        sa.UniqueConstraint("name", name=op.f("uq_environments_name")),
    )
    with op.batch_alter_table("environments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_environments_position"), ["position"], unique=False)

    op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("token_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("ca_bundle", sa.Text(), nullable=True),
        sa.Column("insecure", sa.Boolean(), nullable=False),
        sa.Column("allow_http", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("rancher_user", sa.String(length=200), nullable=True),
        sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_contact_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_latency_ms", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
        sa.UniqueConstraint("name", name=op.f("uq_sites_name")),
    )
    op.create_table(
        "app_instances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("cluster_id", sa.String(length=100), nullable=False),
        sa.Column("cluster_name", sa.String(length=200), nullable=False),
        sa.Column("namespace", sa.String(length=63), nullable=False),
        sa.Column("environment_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_app_instances_environment_id_environments"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_app_instances_site_id_sites"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_instances")),
        sa.UniqueConstraint("environment_id", "name", name="uq_app_instances_environment_name"),
        sa.UniqueConstraint("site_id", "cluster_id", "namespace", name="uq_app_instances_location"),
    )
    with op.batch_alter_table("app_instances", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_app_instances_environment_id"), ["environment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_app_instances_site_id"), ["site_id"], unique=False)

    op.create_table(
        "sync_operations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("source_environment_id", sa.Integer(), nullable=True),
        sa.Column("target_environment_id", sa.Integer(), nullable=True),
        sa.Column("source_environment_name", sa.String(length=100), nullable=False),
        sa.Column("target_environment_name", sa.String(length=100), nullable=False),
        sa.Column("rollback_of_id", sa.Integer(), nullable=True),
        sa.Column("initiated_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('sync', 'rollback')", name=op.f("ck_sync_operations_kind_known")),
        sa.CheckConstraint("mode IN ('full', 'tag')", name=op.f("ck_sync_operations_mode_known")),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'complete', 'partial', 'failed', 'rolled_back', 'interrupted')",
            name=op.f("ck_sync_operations_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["rollback_of_id"],
            ["sync_operations.id"],
            name=op.f("fk_sync_operations_rollback_of_id_sync_operations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_environment_id"],
            ["environments.id"],
            name=op.f("fk_sync_operations_source_environment_id_environments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["target_environment_id"],
            ["environments.id"],
            name=op.f("fk_sync_operations_target_environment_id_environments"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_operations")),
    )
    with op.batch_alter_table("sync_operations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sync_operations_source_environment_id"), ["source_environment_id"], unique=False
        )
        batch_op.create_index("ix_sync_operations_started_at", ["started_at"], unique=False)
        batch_op.create_index("ix_sync_operations_status_started_at", ["status", "started_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_sync_operations_target_environment_id"), ["target_environment_id"], unique=False
        )
        batch_op.create_index(
            "uq_sync_operations_one_active_per_target",
            ["target_environment_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('pending', 'running')"),
            postgresql_where=sa.text("status IN ('pending', 'running')"),
        )

    op.create_table(
        "sync_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operation_id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=253), nullable=False),
        sa.Column("workload_kind", sa.String(length=20), nullable=False),
        sa.Column("source_app_instance_id", sa.Integer(), nullable=True),
        sa.Column("target_app_instance_id", sa.Integer(), nullable=True),
        sa.Column("site_name", sa.String(length=100), nullable=False),
        sa.Column("cluster_id", sa.String(length=100), nullable=False),
        sa.Column("namespace", sa.String(length=63), nullable=False),
        sa.Column("containers", sa.JSON(), nullable=False),
        sa.Column("previous_image", sa.String(length=1000), nullable=True),
        sa.Column("new_image", sa.String(length=1000), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'success', 'failed', 'skipped', 'rolled_back')",
            name=op.f("ck_sync_results_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["sync_operations.id"],
            name=op.f("fk_sync_results_operation_id_sync_operations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_app_instance_id"],
            ["app_instances.id"],
            name=op.f("fk_sync_results_source_app_instance_id_app_instances"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["target_app_instance_id"],
            ["app_instances.id"],
            name=op.f("fk_sync_results_target_app_instance_id_app_instances"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_results")),
    )
    with op.batch_alter_table("sync_results", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sync_results_operation_id"), ["operation_id"], unique=False)
        batch_op.create_index("ix_sync_results_service_finished_at", ["service", "finished_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_sync_results_target_app_instance_id"), ["target_app_instance_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_results_target_app_instance_id"))
        batch_op.drop_index("ix_sync_results_service_finished_at")
        batch_op.drop_index(batch_op.f("ix_sync_results_operation_id"))

    op.drop_table("sync_results")
    with op.batch_alter_table("sync_operations", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_sync_operations_one_active_per_target",
            sqlite_where=sa.text("status IN ('pending', 'running')"),
            postgresql_where=sa.text("status IN ('pending', 'running')"),
        )
        batch_op.drop_index(batch_op.f("ix_sync_operations_target_environment_id"))
        batch_op.drop_index("ix_sync_operations_status_started_at")
        batch_op.drop_index("ix_sync_operations_started_at")
        batch_op.drop_index(batch_op.f("ix_sync_operations_source_environment_id"))

    op.drop_table("sync_operations")
    with op.batch_alter_table("app_instances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_instances_site_id"))
        batch_op.drop_index(batch_op.f("ix_app_instances_environment_id"))

    op.drop_table("app_instances")
    op.drop_table("sites")
    with op.batch_alter_table("environments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_environments_position"))

    op.drop_table("environments")
