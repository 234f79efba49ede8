"""verification: metric gates per environment, soak settings, and the measurements of each synced service

Revision ID: 0012
Revises: 0011
Create Date: 2027-01-10 10:00:00

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("environment_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("prometheus_url", sa.String(length=500), nullable=True),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("success", sa.String(length=500), nullable=False),
        sa.Column("interval_seconds", sa.Float(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("failure_limit", sa.Integer(), nullable=False),
        sa.Column("inconclusive", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.CheckConstraint("source IN ('prometheus', 'rancher-monitoring')", name=op.f("ck_gates_source_known")),
        sa.CheckConstraint("inconclusive IN ('pass', 'fail')", name=op.f("ck_gates_inconclusive_known")),
        sa.CheckConstraint("count >= 1 AND failure_limit >= 0 AND interval_seconds > 0", name=op.f("ck_gates_bounds")),
        sa.ForeignKeyConstraint(["environment_id"], ["environments.id"],
                                name=op.f("fk_gates_environment_id_environments"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gates")),
        sa.UniqueConstraint("environment_id", "name", name="uq_gates_environment_name"),
    )
    op.create_index(op.f("ix_gates_environment_id"), "gates", ["environment_id"], unique=False)
    op.create_table(
        "soak_settings",
        sa.Column("environment_id", sa.Integer(), nullable=False),
        sa.Column("soak_seconds", sa.Integer(), nullable=False),
        sa.Column("min_source_soak_seconds", sa.Integer(), nullable=False),
        sa.CheckConstraint("soak_seconds >= 0 AND min_source_soak_seconds >= 0",
                           name=op.f("ck_soak_settings_not_negative")),
        sa.ForeignKeyConstraint(["environment_id"], ["environments.id"],
                                name=op.f("fk_soak_settings_environment_id_environments"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("environment_id", name=op.f("pk_soak_settings")),
    )
    op.create_table(
        "measurements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("gate", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("verdict", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.CheckConstraint("verdict IN ('pass', 'fail', 'inconclusive')", name=op.f("ck_measurements_verdict_known")),
        sa.ForeignKeyConstraint(["result_id"], ["sync_results.id"],
                                name=op.f("fk_measurements_result_id_sync_results"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measurements")),
    )
    op.create_index(op.f("ix_measurements_result_id"), "measurements", ["result_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_measurements_result_id"), table_name="measurements")
    op.drop_table("measurements")
    op.drop_table("soak_settings")
    op.drop_index(op.f("ix_gates_environment_id"), table_name="gates")
    op.drop_table("gates")
