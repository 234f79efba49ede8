"""sites: opt in to reading the target workloads' own imagePullSecrets during a plan's registry preflight

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 15:00:00

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("use_pull_secrets", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("use_pull_secrets")
