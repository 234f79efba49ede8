"""The history and metrics tests, run unchanged against PostgreSQL (the fixtures in conftest.py swap the database)."""

from tests.core.test_history import *  # noqa: F403
from tests.core.test_history_metrics import *  # noqa: F403

del test_page_queries_read_the_started_at_indexes  # noqa: F821 - SQLite's EXPLAIN; the bench prints PostgreSQL's
