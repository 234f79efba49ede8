"""Release trains through the HTTP API (issue 24): a lock refuses a sync with its message, a snapshot is promoted
as one operation, an environment is restored, syncs and promotions are scheduled — with the roles and environment
limits of tokens, problem details and audit on the api channel. A server of its own: these calls change what every
environment runs, which the session's `api` world must not meet."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ranchersync.api.trains import ScheduledAnswer
from ranchersync.api.typed import body_errors
from ranchersync.catalogue import environments
from ranchersync.governance.locks import LockPayload
from ranchersync.models import AuditEvent, SyncOperation
from ranchersync.snapshots.entries import DiffPayload
from ranchersync.snapshots.store import SnapshotPayload
from ranchersync.trains import schedules
from ranchersync.trains.schedules import SchedulePayload
from tests.api.conftest import ApiWorld, serve_world
from tests.api.test_api import assert_problem
from tests.builders import ADMIN

REG = "registry.example.com:5000/shop"
EAST, WEST = "c-m-7rb2kx9q", "c-7xk2p"
MESSAGE = "DB migration running — do not promote"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiWorld]:
    with serve_world(tmp_path_factory.mktemp("trains")) as made:
        yield made


def conforms(value: object, typed: object) -> bool:
    """The answer is exactly what the OpenAPI document says (no field missing, none extra, each of its type)."""
    assert body_errors(value, typed) == [], body_errors(value, typed)
    return True


def prod_frontends(world: ApiWorld) -> list[str]:
    found = []
    for cluster in (EAST, WEST):
        obj = world.us.get_object(cluster, "Deployment", "shop-prod", "frontend")
        assert obj is not None
        found.append(obj["spec"]["template"]["spec"]["containers"][0]["image"])
    return found


def audit(world: ApiWorld, action: str) -> list[AuditEvent]:
    with world.ctx.session() as session:
        events = list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))
        session.expunge_all()
        return events


def test_a_lock_refuses_a_sync_through_the_api_with_its_message(world: ApiWorld) -> None:
    sync = {"from": "Dev", "to": "Stage", "services": ["search"]}
    assert_problem(world.call("POST", "/locks", "viewer", json={"env": "Stage", "message": MESSAGE}), 403,
                   "permission_denied")
    assert_problem(world.call("POST", "/locks", "ci-stage", json={"env": "Prod", "message": MESSAGE}), 403,
                   "permission_denied")  # a token limited to Stage locks only Stage
    assert_problem(world.call("POST", "/locks", json={"env": "Stage", "message": " "}), 422, "validation")
    made = world.call("POST", "/locks", "ci-stage", json={"env": "Stage", "service": "search", "message": MESSAGE})
    assert made.status_code == 201, made.text
    lock = made.json()
    assert (lock["environment"], lock["service"], lock["message"], lock["createdBy"]) == (
        "Stage", "search", MESSAGE, "token:ci-stage")
    assert world.call("GET", "/locks", "viewer", params={"env": "Stage"}).json() == [lock]
    assert conforms(lock, LockPayload)

    refused = assert_problem(world.call("POST", "/syncs", json=sync), 423, "environment_locked")
    assert MESSAGE in refused["detail"] and "token:ci-stage" in refused["detail"]
    assert world.call("POST", "/syncs", json={**sync, "dryRun": True}).status_code == 200  # a plan is no change

    prod = world.call("POST", "/locks", json={"env": "Prod", "message": "release freeze"}).json()
    assert_problem(world.call("DELETE", f"/locks/{prod['id']}", "ci-stage"), 403, "permission_denied")
    key = {"Idempotency-Key": "unlock-prod-1"}  # a pipeline's retry after a lost answer: the first answer again
    first = world.call("DELETE", f"/locks/{prod['id']}", headers=key)
    again = world.call("DELETE", f"/locks/{prod['id']}", headers=key)
    assert first.status_code == again.status_code == 200 and again.json() == first.json(), again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    removed = world.call("DELETE", f"/locks/{lock['id']}", "ci-stage")
    assert removed.status_code == 200 and removed.json() == lock
    assert_problem(world.call("DELETE", f"/locks/{lock['id']}"), 404, "not_found")
    assert world.call("GET", "/locks").json() == []
    synced = world.call("POST", "/syncs", json=sync)
    assert synced.status_code == 200 and synced.json()["status"] == "complete", synced.text
    [added, _] = audit(world, "lock.add")
    assert (added.actor, added.channel, added.client_address) == ("token:ci-stage", "api", "127.0.0.1")
    assert {(e.actor, e.channel) for e in audit(world, "lock.remove")} == {("token:admin", "api"),
                                                                            ("token:ci-stage", "api")}


def test_a_snapshot_is_promoted_through_the_api_as_one_operation_then_restored(world: ApiWorld) -> None:
    assert_problem(world.call("POST", "/snapshots", "viewer", json={"env": "Stage", "name": "rel-1"}), 403,
                   "permission_denied")
    assert_problem(world.call("POST", "/snapshots", "ci-stage", json={"env": "Prod", "name": "rel-1"}), 403,
                   "permission_denied")
    made = world.call("POST", "/snapshots", "ci-stage", json={"env": "Stage", "name": "rel-1"})
    assert made.status_code == 201, made.text
    rel = made.json()
    assert rel["environment"] == "Stage" and rel["kind"] == "manual" and rel["serviceCount"] == len(rel["services"])
    assert conforms(rel, SnapshotPayload)
    assert_problem(world.call("POST", "/snapshots", json={"env": "Stage", "name": "rel-1"}), 422, "validation")
    assert world.call("POST", "/snapshots", json={"env": "Prod", "name": "prod-before"}).status_code == 201
    assert world.call("GET", "/snapshots/rel-1", "viewer").json() == rel
    listed = world.call("GET", "/snapshots", "viewer", params={"env": "Stage", "manual": "true"}).json()
    assert [s["name"] for s in listed] == ["rel-1"] and "services" not in listed[0]
    assert conforms(listed, list[SnapshotPayload])
    assert_problem(world.call("GET", "/snapshots/nope"), 404, "not_found")

    diff = world.call("GET", "/snapshots/rel-1/diff", params={"against": "prod-before", "onlyDifferences": "true"})
    assert diff.status_code == 200, diff.text
    assert conforms(diff.json(), DiffPayload)
    frontend = next(r for r in diff.json()["rows"] if r["service"] == "frontend")
    assert (frontend["left"], frontend["right"], frontend["state"]) == (
        [f"{REG}/frontend:3.8.1"], [f"{REG}/frontend:3.8.0"], "changed")
    assert_problem(world.call("GET", "/snapshots/rel-1/diff"), 422, "validation")

    plan = world.call("POST", "/snapshots/rel-1/promote", "viewer", json={"to": "Prod", "dryRun": True}).json()
    assert {"cart", "catalog", "checkout", "frontend", "redis"} <= set(plan["serviceIds"])
    assert_problem(world.call("POST", "/snapshots/rel-1/promote", "ci-stage", json={"to": "Prod"}), 403,
                   "permission_denied")
    with world.ctx.session() as session:
        before = set(session.scalars(select(SyncOperation.id)))
    promoted = world.call("POST", "/snapshots/rel-1/promote", json={"to": "Prod", "timeoutSeconds": 60})
    assert promoted.status_code == 200, promoted.text
    operation = promoted.json()
    assert operation["status"] == "complete" and operation["initiatedBy"] == "token:admin"
    assert {r["serviceId"] for r in operation["results"] if r["status"] == "success"} == set(plan["serviceIds"])
    with world.ctx.session() as session:
        assert set(session.scalars(select(SyncOperation.id))) - before == {operation["id"]}  # one operation
    assert prod_frontends(world) == [f"{REG}/frontend:3.8.1"] * 2
    now = world.call("GET", "/snapshots/rel-1/diff", params={"env": "Prod"}).json()
    assert now["right"] == "Prod now"
    frontend = next(r for r in now["rows"] if r["service"] == "frontend")
    assert frontend["left"] == frontend["right"] == [f"{REG}/frontend:3.8.1"]

    assert_problem(world.call("POST", "/restores", json={"env": "Stage", "snapshot": "prod-before"}), 422,
                   "validation")  # a restore puts an environment back to its own snapshot
    with world.ctx.session() as session:
        environments.update_environment(session, "Prod", protected=True, actor=ADMIN)
    try:
        assert_problem(world.call("POST", "/restores", json={"env": "Prod", "snapshot": "prod-before"}), 422,
                       "confirmation_required")
        restored = world.call("POST", "/restores", json={"env": "Prod", "snapshot": "prod-before",
                                                         "confirmEnvironment": "Prod", "wait": False})
        assert restored.status_code == 202, restored.text
        running = restored.json()
        deadline = dt.datetime.now() + dt.timedelta(seconds=60)
        while running["status"] in ("pending", "running") and dt.datetime.now() < deadline:
            running = world.call("GET", f"/operations/{running['id']}").json()
        assert running["status"] == "complete", running
        assert prod_frontends(world) == [f"{REG}/frontend:3.8.0"] * 2
        again = world.call("POST", "/restores", json={"env": "Prod", "snapshot": "prod-before"})
        assert again.status_code == 200 and again.json()["serviceIds"] == []  # nothing to change: the plan
    finally:
        with world.ctx.session() as session:
            environments.update_environment(session, "Prod", protected=False, actor=ADMIN)
    assert {e.channel for e in audit(world, "snapshot.create")} == {"api"}


def test_a_sync_and_a_promotion_are_scheduled_through_the_api(world: ApiWorld) -> None:
    at = {"at": "2099-01-01 10:00", "tz": "Europe/Berlin"}
    answer = world.call("POST", "/syncs", json={"from": "Dev", "to": "Stage", "services": ["frontend"], **at})
    assert answer.status_code == 202, answer.text
    assert conforms(answer.json(), ScheduledAnswer)
    scheduled = answer.json()["scheduledRequest"]
    assert (scheduled["kind"], scheduled["status"], scheduled["fireAt"], scheduled["requestedBy"]) == (
        "sync", "scheduled", "2099-01-01T09:00:00Z", "token:admin")
    assert scheduled["description"] == "Dev → Stage: frontend"
    for wrong, kind in (({"at": "2001-01-01 10:00"}, "validation"), ({**at, "tz": "Mars/Olympus"}, "validation"),
                        ({**at, "dryRun": True}, "validation"), ({"tz": "UTC"}, "validation"),
                        ({"at": "soon"}, "validation")):
        assert_problem(world.call("POST", "/syncs", json={"from": "Dev", "to": "Stage", "allDifferent": True,
                                                          **wrong}), 422, kind)
    assert_problem(world.call("POST", "/syncs", "viewer", json={"from": "Dev", "to": "Stage",
                                                                "allDifferent": True, **at}), 403,
                   "permission_denied")
    assert_problem(world.call("POST", "/syncs", "ci-stage", json={"from": "Stage", "to": "Prod",
                                                                  "allDifferent": True, **at}), 403,
                   "permission_denied")
    with world.ctx.session() as session:
        environments.update_environment(session, "Prod", protected=True, actor=ADMIN)
    try:
        world.call("POST", "/snapshots", json={"env": "Stage", "name": "rel-2"})
        assert_problem(world.call("POST", "/snapshots/rel-2/promote", json={"to": "Prod", **at}), 422,
                       "confirmation_required")
        train = world.call("POST", "/snapshots/rel-2/promote", json={"to": "Prod", "confirmEnvironment": "Prod",
                                                                     **at})
        assert train.status_code == 202, train.text
        promotion = train.json()["scheduledRequest"]
        assert promotion["kind"] == "snapshot" and promotion["target"] == "Prod"
    finally:
        with world.ctx.session() as session:
            environments.update_environment(session, "Prod", protected=False, actor=ADMIN)
    listed = world.call("GET", "/schedules", "viewer", params={"pending": "true"}).json()
    assert sorted(s["id"] for s in listed) == sorted([scheduled["id"], promotion["id"]])

    cancelled = world.call("POST", f"/schedules/{promotion['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert conforms(cancelled.json(), SchedulePayload)
    assert_problem(world.call("POST", f"/schedules/{promotion['id']}/cancel"), 422, "validation")
    assert_problem(world.call("POST", "/schedules/4242/cancel"), 404, "not_found")
    assert_problem(world.call("POST", f"/schedules/{scheduled['id']}/cancel", "releaser"), 403,
                   "permission_denied")  # someone else's: admins only

    # When it fires, it is planned from what runs then and goes the one way in, as any scheduled request.
    fired = schedules.run_due(world.ctx, now=dt.datetime(2099, 1, 1, 9, 1, tzinfo=dt.UTC))
    assert fired == [scheduled["id"]]
    [done] = [s for s in world.call("GET", "/schedules").json() if s["id"] == scheduled["id"]]
    assert done["status"] in ("executed", "failed") and done["operationId"] is not None, done
    assert world.call("GET", f"/operations/{done['operationId']}").json()["initiatedBy"] == "token:admin"
    assert {e.channel for e in audit(world, "schedule.add")} == {"api"}
