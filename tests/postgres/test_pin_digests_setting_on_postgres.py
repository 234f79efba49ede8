"""The pin-digests setting on PostgreSQL: migration 0019 up and down over existing environments (the fixtures in
conftest.py swap the database)."""

from tests.core.test_pin_digests_setting import *  # noqa: F403
