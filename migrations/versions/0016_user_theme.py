"""user preferences: the theme each person chose ("" the browser's, "light" or "dark"), applied on every page

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 13:00:00

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_preferences") as batch:
        batch.add_column(sa.Column("theme", sa.String(length=10), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("user_preferences") as batch:
        batch.drop_column("theme")
