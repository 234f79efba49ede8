"""operation ownership and idempotency

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 05:32:14.083638
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_operations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("owner", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_sync_operations_request_id"), ["request_id"])

    with op.batch_alter_table("sync_results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("applied", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("sync_results", schema=None) as batch_op:
        batch_op.drop_column("applied")

    with op.batch_alter_table("sync_operations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_sync_operations_request_id"), type_="unique")
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("owner")
        batch_op.drop_column("request_id")
