"""The HTTP API on a real server (issue 21): what a pipeline relies on — each status code DESIGN.md gives, tokens
limited to environments, expired and revoked tokens, Idempotency-Key, the event stream, problem details that carry
the error model, audit with channel=api, and an OpenAPI document that validates."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
import requests
from openapi_spec_validator import validate
from sqlalchemy import select, update

from ranchersync.api.app import ENDPOINTS
from ranchersync.catalogue import environments
from ranchersync.governance import freeze, locks
from ranchersync.models import ApiToken, AuditEvent, Environment, SyncOperation, utcnow
from tests.api.conftest import ApiWorld
from tests.builders import ADMIN

STAGE_CLUSTER = "c-m-4hs9wz2t"
PROBLEM = "application/problem+json"
EXIT_CODES = {400: 2, 401: 3, 403: 3, 404: 2, 409: 3, 422: 2, 423: 3, 429: 3}


def sync(api: ApiWorld, token: str = "admin", **body: object) -> tuple[int, dict]:
    response = api.call("POST", "/syncs", token, json=body)
    return response.status_code, response.json()


def assert_problem(response, status: int, kind: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert (body["status"], body["kind"]) == (status, kind), body
    assert body["title"] and body["detail"] and "hint" in body and body["type"].endswith(kind)
    assert body["exitCode"] == EXIT_CODES[status], body  # the CLI's exit status for the same refusal
    assert "Traceback" not in response.text
    return body


def patches(api: ApiWorld, service: str, kind: str = "deployments") -> int:
    return sum(1 for method, path in api.eu.requests_seen()
               if method == "PATCH" and path.endswith(f"/namespaces/shop-stage/{kind}/{service}"))


def test_healthz_needs_no_token_and_openapi_is_a_valid_3_1_document(api: ApiWorld) -> None:
    health = api.call("GET", "/healthz", None)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    document = api.call("GET", "/openapi.json", None).json()
    validate(document)  # openapi-spec-validator: the document is valid OpenAPI 3.1
    assert document["openapi"] == "3.1.0"
    assert {(m.upper(), p) for p, ops in document["paths"].items() for m in ops} == \
        {(e.method, "/api/v1" + e.path) for e in ENDPOINTS}
    operation = document["components"]["schemas"]["OperationPayload"]
    assert {"id", "status", "sourceEnvironment", "initiatedBy"} <= set(operation["required"])
    assert "results" not in operation["required"] and "results" in operation["properties"]


def test_a_sync_that_waits_answers_the_finished_operation_and_is_audited_as_the_token(api: ApiWorld) -> None:
    status, operation = sync(api, **{"from": "Dev", "to": "Stage", "services": ["search"]})
    assert status == 200, operation
    assert operation["status"] == "complete" and operation["initiatedBy"] == "token:admin"
    assert [(r["serviceId"], r["newImageTag"], r["status"]) for r in operation["results"]] == \
        [("search", "0.9.0", "success")]
    assert api.call("GET", f"/operations/{operation['id']}").json() == operation  # the same payload
    listed = api.call("GET", "/history", params={"env": "Stage", "limit": 50}).json()
    assert operation["id"] in [o["id"] for o in listed]
    with api.ctx.session() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.actor == "token:admin")).all()
        assert events and {(e.channel, e.client_address) for e in events} == {("api", "127.0.0.1")}
        every = json.dumps([(e.before, e.after, e.detail) for e in session.scalars(select(AuditEvent))])
    assert not any(secret in every for secret in api.secrets.values())


def test_a_dry_run_answers_the_plan_and_changes_nothing(api: ApiWorld) -> None:
    before = patches(api, "frontend")
    status, plan = sync(api, "viewer", **{"from": "Dev", "to": "Stage", "services": ["frontend"], "dryRun": True})
    assert status == 200 and plan["serviceIds"] == ["frontend"] and plan["targetEnvironment"] == "Stage"
    assert plan["items"][0]["changes"][0]["newImage"].endswith("frontend:3.9.0-rc.2")
    assert patches(api, "frontend") == before


def test_no_wait_answers_202_and_the_events_stream_the_steps_to_the_end(api: ApiWorld) -> None:
    status, operation = sync(api, **{"from": "Dev", "to": "Stage", "services": ["checkout"], "wait": False})
    assert status == 202 and operation["status"] in ("pending", "running"), operation
    stream = api.call("GET", f"/operations/{operation['id']}/events", stream=True)
    assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
    events = []
    for block in stream.iter_lines(decode_unicode=True, delimiter="\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            events.append((int(fields["id"]), fields["event"], json.loads(fields["data"])))
    kinds = [kind for _, kind, _ in events]
    assert kinds[0] == "operation" and kinds[-1] == "end" and "result" in kinds
    assert events[-1][2]["status"] == "complete"
    assert [e[2]["status"] for e in events if e[1] == "result"][-1] == "success"
    assert [i for i, _, _ in events] == list(range(1, len(events) + 1))
    resumed = api.call("GET", f"/operations/{operation['id']}/events", headers={"Last-Event-ID": "1"}).text
    assert "id: 1\n" not in resumed and "event: end" in resumed


def test_a_replayed_idempotency_key_returns_the_first_answer_and_patches_once(api: ApiWorld) -> None:
    body = {"from": "Dev", "to": "Stage", "services": ["cart"]}
    key = {"Idempotency-Key": "pipeline-run-4711"}
    first = api.call("POST", "/syncs", json=body, headers=key)
    assert first.status_code == 200, first.text
    again = api.call("POST", "/syncs", json=body, headers=key)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert patches(api, "cart") == 1  # the cluster saw one patch
    with api.ctx.session() as session:
        assert len(session.scalars(select(SyncOperation).where(SyncOperation.initiated_by == "token:admin")
                                   .where(SyncOperation.target_environment_name == "Stage")
                                   .where(SyncOperation.source_environment_name == "Dev")).all()) >= 1
    other = api.call("POST", "/syncs", json={**body, "dryRun": True}, headers=key)
    assert_problem(other, 422, "validation")  # the same key for another call


def test_a_caller_that_went_away_while_waiting_gets_the_same_operation_on_retry(api: ApiWorld) -> None:
    body = {"from": "Dev", "to": "Stage", "services": ["catalog-db"]}
    key = {"Idempotency-Key": "pipeline-run-4712"}
    with pytest.raises(requests.exceptions.ReadTimeout):  # the pipeline's runner gives up waiting
        requests.post(f"{api.url}/syncs", json=body, timeout=0.4,
                      headers={**key, "Authorization": f"Bearer {api.secrets['admin']}"})
    deadline, ids = time.monotonic() + 60, set()
    while True:  # the sync goes on in the server's worker; a retry gets it, never a second sync
        again = api.call("POST", "/syncs", json=body, headers=key)
        if again.status_code in (200, 202):
            ids.add(again.json()["id"])
        if again.status_code == 200 or time.monotonic() > deadline:
            break
        assert again.status_code in (202, 409), again.text  # started (its id) or still being answered
        time.sleep(0.3)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true", again.text
    assert len(ids) == 1  # one operation, whenever the retry came
    assert again.json()["status"] == "complete" and again.json()["serviceIds"] == ["catalog-db"]
    assert patches(api, "catalog-db", "statefulsets") == 1


def test_a_token_limited_to_stage_cannot_touch_prod(api: ApiWorld) -> None:
    refused = api.call("POST", "/syncs", "ci-stage", json={"from": "Stage", "to": "Prod", "services": ["catalog"],
                                                         "targetInstance": "all"})
    body = assert_problem(refused, 403, "permission_denied")
    assert "limited to Stage" in body["detail"]
    status, plan = sync(api, "ci-stage", **{"from": "Stage", "to": "Prod", "services": ["catalog"],
                                            "targetInstance": "all", "dryRun": True})
    assert status == 200 and plan["serviceIds"] == ["catalog"]  # reading and planning stay open
    status, operation = sync(api, "ci-stage", **{"from": "Dev", "to": "Stage", "services": ["catalog"]})
    assert status == 200 and operation["status"] == "complete"  # its own environment
    assert api.us.get_object("c-m-7rb2kx9q", "Deployment", "shop-prod", "catalog")["spec"]["template"]["spec"][
        "containers"][0]["image"].endswith("catalog:2.2.0")


def test_a_target_that_needs_approval_answers_202_with_the_request_and_four_eyes_hold(api: ApiWorld) -> None:
    with api.ctx.session() as session:
        environments.update_environment(session, "Prod", required_approvals=1, actor=ADMIN)
    try:
        status, answer = sync(api, "releaser", **{"from": "Stage", "to": "Prod", "services": ["frontend"],
                                                  "targetInstance": "all"})
        assert status == 202 and set(answer) == {"approvalRequest"}, answer
        request = answer["approvalRequest"]
        assert request["status"] == "pending" and request["requestedBy"] == "token:releaser"
        pending = api.call("GET", "/approvals", "viewer", params={"pending": "true"}).json()
        assert request["id"] in [r["id"] for r in pending]
        own = api.call("POST", f"/approvals/{request['id']}/approve", "releaser", json={})
        assert "requester can never approve" in assert_problem(own, 403, "permission_denied")["detail"]
        scoped = api.call("POST", f"/approvals/{request['id']}/approve", "ci-stage", json={})
        assert "limited to Stage" in assert_problem(scoped, 403, "permission_denied")["detail"]
        approved = api.call("POST", f"/approvals/{request['id']}/approve", "approver", json={"comment": "ok"})
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "executed" and approved.json()["approvals"][0]["by"] == "token:approver"
        again = api.call("POST", f"/approvals/{request['id']}/approve", "admin", json={})
        assert_problem(again, 409, "request_closed")
        operation = api.call("GET", f"/operations/{approved.json()['operationId']}").json()
        assert operation["status"] == "complete" and operation["approvedBy"] == ["token:approver"]
    finally:
        with api.ctx.session() as session:
            environments.update_environment(session, "Prod", required_approvals=0, actor=ADMIN)


def test_a_frozen_target_is_423(api: ApiWorld) -> None:
    with api.ctx.session() as session:
        window = freeze.add_window(session, ADMIN, environment="Dev", reason="release weekend",
                                   starts_at=utcnow() - dt.timedelta(minutes=1),
                                   ends_at=utcnow() + dt.timedelta(hours=1))
        window_id = window.id
    try:
        refused = api.call("POST", "/syncs", json={"from": "Stage", "to": "Dev", "services": ["frontend"]})
        assert "release weekend" in assert_problem(refused, 423, "frozen")["detail"]
    finally:
        with api.ctx.session() as session:
            freeze.remove_window(session, ADMIN, window_id)


def test_a_locked_target_is_423(api: ApiWorld) -> None:
    with api.ctx.session() as session:
        lock_id = locks.add_lock(session, ADMIN, environment="Dev", service="frontend",
                                 message="DB migration running").id
    try:
        refused = api.call("POST", "/syncs", json={"from": "Stage", "to": "Dev", "services": ["frontend"]})
        assert "DB migration running" in assert_problem(refused, 423, "environment_locked")["detail"]
        compared = api.call("GET", "/compare", params={"env": ["Stage", "Dev"]}).json()
        assert [lock["message"] for lock in compared["locks"]] == ["DB migration running"]
    finally:
        with api.ctx.session() as session:
            locks.remove_lock(session, ADMIN, lock_id)


def test_a_target_held_by_another_operation_is_409(api: ApiWorld) -> None:
    with api.ctx.session() as session:
        dev = session.scalar(select(Environment).where(Environment.name == "Dev"))
        assert dev is not None
        holder = SyncOperation(kind="sync", status="running", target_environment_id=dev.id,
                               source_environment_name="Stage", target_environment_name="Dev",
                               initiated_by="someone@example.com", started_at=utcnow(), owner="elsewhere",
                               heartbeat_at=utcnow())
        session.add(holder)
        session.flush()
        holder_id = holder.id
    try:
        refused = api.call("POST", "/syncs", json={"from": "Stage", "to": "Dev", "services": ["redis"]})
        assert_problem(refused, 409, "target_busy")
    finally:
        with api.ctx.session() as session:
            session.execute(update(SyncOperation).where(SyncOperation.id == holder_id).values(status="failed"))


@pytest.mark.parametrize("token", [None, "not-a-token", "rsm_0123456789abcdef_" + "A" * 43, "expired", "revoked"])
def test_no_wrong_expired_or_revoked_token_is_401(api: ApiWorld, token: str | None) -> None:
    headers = {} if token is None else None
    response = api.call("GET", "/environments", token if token is not None else None, headers=headers)
    body = assert_problem(response, 401, "unauthenticated")
    assert not any(secret in response.text for secret in api.secrets.values())
    if token in ("expired", "revoked"):
        assert f"'{token}'" in body["detail"]


def test_a_wrong_scheme_is_401_and_last_use_is_noted(api: ApiWorld) -> None:
    response = api.call("GET", "/environments", None, headers={"Authorization": f"Basic {api.secrets['viewer']}"})
    assert_problem(response, 401, "unauthenticated")
    assert api.call("GET", "/environments", "viewer").status_code == 200
    with api.ctx.session() as session:
        viewer = session.scalar(select(ApiToken).where(ApiToken.name == "viewer"))
        assert viewer is not None and viewer.last_used_at is not None and viewer.last_used_address == "127.0.0.1"


def test_a_viewer_reads_but_cannot_sync_403(api: ApiWorld) -> None:
    assert [e["name"] for e in api.call("GET", "/environments", "viewer").json()] == ["Dev", "Stage", "Prod"]
    refused = api.call("POST", "/syncs", "viewer", json={"from": "Dev", "to": "Stage", "services": ["redis"]})
    assert "token:viewer is a viewer" in assert_problem(refused, 403, "permission_denied")["detail"]


def test_unknown_objects_are_404(api: ApiWorld) -> None:
    assert_problem(api.call("GET", "/operations/999999"), 404, "not_found")
    assert_problem(api.call("GET", "/operations/abc"), 404, "not_found")
    assert_problem(api.call("GET", "/environments/Nowhere/services"), 404, "not_found")
    assert_problem(api.call("POST", "/approvals/424242/approve", json={}), 404, "not_found")
    assert_problem(api.call("POST", "/syncs", json={"from": "Nowhere", "to": "Stage", "allDifferent": True}), 404,
                   "not_found")
    assert_problem(api.call("GET", "/no/such/call"), 404, "not_found")


def test_bad_input_is_400_or_422_with_every_wrong_field(api: ApiWorld) -> None:
    not_json = api.call("POST", "/syncs", data=b"{from: Dev", headers={"Content-Type": "application/json"})
    assert_problem(not_json, 400, "not_json")
    wrong = api.call("POST", "/syncs", json={"from": "Dev", "services": "web", "dryrun": True})
    errors = assert_problem(wrong, 422, "validation")["errors"]
    assert "body.to is required" in errors and "body.services must be a JSON array" in errors
    assert any(e.startswith("body.dryrun is not a known field") for e in errors)
    both = api.call("POST", "/syncs", json={"from": "Dev", "to": "Stage", "services": ["a"], "allDifferent": True})
    assert_problem(both, 422, "validation")
    assert_problem(api.call("GET", "/history", params={"page": "0"}), 422, "validation")
    assert_problem(api.call("GET", "/compare", params={"env": "Stage"}), 422, "validation")
    assert_problem(api.call("POST", "/approvals/1/reject", json={"comment": 5}), 422, "validation")


def test_a_rollback_through_the_api_and_terminate_only_while_running(api: ApiWorld) -> None:
    status, operation = sync(api, **{"from": "Dev", "to": "Stage", "services": ["redis"]})
    assert status == 200 and operation["status"] == "complete", operation
    finished = api.call("POST", f"/operations/{operation['id']}/terminate", json={"keep": True})
    assert "only a running operation" in assert_problem(finished, 422, "validation")["detail"]
    rolled = api.call("POST", f"/operations/{operation['id']}/rollback", json={})
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["kind"] == "rollback" and rolled.json()["rollbackOf"] == operation["id"]
    assert rolled.json()["status"] == "complete"


def test_too_many_calls_per_token_is_429(api: ApiWorld) -> None:
    base = api.limited_url
    assert api.call("GET", "/environments", "viewer", base=base).status_code == 200
    assert api.call("GET", "/environments", "viewer", base=base).status_code == 200
    refused = api.call("GET", "/environments", "viewer", base=base)
    body = assert_problem(refused, 429, "too_many_calls")
    assert int(refused.headers["Retry-After"]) >= 1 and body["retryAfterSeconds"] >= 1
    assert api.call("GET", "/environments", "admin", base=base).status_code == 200  # per token


def test_no_secret_in_the_log_nor_in_an_answer(api: ApiWorld, caplog: pytest.LogCaptureFixture) -> None:
    wrong = api.secrets["viewer"][:-4] + "AAAA"
    with caplog.at_level("DEBUG"):
        answers = [api.call("GET", "/environments", "viewer"), api.call("GET", "/environments", wrong),
                   api.call("POST", "/syncs", "viewer", json={"from": "Dev", "to": "Stage", "allDifferent": True}),
                   api.call("GET", "/openapi.json", None)]
    assert [a.status_code for a in answers] == [200, 401, 403, 200]
    for secret in (*api.secrets.values(), wrong):
        assert secret not in caplog.text and not any(secret in a.text for a in answers)
        assert secret.split("_", 2)[2] not in caplog.text


def test_an_admin_overrides_a_quarantined_rollback_with_a_reason_through_the_api(api: ApiWorld) -> None:
    from ranchersync.governance import quarantine

    bad = "sha256:" + "0bad" * 16
    cluster = "c-m-4hs9wz2t"  # stage-eu-1
    found = api.eu.get_object(cluster, "StatefulSet", "shop-stage", "redis")
    assert found is not None
    original = {k: v for k, v in found.items() if k != "status"}  # a stored status would freeze the rollouts
    pinned = json.loads(json.dumps(original))
    pinned["spec"]["template"]["spec"]["containers"][0]["image"] = f"redis:7.2.4@{bad}"
    api.eu.set_object(cluster, pinned)
    try:
        status, operation = sync(api, **{"from": "Dev", "to": "Stage", "services": ["redis"]})
        assert status == 200 and operation["status"] == "complete", operation
        with api.ctx.session() as session:
            entry = quarantine.add(session, f"docker.io/library/redis@{bad}", reason="CVE-2026-7777", actor=ADMIN)
        path = f"/operations/{operation['id']}/rollback"
        assert "CVE-2026-7777" in assert_problem(api.call("POST", path, json={}), 423, "image_quarantined")["detail"]
        assert_problem(api.call("POST", path, "releaser", json={"overrideQuarantine": "needed"}), 403,
                       "permission_denied")
        rolled = api.call("POST", path, json={"overrideQuarantine": "redis 7.2.5 loses writes; CVE mitigated"})
        assert rolled.status_code == 200, rolled.text
        assert rolled.json()["status"] == "complete"
        with api.ctx.session() as session:
            event = session.scalars(select(AuditEvent).where(AuditEvent.action == "quarantine.override")).one()
            assert event.detail == "redis 7.2.5 loses writes; CVE mitigated" and bad in json.dumps(event.after)
            quarantine.lift(session, entry.id, reason="test over", actor=ADMIN)
    finally:
        api.eu.set_object(cluster, original)
