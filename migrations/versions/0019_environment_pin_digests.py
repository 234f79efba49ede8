"""environment pin-digests setting: whether a plan into an environment promotes repo:tag@sha256:… by default

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 17:40:00

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable and left NULL on existing rows, rather than filled with each row's `protected`: NULL means "nobody
    # chose", and a plan then pins when the environment is protected, as before. Copying `protected` in would freeze
    # today's value, so an environment made protected later would silently stop pinning its promotions.
    with op.batch_alter_table("environments") as batch:
        batch.add_column(sa.Column("pin_digests", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("environments") as batch:
        batch.drop_column("pin_digests")
