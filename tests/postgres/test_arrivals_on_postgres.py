"""First arrivals on PostgreSQL: ON CONFLICT DO NOTHING, the refill after a withdrawal, and migration 0006's
backfill in PostgreSQL's SQL (the fixtures in conftest.py swap the database)."""

from tests.core.test_arrivals import *  # noqa: F403
