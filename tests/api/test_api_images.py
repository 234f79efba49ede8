"""Registries, images and quarantine through the HTTP API (issue 22) against the real registry (Debian's
docker-registry on 127.0.0.1): roles, the audit with channel api, problems, the host policy before any connection,
and no password in any answer, log or audit event. A server of its own: these calls add and remove registries and
quarantines that the session's other API tests must not meet; it may reach loopback only, as the Schemathesis one."""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import select

from ranchersync import notify
from ranchersync.context import AppContext
from ranchersync.governance import quarantine
from ranchersync.models import AuditEvent, IdempotentAnswer, Registry
from ranchersync.security import host_policy
from ranchersync.simulator import SimulatedRancher
from tests.api.conftest import ApiWorld, serve_world
from tests.builders import ADMIN
from tests.core.receiver import Receiver
from tests.core.registry_fixtures import PASSWORD, REV_NEW, SOURCE, USER, Registries

pytest_plugins = ["tests.core.registry_fixtures"]

LOOPBACK = ("127.0.0.1", "localhost")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiWorld]:
    with serve_world(tmp_path_factory.mktemp("api-images"), allowed_hosts=LOOPBACK) as found:
        yield found


def problem(answer: requests.Response, status: int, kind: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = answer.json()
    assert body["kind"] == kind, body
    return body


def events(world: ApiWorld, action: str) -> list[AuditEvent]:
    with world.ctx.session() as session:
        found = list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))
        session.expunge_all()
    return found


@pytest.fixture
def no_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every name the host policy would resolve (the server runs in this process): none may be asked."""
    asked: list[str] = []

    def refuse(host: str) -> list[str]:
        asked.append(host)
        raise OSError(f"the test forbids resolving {host}")

    monkeypatch.setattr(host_policy, "system_resolve", refuse)
    return asked


# ---- registries ---------------------------------------------------------------------------------------------------


def test_a_registry_with_credentials_is_added_tested_and_removed_without_the_password_ever_shown(
        world: ApiWorld, registries: Registries, caplog: pytest.LogCaptureFixture) -> None:
    host = registries.basic
    with caplog.at_level("DEBUG"):
        added = world.call("POST", "/registries", json={"host": host, "username": USER, "password": PASSWORD,
                                                        "allowHttp": True})
        assert added.status_code == 200, added.text
        assert added.json() == {"host": host, "username": USER, "hasPassword": True, "caBundle": False,
                                "allowHttp": True, "lastContactAt": None, "lastError": None}
        tested = world.call("POST", f"/registries/{host}/test", "viewer")  # reading: any token may ask
        assert tested.status_code == 200, tested.text
        assert tested.json()["ok"] is True and tested.json()["message"] == \
            "the registry answers and accepts the credentials"
        listed = world.call("GET", "/registries", "viewer")
        assert [r["host"] for r in listed.json()] == [host] and listed.json()[0]["lastContactAt"]

        wrong = world.call("POST", "/registries", json={"host": host, "username": USER, "password": "not-it",
                                                        "allowHttp": True})
        assert wrong.status_code == 200 and wrong.json()["hasPassword"] is True
        failed = world.call("POST", f"/registries/{host}/test")
        assert failed.status_code == 200 and failed.json()["ok"] is False, failed.text  # an answer: ok false
        assert "refused" in failed.json()["message"] or "credentials" in failed.json()["message"]

        removed = world.call("DELETE", f"/registries/{host.upper()}")  # the host as images name it, any case
        assert removed.status_code == 200 and removed.json() == {"removed": host}
        assert world.call("GET", "/registries").json() == []
        problem(world.call("DELETE", f"/registries/{host}"), 404, "not_found")
        problem(world.call("POST", f"/registries/{host}/test"), 404, "not_found")
    answers = json.dumps([a.json() for a in (added, tested, listed, wrong, failed, removed)])
    assert PASSWORD not in answers and PASSWORD not in caplog.text and "not-it" not in answers

    [add] = events(world, "registry.add")
    [update] = events(world, "registry.update")
    [remove] = events(world, "registry.remove")
    for event in (add, update, remove):
        assert (event.actor, event.channel, event.client_address) == ("token:admin", "api", "127.0.0.1")
        assert PASSWORD not in json.dumps([event.before, event.after, event.detail])
    assert add.after is not None and add.after["password"] == "(secret)"


def test_a_retried_registry_call_keeps_nothing_a_password_could_be_guessed_from(world: ApiWorld,
                                                                                 registries: Registries) -> None:
    """The remote CLI sends an Idempotency-Key with every POST; what the server keeps to recognise a retry is keyed
    with the server's secret, so a copy of the database cannot test guesses of the password against it."""
    body = {"host": registries.basic, "username": USER, "password": PASSWORD, "allowHttp": True}
    raw = json.dumps(body).encode()
    first = world.call("POST", "/registries", data=raw, headers={"Idempotency-Key": "add-basic",
                                                                   "Content-Type": "application/json"})
    again = world.call("POST", "/registries", data=raw, headers={"Idempotency-Key": "add-basic",
                                                                   "Content-Type": "application/json"})
    try:
        assert first.status_code == again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"
        with world.ctx.session() as session:
            [kept] = session.scalars(select(IdempotentAnswer).where(IdempotentAnswer.key == "add-basic"))
            stored = json.dumps([kept.fingerprint, kept.body, kept.headers])
        bare = hashlib.sha256(b"POST /api/v1/registries\n" + raw).hexdigest()
        assert PASSWORD not in stored and bare not in stored
    finally:
        world.call("DELETE", f"/registries/{registries.basic}")


def test_only_an_admin_not_limited_to_environments_changes_registries(world: ApiWorld,
                                                                      registries: Registries) -> None:
    body = {"host": registries.anonymous, "allowHttp": True}
    assert "admin" in problem(world.call("POST", "/registries", "viewer", json=body), 403,
                              "permission_denied")["detail"]
    assert "limited to Stage" in problem(world.call("POST", "/registries", "ci-stage", json=body), 403,
                                         "permission_denied")["detail"]
    assert world.call("GET", "/registries").json() == []
    assert world.call("POST", "/registries", json=body).status_code == 200
    try:
        for token in ("viewer", "releaser", "ci-stage"):
            problem(world.call("DELETE", f"/registries/{registries.anonymous}", token), 403, "permission_denied")
        assert [r["host"] for r in world.call("GET", "/registries").json()] == [registries.anonymous]
    finally:
        assert world.call("DELETE", f"/registries/{registries.anonymous}").status_code == 200


@pytest.mark.parametrize(("body", "says"), [
    ({"host": "https://registry.example.com/v2"}, "not 'https://registry.example.com/v2'"),
    ({"host": "shop"}, "needs a dot or a port"),
    ({"host": "127.0.0.1:5000", "username": "u"}, "a user name and a password together"),
    ({"host": "127.0.0.1:5000", "password": "p"}, "a user name and a password together"),
    ({"host": "127.0.0.1:5000", "caCertificate": "not a certificate"}, "not a PEM certificate"),
    ({"host": "127.0.0.1:5000", "allowhttp": True}, "allowhttp is not a known field"),
    ({}, "body.host is required"),
], ids=["url", "no-dot", "user-alone", "password-alone", "bad-ca", "misspelt", "no-host"])
def test_a_bad_registry_is_refused_with_every_reason(world: ApiWorld, body: dict[str, Any], says: str) -> None:
    answer = world.call("POST", "/registries", json=body)
    assert answer.status_code == 422 and says in answer.json()["detail"], answer.text
    assert world.call("GET", "/registries").json() == []


def test_a_host_outside_the_allowed_hosts_is_refused_before_any_lookup_or_connection(
        world: ApiWorld, no_dns: list[str]) -> None:
    for host in ("docker.io", "ghcr.io", "registry.example.com:5000"):
        detail = problem(world.call("POST", "/registries", json={"host": host}), 422, "validation")["detail"]
        assert "RANCHERSYNC_ALLOWED_HOSTS" in detail, detail
    assert world.call("GET", "/registries").json() == []
    # `redis` is docker.io's: not registered, so nothing is asked at all.
    detail = problem(world.call("GET", "/images/inspect", params={"image": "redis"}), 404, "not_found")["detail"]
    assert "docker.io is not registered" in detail
    # Registered all the same (an older allow-list, another replica): the server's policy still refuses it.
    with world.ctx.session() as session:
        session.add(Registry(host="docker.io", allow_http=False))
    try:
        answer = problem(world.call("GET", "/images/inspect", params={"image": "redis"}), 502,
                         "registry_unavailable")
        assert "registry-1.docker.io" in answer["detail"] and "Nothing was sent" in answer["detail"]
        tested = world.call("POST", "/registries/docker.io/test")
        assert tested.status_code == 200 and tested.json()["ok"] is False
        assert "RANCHERSYNC_ALLOWED_HOSTS" in tested.json()["message"]
    finally:
        assert world.call("DELETE", "/registries/docker.io").status_code == 200
    assert no_dns == [], "a name outside the allow-list was looked up"


# ---- images -------------------------------------------------------------------------------------------------------


@pytest.fixture
def anonymous(world: ApiWorld, registries: Registries) -> Iterator[str]:
    """The anonymous registry, registered for one test."""
    assert world.call("POST", "/registries", json={"host": registries.anonymous, "allowHttp": True}).ok
    yield registries.anonymous
    assert world.call("DELETE", f"/registries/{registries.anonymous}").ok


def test_an_image_is_inspected_in_its_registry_with_its_labels_and_changelog(
        world: ApiWorld, registries: Registries, anonymous: str) -> None:
    answer = world.call("GET", "/images/inspect", "viewer", params={"image": f"{anonymous}/shop/web:2.4.0"})
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["digest"] == registries.images["shop/web:2.4.0"]
    assert (found["name"], found["platforms"]) == (f"{anonymous}/shop/web", ["linux/amd64"])
    assert found["labels"]["org.opencontainers.image.revision"] == REV_NEW
    assert (found["changelog"]["toRevision"], found["changelog"]["source"]) == (REV_NEW, SOURCE)
    assert found["changelog"]["toVersion"] == "2.4.0"

    multi = world.call("GET", "/images/inspect", params={"image": f"{anonymous}/shop/multi:3.0",
                                                         "platform": "linux/arm64"}).json()
    assert multi["digest"] == registries.images["shop/multi:3.0"]
    assert multi["platforms"] == ["linux/amd64", "linux/arm64"]
    assert multi["platformDigest"] == registries.images["shop/multi:3.0-arm64"]

    pinned = f"{anonymous}/shop/web@{registries.images['shop/web:2.3.0']}"
    assert world.call("GET", "/images/inspect", params={"image": pinned}).json()["digest"] == \
        registries.images["shop/web:2.3.0"]


@pytest.mark.parametrize(("params", "status", "kind", "says"), [
    ({"image": "{reg}/shop/armonly:1.0"}, 422, "validation", "has no linux/amd64 image"),
    ({"image": "{reg}/shop/web:9.9.9"}, 404, "image_not_found", "shop/web"),
    ({"image": "{reg}/shop/web:2.4.0", "platform": "amd64"}, 422, "validation", "is os/architecture[/variant]"),
    ({"image": "{reg}/Shop/Web:2.4.0"}, 422, "validation", "must be lowercase"),
    ({"image": "127.0.0.2:5999/shop/web:1"}, 404, "not_found", "127.0.0.2:5999 is not registered"),
    ({}, 422, "validation", "query parameter image is required"),
], ids=["no-platform", "no-tag", "bad-platform", "bad-reference", "unregistered", "no-image"])
def test_an_image_that_cannot_be_inspected_says_why(world: ApiWorld, anonymous: str, params: dict[str, str],
                                                     status: int, kind: str, says: str) -> None:
    query = {k: v.format(reg=anonymous) for k, v in params.items()}
    assert says in problem(world.call("GET", "/images/inspect", params=query), status, kind)["detail"]


def test_an_image_behind_credentials_is_inspected_with_the_stored_ones(world: ApiWorld,
                                                                       registries: Registries) -> None:
    image = f"{registries.basic}/shop/web:2.3.0"
    assert world.call("POST", "/registries", json={"host": registries.basic, "allowHttp": True}).ok
    try:
        problem(world.call("GET", "/images/inspect", params={"image": image}), 502, "registry_auth")
        assert world.call("POST", "/registries", json={"host": registries.basic, "allowHttp": True,
                                                       "username": USER, "password": PASSWORD}).ok
        answer = world.call("GET", "/images/inspect", params={"image": image})
        assert answer.status_code == 200 and answer.json()["digest"] == registries.images["shop/web:2.3.0"]
    finally:
        assert world.call("DELETE", f"/registries/{registries.basic}").ok


# ---- quarantine ---------------------------------------------------------------------------------------------------


BAD = "sha256:" + "0bad" * 16
CLUSTER = "c-m-4hs9wz2t"  # stage-eu-1, shop-stage


def lift_what_is_left(ctx: AppContext) -> None:
    """Lift every active quarantine, so that a failed test leaves none for the next one."""
    with ctx.session() as session:
        for left in quarantine.list_quarantines(session):
            quarantine.lift(session, left.id, reason="test over", actor=ADMIN)


@pytest.fixture(autouse=True)
def no_quarantine_left(world: ApiWorld) -> Iterator[None]:
    yield
    lift_what_is_left(world.ctx)


@contextlib.contextmanager
def pinned_in_stage(eu: SimulatedRancher) -> Iterator[str]:
    """Stage's redis runs the BAD digest (pinned in its reference, and reported by its pods once they rolled out);
    put back afterwards."""
    found = eu.get_object(CLUSTER, "StatefulSet", "shop-stage", "redis")
    assert found is not None
    original = {k: v for k, v in found.items() if k != "status"}
    pinned = json.loads(json.dumps(original))
    pinned["spec"]["template"]["spec"]["containers"][0]["image"] = f"redis:7.2.4@{BAD}"
    eu.set_object(CLUSTER, pinned)
    try:
        deadline = time.monotonic() + 30
        while not _pods_run(eu, BAD):  # a pod that still runs the old digest says so, whatever the reference pins
            assert time.monotonic() < deadline, "Stage's redis did not roll out"
            time.sleep(0.1)
        yield f"docker.io/library/redis@{BAD}"
    finally:
        eu.set_object(CLUSTER, original)


def _pods_run(eu: SimulatedRancher, digest: str) -> bool:
    answer = requests.get(f"{eu.kube_url(CLUSTER)}/api/v1/namespaces/shop-stage/pods", timeout=10,
                          headers={"Authorization": f"Bearer {eu.token}"})
    answer.raise_for_status()
    pods = [p for p in answer.json()["items"] if p["metadata"]["name"].startswith("redis-")]
    return bool(pods) and all(s.get("imageID", "").endswith(digest) for p in pods
                              for s in p.get("status", {}).get("containerStatuses", ()) if s["name"] == "redis")


def test_a_quarantine_is_added_listed_where_it_runs_notified_and_lifted(world: ApiWorld) -> None:
    with pinned_in_stage(world.eu) as image:
        _quarantine_added_listed_notified_and_lifted(world, image)


def _quarantine_added_listed_notified_and_lifted(world: ApiWorld, pinned_in_stage: str) -> None:
    with Receiver() as receiver:
        with world.ctx.session() as session:
            subscription = notify.add_subscription(session, world.ctx.cipher, ADMIN, environment=None,
                                                   url=receiver.url(), events="image.quarantined").id
        try:
            added = world.call("POST", "/quarantine", "releaser",
                               json={"image": pinned_in_stage, "reason": "CVE-2026-0001 in libfoo"})
            assert added.status_code == 200, added.text
            entry = added.json()
            assert (entry["image"], entry["digest"], entry["addedBy"], entry["liftedAt"]) == (
                pinned_in_stage, BAD, "token:releaser", None)
            [message] = receiver.wait_for(1)
            assert message["title"] == "Image quarantined"
            text = message["message"]
            assert BAD.removeprefix("sha256:") in text and "Reason: CVE-2026-0001 in libfoo" in text
        finally:
            with world.ctx.session() as session:
                notify.remove_subscription(session, ADMIN, subscription)

    listed = world.call("GET", "/quarantine", "viewer").json()
    assert [q["id"] for q in listed] == [entry["id"]]
    assert listed[0]["running"] == [{"quarantineId": entry["id"], "image": pinned_in_stage, "environment": "Stage",
                                     "appInstance": "shop-stage", "service": "redis",
                                     "container": "redis"}]
    assert world.call("GET", "/quarantine", params={"running": "false"}).json()[0]["running"] == []
    again = problem(world.call("POST", "/quarantine", json={"image": pinned_in_stage, "reason": "twice"}), 422,
                    "validation")
    assert f"already quarantined (#{entry['id']}" in again["detail"]

    lifted = world.call("POST", f"/quarantine/{entry['id']}/lift", "releaser", json={"reason": "rebuilt"})
    assert lifted.status_code == 200, lifted.text
    assert (lifted.json()["liftedBy"], lifted.json()["liftReason"]) == ("token:releaser", "rebuilt")
    assert world.call("GET", "/quarantine").json() == []
    assert [q["id"] for q in world.call("GET", "/quarantine", params={"lifted": "true"}).json()] == [entry["id"]]
    problem(world.call("POST", f"/quarantine/{entry['id']}/lift", json={"reason": "again"}), 404, "not_found")

    for action, detail in (("quarantine.add", "CVE-2026-0001 in libfoo"), ("quarantine.lift", "rebuilt")):
        [event] = events(world, action)
        assert (event.actor, event.channel, event.client_address, event.detail) == (
            "token:releaser", "api", "127.0.0.1", detail)


def test_quarantine_changes_need_a_releaser_whose_token_is_not_limited_to_environments(world: ApiWorld) -> None:
    image = f"registry.example.com:5000/shop/web@{BAD}"
    body = {"image": image, "reason": "bad build"}
    assert "releaser" in problem(world.call("POST", "/quarantine", "viewer", json=body), 403,
                                 "permission_denied")["detail"]
    assert "limited to Stage" in problem(world.call("POST", "/quarantine", "ci-stage", json=body), 403,
                                         "permission_denied")["detail"]
    entry = world.call("POST", "/quarantine", "admin", json=body).json()
    try:
        for token in ("viewer", "ci-stage"):
            problem(world.call("POST", f"/quarantine/{entry['id']}/lift", token, json={"reason": "x"}), 403,
                    "permission_denied")
        assert [q["id"] for q in world.call("GET", "/quarantine", "ci-stage").json()] == [entry["id"]]  # reading
    finally:
        assert world.call("POST", f"/quarantine/{entry['id']}/lift", json={"reason": "test over"}).ok


@pytest.mark.parametrize(("path", "body", "status", "says"), [
    ("/quarantine", {"image": "registry.example.com:5000/shop/web:1.0", "reason": "r"}, 422, "names no digest"),
    ("/quarantine", {"image": f"shop/web@{BAD}", "reason": "  "}, 422, "needs --reason"),
    ("/quarantine", {"image": f"shop/web@{BAD}"}, 422, "body.reason is required"),
    ("/quarantine", {"image": "Not An Image@sha256:1", "reason": "r"}, 422, "Invalid image reference"),
    ("/quarantine/4242/lift", {"reason": "r"}, 404, "no active quarantine #4242"),
    ("/quarantine/x1/lift", {"reason": "r"}, 404, "no such id"),
    ("/quarantine/1/lift", {}, 422, "body.reason is required"),
], ids=["no-digest", "blank-reason", "no-reason", "bad-image", "unknown", "not-an-id", "lift-no-reason"])
def test_bad_quarantine_input_is_refused(world: ApiWorld, path: str, body: dict[str, Any], status: int,
                                         says: str) -> None:
    answer = world.call("POST", path, json=body)
    assert answer.status_code == status, answer.text
    assert says in answer.json()["detail"]
    assert world.call("GET", "/quarantine", params={"running": "false"}).json() == []
