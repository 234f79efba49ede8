"""The API's parts without a server: the token buckets' refill, the limits' configuration, and the check of a body
against its type (what 422 lists)."""

from __future__ import annotations

import pytest

from ranchersync.api.app import SyncRequest
from ranchersync.api.limits import Limit, TokenBuckets
from ranchersync.api.typed import body_errors, json_schema
from ranchersync.kernel.errors import ValidationError


def test_a_bucket_refills_at_its_rate_and_each_token_has_its_own() -> None:
    now = [0.0]
    buckets = TokenBuckets(Limit(per_minute=60, burst=2), clock=lambda: now[0])
    assert [buckets.take("token:a") for _ in range(3)] == [0, 0, 1]  # a burst of 2, then wait a second
    assert buckets.take("token:b") == 0
    now[0] += 1.0
    assert buckets.take("token:a") == 0 and buckets.take("token:a") == 1
    now[0] += 60
    assert [buckets.take("token:a") for _ in range(3)] == [0, 0, 1]  # never more than the burst saved up


def test_limits_come_from_the_environment() -> None:
    assert Limit.from_env({}) == Limit(600.0, 60)
    assert Limit.from_env({"RANCHERSYNC_API_RATE": "30", "RANCHERSYNC_API_BURST": "5"}) == Limit(30.0, 5)
    for bad in ({"RANCHERSYNC_API_RATE": "many"}, {"RANCHERSYNC_API_RATE": "0"}, {"RANCHERSYNC_API_BURST": "0"}):
        with pytest.raises(ValidationError):
            Limit.from_env(bad)


def test_a_body_is_checked_against_the_same_type_the_document_shows() -> None:
    assert body_errors({"from": "Stage", "to": "Prod", "allDifferent": True}, SyncRequest) == []
    assert body_errors({"from": "Stage", "to": 3, "services": ["a", 1], "wait": "yes", "x": 1}, SyncRequest) == [
        "body.x is not a known field (known: from, to, services, allDifferent, dryRun, confirmEnvironment, wait, "
        "targetInstance, tagOnly, timeoutSeconds, pinDigests, noRollback, overridePolicy, at, tz)",
        "body.to must be a string", "body.services[1] must be a string", "body.wait must be true or false"]
    assert body_errors([], SyncRequest) == ["body must be a JSON object"]
    assert body_errors({"from": "a", "to": "b", "timeoutSeconds": True}, SyncRequest) == \
        ["body.timeoutSeconds must be an integer"]  # JSON's true is no number
    components: dict = {}
    assert json_schema(SyncRequest, components) == {"$ref": "#/components/schemas/SyncRequest"}
    schema = components["SyncRequest"]
    assert schema["required"] == ["from", "to"] and schema["additionalProperties"] is False
    assert schema["properties"]["services"] == {"type": "array", "items": {"type": "string"}}
