"""The trail under load on PostgreSQL: shared commits, and arrivals recorded together (multi-row ON CONFLICT)."""

from tests.core.test_sync_records import *  # noqa: F403
