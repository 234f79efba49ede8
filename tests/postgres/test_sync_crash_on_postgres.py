"""A sync process SIGKILLed at each step boundary, then rolled back or resumed, against PostgreSQL."""

from tests.core.test_sync_crash import *  # noqa: F403
from tests.core.test_sync_crash import rancher_us  # noqa: F401 (its slower rollouts: the kill lands mid-rollout)
