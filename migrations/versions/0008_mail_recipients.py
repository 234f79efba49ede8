"""mail recipients: an outbox message goes to a subscription or to a person's e-mail

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 10:00:00

A person whose preferences ask for an event by e-mail gets one outbox message addressed to their e-mail
(`recipient`), sent through RANCHERSYNC_MAIL_URL; `subscription_id` becomes optional, and exactly one of the two is
set on every message.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ONE_TARGET = "(subscription_id IS NULL) <> (recipient IS NULL)"


def upgrade() -> None:
    with op.batch_alter_table("notification_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recipient", sa.String(length=320), nullable=True))
        batch_op.alter_column("subscription_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_check_constraint(op.f("ck_notification_outbox_one_target"), ONE_TARGET)


def downgrade() -> None:
    op.execute("DELETE FROM notification_outbox WHERE subscription_id IS NULL")  # e-mails have no subscription
    with op.batch_alter_table("notification_outbox", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_notification_outbox_one_target"), type_="check")
        batch_op.alter_column("subscription_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("recipient")
