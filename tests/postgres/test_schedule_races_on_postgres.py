"""The races around approvals given ahead of a scheduled sync, on PostgreSQL (row locks, not a file lock)."""

from tests.core.test_schedule_races import *  # noqa: F403
