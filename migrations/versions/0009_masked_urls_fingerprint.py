"""masked notification URLs: the scheme and a fingerprint, nothing of the URL

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10 10:00:00

Before, a subscription's masked URL kept `scheme://host`, and for Pushbullet, Opsgenie, Pushover, PagerDuty or Slack
the host is the key. The URL itself is encrypted and this migration has no key, so an old masked form becomes the
scheme and a fingerprint of the old masked form (it still tells subscriptions apart; a subscription added again gets
the fingerprint of its URL).
"""

from __future__ import annotations

import hashlib
import re

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_NEW_FORM = re.compile(r"^[a-z0-9+.\-]+://#[0-9a-f]{8}$")


def upgrade() -> None:
    table = sa.table("notification_subscriptions", sa.column("id", sa.Integer), sa.column("url_masked", sa.String))
    bind = op.get_bind()
    for row_id, masked in bind.execute(sa.select(table.c.id, table.c.url_masked)).all():
        if _NEW_FORM.match(masked or ""):
            continue
        scheme = (masked or "").split("://", 1)[0].lower() or "?"
        digest = hashlib.sha256((masked or "").encode()).hexdigest()[:8]
        bind.execute(table.update().where(table.c.id == row_id).values(url_masked=f"{scheme}://#{digest}"))


def downgrade() -> None:
    pass  # the old form revealed keys; nothing to restore
