"""registries (credentials encrypted like tokens) and quarantined image digests

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-14 10:00:00

Numbered 0010 on the `registries` branch; another branch may add a 0010 too: whichever merges second renumbers its
own (revision and down_revision) on top of the other.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=True),
        sa.Column("password_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("ca_bundle", sa.Text(), nullable=True),
        sa.Column("allow_http", sa.Boolean(), nullable=False),
        sa.Column("last_contact_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registries")),
        sa.UniqueConstraint("host", name=op.f("uq_registries_host")),
    )
    op.create_table(
        "quarantined_images",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("digest", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("added_by", sa.String(length=320), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_by", sa.String(length=320), nullable=True),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        sa.Column("running_count", sa.Integer(), nullable=True),
        sa.Column("running_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantined_images")),
    )
    with op.batch_alter_table("quarantined_images", schema=None) as batch_op:
        batch_op.create_index("ix_quarantined_images_digest", ["digest"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("quarantined_images", schema=None) as batch_op:
        batch_op.drop_index("ix_quarantined_images_digest")
    op.drop_table("quarantined_images")
    op.drop_table("registries")
