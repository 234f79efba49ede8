"""gate overrides per service: a gate may be for one service of its environment (overriding the environment's gate
of the same name for it), and an environment's gate may be disabled for one service

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 14:30:00

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("gates") as batch:
        batch.add_column(sa.Column("service", sa.String(length=253), server_default="", nullable=False))
        batch.drop_constraint("uq_gates_environment_name", type_="unique")
        batch.create_unique_constraint("uq_gates_environment_service_name", ["environment_id", "service", "name"])
    op.create_table(
        "gate_exemptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("environment_id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=253), nullable=False),
        sa.Column("gate", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.ForeignKeyConstraint(["environment_id"], ["environments.id"],
                                name=op.f("fk_gate_exemptions_environment_id_environments"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gate_exemptions")),
        sa.UniqueConstraint("environment_id", "service", "gate", name="uq_gate_exemptions_environment_service_gate"),
    )
    op.create_index(op.f("ix_gate_exemptions_environment_id"), "gate_exemptions", ["environment_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_gate_exemptions_environment_id"), table_name="gate_exemptions")
    op.drop_table("gate_exemptions")
    op.execute("DELETE FROM gates WHERE service <> ''")
    with op.batch_alter_table("gates") as batch:
        batch.drop_constraint("uq_gates_environment_service_name", type_="unique")
        batch.create_unique_constraint("uq_gates_environment_name", ["environment_id", "name"])
        batch.drop_column("service")
