"""history speed: first arrivals of versions, verified digests, outside-change sightings

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 15:40:00

`version_arrivals` holds the first arrival of each version (a service's image) per environment, and
`version_journeys` the pairs of arrivals of one version (the later at the same time or after), which the lead time
reads instead of grouping every sync result; both are filled here from the existing history with the lead time's
own definition (a sync's result that ended `success`, or `rolled_back` by a later rollback operation; the earliest
by finish time). `sync_results.verified_digests` keeps the digests a verified rollout ran;
`outside_change_sightings` when a change made outside the tool was first seen.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Plain SQL that SQLite (>= 3.25: window functions) and PostgreSQL both run; the same as
# ranchersync.history.arrivals.BACKFILL, copied so that this migration stays what it was when later code moves.
BACKFILL = """
INSERT INTO version_arrivals (environment_id, service, image, operation_id, result_id, arrived_at)
SELECT environment_id, service, image, operation_id, result_id, arrived_at FROM (
    SELECT o.target_environment_id AS environment_id, r.service AS service, r.new_image AS image,
           o.id AS operation_id, r.id AS result_id, r.finished_at AS arrived_at,
           ROW_NUMBER() OVER (PARTITION BY o.target_environment_id, r.service, r.new_image
                              ORDER BY r.finished_at, r.id) AS nth
    FROM sync_results r JOIN sync_operations o ON o.id = r.operation_id
    WHERE o.kind = 'sync' AND o.target_environment_id IS NOT NULL AND r.new_image IS NOT NULL
      AND r.finished_at IS NOT NULL
      AND (r.status = 'success'
           OR (r.status = 'rolled_back'
               AND o.id IN (SELECT rollback_of_id FROM sync_operations WHERE rollback_of_id IS NOT NULL)))
) ranked
WHERE nth = 1
"""
JOURNEYS = """
INSERT INTO version_journeys (from_arrival_id, to_arrival_id, from_environment_id, to_environment_id, service, image,
                              from_at, to_at, seconds)
SELECT a.id, b.id, a.environment_id, b.environment_id, b.service, b.image, a.arrived_at, b.arrived_at, {seconds}
FROM version_arrivals a JOIN version_arrivals b
  ON b.service = a.service AND b.image = a.image AND b.environment_id <> a.environment_id
     AND b.arrived_at >= a.arrived_at
"""
SECONDS = {  # as ranchersync.history.sql.seconds_between spells it
    "sqlite": "round((julianday(b.arrived_at) - julianday(a.arrived_at)) * 86400.0, 3)",
    "postgresql": "CAST(EXTRACT(EPOCH FROM b.arrived_at - a.arrived_at) AS DOUBLE PRECISION)",
}


def upgrade() -> None:
    op.create_table(
        "version_arrivals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("environment_id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=253), nullable=False),
        sa.Column("image", sa.String(length=1000), nullable=False),
        sa.Column("operation_id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["environment_id"], ["environments.id"],
                                name=op.f("fk_version_arrivals_environment_id_environments"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["operation_id"], ["sync_operations.id"],
                                name=op.f("fk_version_arrivals_operation_id_sync_operations"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["result_id"], ["sync_results.id"],
                                name=op.f("fk_version_arrivals_result_id_sync_results"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_version_arrivals")),
        sa.UniqueConstraint("service", "image", "environment_id", name="uq_version_arrivals_version_environment"),
    )
    with op.batch_alter_table("version_arrivals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_version_arrivals_operation_id"), ["operation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_version_arrivals_result_id"), ["result_id"], unique=False)
    op.create_table(
        "version_journeys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("from_arrival_id", sa.Integer(), nullable=False),
        sa.Column("to_arrival_id", sa.Integer(), nullable=False),
        sa.Column("from_environment_id", sa.Integer(), nullable=False),
        sa.Column("to_environment_id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=253), nullable=False),
        sa.Column("image", sa.String(length=1000), nullable=False),
        sa.Column("from_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("to_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["from_arrival_id"], ["version_arrivals.id"],
                                name=op.f("fk_version_journeys_from_arrival_id_version_arrivals"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["to_arrival_id"], ["version_arrivals.id"],
                                name=op.f("fk_version_journeys_to_arrival_id_version_arrivals"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_version_journeys")),
        sa.UniqueConstraint("to_arrival_id", "from_arrival_id", name="uq_version_journeys_arrivals"),
    )
    with op.batch_alter_table("version_journeys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_version_journeys_from_arrival_id"), ["from_arrival_id"], unique=False)
        batch_op.create_index("ix_version_journeys_pair_to_at", ["to_environment_id", "from_environment_id", "to_at"],
                              unique=False)
        batch_op.create_index("ix_version_journeys_pair_seconds",
                              ["to_environment_id", "from_environment_id", "seconds"], unique=False)
    op.execute(BACKFILL)
    seconds = SECONDS[op.get_bind().dialect.name]
    op.execute(JOURNEYS.format(seconds=seconds))

    with op.batch_alter_table("sync_results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verified_digests", sa.JSON(), nullable=True))
    op.create_index("ix_sync_results_failed_applied", "sync_results", ["operation_id"], unique=False,
                    sqlite_where=sa.text("status = 'failed' AND applied = 1"),
                    postgresql_where=sa.text("status = 'failed' AND applied"))
    op.create_index("ix_sync_results_changed_workload", "sync_results",
                    ["service", "workload_kind", "namespace", "cluster_id", "site_name", "finished_at", "id"],
                    unique=False, sqlite_where=sa.text("status IN ('success', 'rolled_back')"),
                    postgresql_where=sa.text("status IN ('success', 'rolled_back')"))

    op.create_table(
        "outside_change_sightings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("app_instance_id", sa.Integer(), nullable=False),
        sa.Column("workload_kind", sa.String(length=20), nullable=False),
        sa.Column("workload_name", sa.String(length=253), nullable=False),
        sa.Column("images", sa.Text(), nullable=False),
        sa.Column("images_key", sa.String(length=64), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["app_instance_id"], ["app_instances.id"],
                                name=op.f("fk_outside_change_sightings_app_instance_id_app_instances"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outside_change_sightings")),
        sa.UniqueConstraint("app_instance_id", "workload_kind", "workload_name", "images_key",
                            name="uq_outside_change_sightings_workload_images"),
    )


def downgrade() -> None:
    op.drop_table("outside_change_sightings")
    op.drop_index("ix_sync_results_changed_workload", table_name="sync_results")
    op.drop_index("ix_sync_results_failed_applied", table_name="sync_results")
    with op.batch_alter_table("sync_results", schema=None) as batch_op:
        batch_op.drop_column("verified_digests")
    op.drop_table("version_journeys")
    op.drop_table("version_arrivals")
