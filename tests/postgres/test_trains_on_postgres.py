"""The release-train tests (snapshots, a train all or nothing, a restore, locks, schedulers racing) on PostgreSQL."""

from tests.core.test_trains import *  # noqa: F403
