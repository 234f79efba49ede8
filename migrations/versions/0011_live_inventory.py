"""live inventory: the workloads the collector keeps from watches, its watches, and its lease

Revision ID: 0011
Revises: 0010
Create Date: 2027-01-10 10:00:00

On top of 0010 (registries and quarantine, merged with it); the tables do not depend on 0010's.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "live_workloads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("cluster_id", sa.String(length=253), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("namespace", sa.String(length=253), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("resource_version", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("running", sa.JSON(), nullable=True),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_live_workloads_site_id_sites"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_workloads")),
        sa.UniqueConstraint("site_id", "cluster_id", "kind", "namespace", "name", name="uq_live_workloads_key"),
    )
    op.create_index(op.f("ix_live_workloads_site_id"), "live_workloads", ["site_id"], unique=False)
    op.create_table(
        "live_watches",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("cluster_id", sa.String(length=253), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("healthy", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("resource_version", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reconnects", sa.Integer(), nullable=False),
        sa.Column("relists", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_live_watches_site_id_sites"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("site_id", "cluster_id", "kind", name=op.f("pk_live_watches")),
    )
    op.create_table(
        "collector_lease",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_collector_lease")),
    )


def downgrade() -> None:
    op.drop_table("collector_lease")
    op.drop_table("live_watches")
    op.drop_index(op.f("ix_live_workloads_site_id"), table_name="live_workloads")
    op.drop_table("live_workloads")
