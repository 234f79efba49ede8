"""operations: a terminate request any replica's worker sees, and why an operation was rolled back

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 07:00:00

`rollback_reason` of the operations rolled back before this migration: their automatic rollback after a failure
("failed": the operation was rolled back and no rollback operation undid it) and the rollback operations started by
a person ("decided" when the operation had completed, "failed" otherwise, as the change failure rate counted them).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_operations") as batch:
        batch.add_column(sa.Column("terminate_requested", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("terminate_keep", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("terminated_by", sa.String(length=320), nullable=True))
        batch.add_column(sa.Column("rollback_reason", sa.String(length=20), nullable=True))
    # Before this, a rolled-back operation always counted as a failure: keep that for the past, except a complete
    # sync a person rolled back later, which the new rule counts as their decision.
    op.execute(sa.text(
        "UPDATE sync_operations SET rollback_reason = CASE WHEN EXISTS (SELECT 1 FROM sync_operations AS r "
        "WHERE r.rollback_of_id = sync_operations.id AND r.kind = 'rollback') "
        "AND NOT EXISTS (SELECT 1 FROM sync_results AS s WHERE s.operation_id = sync_operations.id "
        "AND s.status = 'failed') THEN 'decided' ELSE 'failed' END WHERE status = 'rolled_back'"
    ))


def downgrade() -> None:
    with op.batch_alter_table("sync_operations") as batch:
        batch.drop_column("rollback_reason")
        batch.drop_column("terminated_by")
        batch.drop_column("terminate_keep")
        batch.drop_column("terminate_requested")
