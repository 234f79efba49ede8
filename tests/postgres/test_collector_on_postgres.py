"""The live inventory (collector, lease, readers) against PostgreSQL."""

from tests.core.test_collector import *  # noqa: F403

pytest_plugins = ["tests.core.simulator_fixtures"]
