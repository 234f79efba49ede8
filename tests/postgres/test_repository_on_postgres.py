"""The core's database tests, run unchanged against PostgreSQL (the fixtures above swap the database)."""

from tests.core.test_database import *  # noqa: F403
from tests.core.test_environments import *  # noqa: F403

del test_sqlite_runs_with_wal_foreign_keys_and_a_busy_timeout  # noqa: F821 - SQLite only
