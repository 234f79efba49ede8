"""index rollbacks by the operation they undo

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 06:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_sync_operations_rollback_of_id",
        "sync_operations",
        ["rollback_of_id"],
        unique=False,
        sqlite_where=sa.text("rollback_of_id IS NOT NULL"),
        postgresql_where=sa.text("rollback_of_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_sync_operations_rollback_of_id", table_name="sync_operations")
