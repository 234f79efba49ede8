"""The sync tests (apply, record, race for one target, roll back) against PostgreSQL."""

from tests.core.test_sync import *  # noqa: F403
