"""Plans checked in a real registry (docker-registry on 127.0.0.1) against simulated Rancher servers: missing tags
skipped before any PATCH, digests and changelogs in the plan, pinned promotions, and quarantine everywhere."""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Iterator
from typing import Any

import pytest

from ranchersync import registry
from ranchersync.access.identity import Actor
from ranchersync.catalogue import environments, instances, sites
from ranchersync.context import AppContext
from ranchersync.simulator import SimulatedRancher, parse_world
from ranchersync.sync.targets import NODE_CACHE
from tests.builders import ADMIN, CliRun, cli_runner
from tests.conftest import closed_port_url
from tests.core.registry_fixtures import PASSWORD, REV_NEW, REV_OLD, SOURCE, USER, Registries

pytest_plugins = ["tests.core.registry_fixtures"]

STAGE_CLUSTER, PROD_CLUSTER = "c-m-stage001", "c-m-prod0001"
SYNC = ("sync", "--from", "Stage", "--to", "Prod")


def deployment(name: str, namespace: str, image: str) -> dict[str, Any]:
    return {"kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}


@pytest.fixture
def prod_architecture() -> str:
    """The CPU of Prod's nodes (a test parametrizes it to promote into an arm64 cluster)."""
    return "amd64"


@pytest.fixture
def worlds(registries: Registries, prod_architecture: str) -> Iterator[tuple[str, SimulatedRancher, SimulatedRancher]]:
    """Stage on one simulated server, Prod on another; their images live in the test registry."""
    reg = registries.anonymous
    far = closed_port_url().removeprefix("http://")  # a registered registry that does not answer
    images = {"web": (f"{reg}/shop/web:2.4.0", f"{reg}/shop/web:2.3.0"),
              "typo": (f"{reg}/shop/web:2.4.1", f"{reg}/shop/web:2.3.0"),
              "arm": (f"{reg}/shop/armonly:1.0", f"{reg}/shop/web:2.3.0"),
              "multi": (f"{reg}/shop/multi:3.0", f"{reg}/shop/web:2.3.0"),
              "far": (f"{far}/shop/far:1.1", f"{far}/shop/far:1.0")}

    private = registries.basic  # htpasswd: the workloads' own pull secret holds its credentials
    images["private"] = (f"{private}/shop/web:2.4.0", f"{private}/shop/web:2.3.0")
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    config = json.dumps({"auths": {f"http://{private}": {"username": USER, "password": PASSWORD, "auth": auth}}})

    images["viasa"] = images["private"]  # the same private image, its pull secret given by its ServiceAccount

    def world(cluster: str, namespace: str, side: int, architecture: str = "amd64") -> Any:
        objects = [deployment(name, namespace, pair[side]) for name, pair in images.items()]
        objects[-2]["spec"]["template"]["spec"]["imagePullSecrets"] = [{"name": "regcred"}]
        objects[-1]["spec"]["template"]["spec"]["serviceAccountName"] = "builder"
        objects.append({"kind": "Secret", "metadata": {"name": "regcred", "namespace": namespace},
                        "type": "kubernetes.io/dockerconfigjson",
                        "data": {".dockerconfigjson": base64.b64encode(config.encode()).decode()}})
        objects.append({"kind": "ServiceAccount", "metadata": {"name": "builder", "namespace": namespace},
                        "imagePullSecrets": [{"name": "regcred"}]})
        return parse_world({"name": namespace, "clusters": [{
            "id": cluster, "name": namespace, "architecture": architecture, "objects": objects}]})

    with SimulatedRancher(world(STAGE_CLUSTER, "shop-stage", 0), rollout_seconds=0.3) as stage, \
            SimulatedRancher(world(PROD_CLUSTER, "shop-prod", 1, prod_architecture), rollout_seconds=0.3) as prod:
        # Stage's pods run the very bits the registry holds for 2.4.0 (as after a real pull).
        stage.repush_image(f"{reg}/shop/web:2.4.0", registries.images["shop/web:2.4.0"])
        yield far, stage, prod


@pytest.fixture
def shop(ctx: AppContext, registries: Registries, worlds: tuple[str, SimulatedRancher, SimulatedRancher]) -> AppContext:
    far, stage, prod = worlds
    with ctx.session() as session:
        for name, server in (("stage-site", stage), ("prod-site", prod)):
            sites.add_site(session, ctx.cipher, name=name, connection=sites.make_connection(server.url, server.token),
                           actor=ADMIN)
        for name in ("Stage", "Prod"):
            environments.add_environment(session, name=name, actor=ADMIN)
        registry.add_registry(session, ctx.cipher, actor=ADMIN, host=registries.anonymous, allow_http=True)
        registry.add_registry(session, ctx.cipher, actor=ADMIN, host=far, allow_http=True)
        registry.add_registry(session, ctx.cipher, actor=ADMIN, host=registries.basic, allow_http=True)
    for name, site, cluster, namespace, env in (("shop-stage", "stage-site", STAGE_CLUSTER, "shop-stage", "Stage"),
                                                ("shop-prod", "prod-site", PROD_CLUSTER, "shop-prod", "Prod")):
        with ctx.session() as session:
            placement = instances.check_placement(sites.get_site(session, site), ctx.cipher, cluster, namespace)
            instances.add_instance(session, name=name, site=site, environment=env, placement=placement, actor=ADMIN)
    registry.CACHE.clear()
    NODE_CACHE.clear()
    return ctx


@pytest.fixture
def cli(shop: AppContext, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> CliRun:
    return functools.partial(cli_runner(shop, monkeypatch, capsys), "releaser@corp.test")


def prod_image(prod: SimulatedRancher, name: str) -> str:
    obj = prod.get_object(PROD_CLUSTER, "Deployment", "shop-prod", name)
    assert obj is not None
    return str(obj["spec"]["template"]["spec"]["containers"][0]["image"])


def patches(server: SimulatedRancher, name: str) -> list[str]:
    return [p for m, p in server.requests_seen() if m == "PATCH" and p.endswith(f"/{name}")]


def items_by_service(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["serviceId"]: i for i in plan["items"]}


def test_the_plan_carries_digests_changelogs_and_the_registrys_refusals(cli, registries: Registries) -> None:
    status, out, err = cli(*SYNC, "--all-different", "--dry-run", "--json")
    assert status == 0, err
    items = items_by_service(json.loads(out))
    web = items["web"]["changes"][0]
    assert web["newDigest"] == registries.images["shop/web:2.4.0"]
    assert web["sourceDigest"] == web["newDigest"] and web["tagMoved"] is False
    assert web["changelog"]["fromRevision"] == REV_OLD and web["changelog"]["toRevision"] == REV_NEW
    assert web["changelog"]["compareUrl"] == f"{SOURCE}/compare/{REV_OLD}...{REV_NEW}"
    assert items["typo"]["skipReason"] == "not in the registry" and "2.4.1" in items["typo"]["detail"]
    assert items["arm"]["skipReason"] == "no image for the target's platform"
    assert "linux/arm64" in items["arm"]["detail"]
    assert items["far"]["skipReason"] is None  # an unreachable registry is a warning, not a refusal
    assert "could not be checked in its registry" in err
    status, out, _ = cli(*SYNC, "--all-different", "--dry-run")
    assert "commits a1b2c3d → e4f5a6b" in out and f"`{SOURCE}/compare/{REV_OLD}...{REV_NEW}`" in out


@pytest.mark.parametrize("prod_architecture", ["arm64"])
def test_the_nodes_platform_decides_which_images_may_be_promoted(cli, worlds, registries: Registries) -> None:
    """Prod's nodes are arm64 (read from Rancher): the single-platform amd64 image is refused, the index that has
    an arm64 variant and the arm64-only image pass; the nodes are read once for two plans."""
    _, _, prod = worlds
    status, out, err = cli(*SYNC, "--all-different", "--dry-run", "--json")
    assert status == 0, err
    items = items_by_service(json.loads(out))
    assert items["web"]["skipReason"] == "no image for the target's platform"
    assert "built for linux/amd64, not linux/arm64" in items["web"]["detail"] and "shop-prod" in items["web"]["detail"]
    assert items["multi"]["skipReason"] is None
    assert items["multi"]["changes"][0]["newDigest"] == registries.images["shop/multi:3.0"]
    assert items["arm"]["skipReason"] is None
    assert cli(*SYNC, "--service", "multi", "--dry-run")[0] == 0
    assert [p for m, p in prod.requests_seen() if m == "GET" and p.endswith("/api/v1/nodes")] == \
        [f"/k8s/clusters/{PROD_CLUSTER}/api/v1/nodes"]
    status, _, err = cli(*SYNC, "--service", "web", "--yes")
    assert status == 1 and "no image for the target's platform" in err and patches(prod, "web") == []
    status, _, err = cli(*SYNC, "--service", "multi", "--yes")
    assert status == 0, err
    assert prod_image(prod, "multi").endswith("/shop/multi:3.0")


def test_a_missing_tag_is_skipped_before_any_patch(cli, worlds) -> None:
    _, _, prod = worlds
    status, out, err = cli(*SYNC, "--service", "web", "--service", "typo", "--yes", "--json")
    assert status == 0, err
    assert patches(prod, "typo") == [] and prod_image(prod, "typo").endswith("/shop/web:2.3.0")
    assert len(patches(prod, "web")) >= 1 and prod_image(prod, "web").endswith("/shop/web:2.4.0")
    status, _, err = cli(*SYNC, "--service", "typo", "--yes")
    assert status == 1 and "not in the registry" in err
    assert patches(prod, "typo") == []


def test_a_moved_tag_is_flagged(cli, worlds, registries: Registries) -> None:
    _, stage, _ = worlds
    stage.repush_image(f"{registries.anonymous}/shop/web:2.4.0", "sha256:" + "0f" * 32)  # Stage ran other bits
    status, out, _ = cli(*SYNC, "--service", "web", "--dry-run", "--json")
    change = json.loads(out)["items"][0]["changes"][0]
    assert change["tagMoved"] is True and change["sourceDigest"] == "sha256:" + "0f" * 32
    _, out, _ = cli(*SYNC, "--service", "web", "--dry-run")
    assert "the tag moved since Stage was tested" in out


def test_pin_digests_patches_tag_at_digest_and_is_the_default_for_a_protected_target(
        cli, shop: AppContext, worlds, registries: Registries) -> None:
    _, _, prod = worlds
    digest = registries.images["shop/web:2.4.0"]
    status, out, err = cli(*SYNC, "--service", "web", "--pin-digests", "--dry-run", "--json")
    assert json.loads(out)["items"][0]["changes"][0]["newImage"].endswith(f"/shop/web:2.4.0@{digest}")
    with shop.session() as session:
        environments.update_environment(session, "Prod", protected=True, actor=ADMIN)
    status, out, err = cli(*SYNC, "--service", "web", "--confirm-env", "Prod", "--json")
    assert status == 0, err
    assert prod_image(prod, "web") == f"{registries.anonymous}/shop/web:2.4.0@{digest}"


def test_the_targets_pin_digests_setting_is_the_plans_default_and_an_explicit_flag_wins(
        cli, shop: AppContext, worlds, registries: Registries) -> None:
    _, _, prod = worlds
    pinned = f"{registries.anonymous}/shop/web:2.4.0@{registries.images['shop/web:2.4.0']}"

    def planned(*flags: str) -> str:
        status, out, err = cli(*SYNC, "--service", "web", "--dry-run", "--json", *flags)
        assert status == 0, err
        return str(json.loads(out)["items"][0]["changes"][0]["newImage"])

    assert planned() == f"{registries.anonymous}/shop/web:2.4.0"  # unprotected, nobody set it: by tag
    with shop.session() as session:
        environments.update_environment(session, "Prod", pin_digests=True, actor=ADMIN)
    assert planned() == pinned
    assert planned("--no-pin-digests") == f"{registries.anonymous}/shop/web:2.4.0"
    with shop.session() as session:  # protected, yet its setting says no: the setting wins over protection
        environments.update_environment(session, "Prod", protected=True, pin_digests=False, actor=ADMIN)
    assert planned() == f"{registries.anonymous}/shop/web:2.4.0"
    assert planned("--pin-digests") == pinned
    with shop.session() as session:
        environments.update_environment(session, "Prod", protected=False, pin_digests=True, actor=ADMIN)
    status, _, err = cli(*SYNC, "--service", "web", "--yes")
    assert status == 0, err
    assert prod_image(prod, "web") == pinned  # the target runs exactly the bits the registry holds for the tag


def test_an_approved_sync_patches_the_bound_digest(shop: AppContext, worlds, registries: Registries) -> None:
    from ranchersync import sync
    from ranchersync.approvals import requests as approvals

    _, _, prod = worlds
    with shop.session() as session:
        environments.update_environment(session, "Prod", required_approvals=1, actor=ADMIN)
        plan = sync.plan_environments(session, shop.cipher, "Stage", "Prod", services=["web"], pin_digests=False)
    assert not plan.to_apply[0].changes[0].new.count("@")  # asked by tag
    request = approvals.request_sync(shop, Actor("op@corp.test", "operator"), plan)
    decided = approvals.decide(shop, Actor("rel@corp.test", "releaser"), request.id, True)
    assert decided.status == "executed", decided.status_reason
    assert prod_image(prod, "web") == f"{registries.anonymous}/shop/web:2.4.0@{registries.images['shop/web:2.4.0']}"


def test_a_quarantined_digest_is_refused_in_every_plan_and_flagged_where_it_runs(
        cli, shop: AppContext, worlds, registries: Registries) -> None:
    _, stage, prod = worlds
    digest = registries.images["shop/web:2.4.0"]
    status, out, err = cli("quarantine", "add", f"{registries.anonymous}/shop/web@{digest}", "--reason",
                           "CVE-2026-0001 in libfoo", "--json")
    assert status == 0, err
    quarantine_id = json.loads(out)["id"]
    status, _, err = cli(*SYNC, "--service", "web", "--dry-run")
    assert status == 3 and "CVE-2026-0001 in libfoo" in err and "quarantined" in err
    status, _, err = cli(*SYNC, "--service", "web", "--yes", "--no-pin-digests")
    assert status == 3 and patches(prod, "web") == []
    status, out, _ = cli("quarantine", "list", "--json")
    running = json.loads(out)[0]["running"]
    assert [(r["environment"], r["appInstance"], r["service"]) for r in running] == [("Stage", "shop-stage", "web")]
    status, out, _ = cli("audit", "--json")
    assert "quarantine.add" in out
    status, _, err = cli("quarantine", "lift", str(quarantine_id), "--reason", "rebuilt without libfoo")
    assert status == 0, err
    status, _, err = cli(*SYNC, "--service", "web", "--yes")
    assert status == 0, err


def test_the_exporter_serves_where_quarantined_digests_run(cli, shop: AppContext, registries: Registries) -> None:
    from prometheus_client import generate_latest

    from ranchersync.ops.exporter import DatabaseCollector, make_registry

    digest = registries.images["shop/web:2.4.0"]
    assert cli("quarantine", "add", f"{registries.anonymous}/shop/web@{digest}", "--reason", "bad")[0] == 0
    assert cli("quarantine", "list")[0] == 0  # looks where it runs
    text = generate_latest(make_registry(DatabaseCollector(shop.engine, cache_seconds=0))).decode()
    assert f'ranchersync_quarantined_running{{image="{registries.anonymous}/shop/web@{digest}"}} 1.0' in text


def test_the_changelog_is_recorded_and_told_in_history_the_ticket_and_the_notification(
        cli, shop: AppContext) -> None:
    from sqlalchemy import select

    from ranchersync import notify, sync
    from ranchersync.models import OutboxMessage

    expected = "commits a1b2c3d → e4f5a6b"
    with shop.session() as session:
        notify.add_subscription(session, shop.cipher, ADMIN, environment="Prod",
                                url=closed_port_url().replace("http://", "json://") + "/hook",
                                events="sync.succeeded,sync.failed")
        plan = sync.plan_environments(session, shop.cipher, "Stage", "Prod", services=["web"])
    ticket = plan.to_markdown()
    assert expected in ticket and f"`{SOURCE}/compare/{REV_OLD}...{REV_NEW}`" in ticket
    status, out, err = cli(*SYNC, "--service", "web", "--yes", "--json")
    assert status == 0, err
    operation_id = json.loads(out)["id"]
    status, out, _ = cli("history", "show", str(operation_id), "--json")
    result = json.loads(out)["results"][0]
    change = result["containers"][0]["changelog"]
    assert (change["fromRevision"], change["toRevision"]) == (REV_OLD, REV_NEW)
    assert change["compareUrl"] == f"{SOURCE}/compare/{REV_OLD}...{REV_NEW}"
    assert result["changelog"].startswith(expected)
    status, out, _ = cli("history", "--json")
    listed = next(op for op in json.loads(out) if op["id"] == operation_id)
    assert listed["changelogs"]["web"].startswith(expected)
    with shop.session() as session:
        message = session.scalars(select(OutboxMessage).where(OutboxMessage.event == "sync.succeeded")).one()
        body = notify.render(message.event, message.payload).body
    assert "Changelog: commits a1b2c3d → e4f5a6b" in body and "version 2.3.0 → 2.4.0" in body


def test_a_sites_opt_in_lets_the_preflight_use_the_workloads_pull_secret_never_shown(
        cli, shop: AppContext, worlds, registries: Registries, caplog: pytest.LogCaptureFixture) -> None:
    """The basic-auth registry is registered without credentials: the workload's own imagePullSecrets, or those of
    its ServiceAccount when it names none (read through Rancher once the site opted in), let the preflight see the
    image; an account that cannot be read is a warning; the password is in no output, log or audit."""
    _, _, prod = worlds
    said: list[str] = []
    with caplog.at_level("DEBUG"):
        status, out, err = cli(*SYNC, "--service", "private", "--dry-run", "--json")
        said += [out, err]
        change = json.loads(out)["items"][0]["changes"][0]
        assert status == 0 and change["newDigest"] is None and "wants credentials" in err
        assert not [p for m, p in prod.requests_seen() if "/secrets/" in p], "no secret is read before the opt-in"
        status, out, err = cli("sites", "update", "prod-site", "--use-pull-secrets", "--json")
        said += [out, err]
        assert status == 0 and json.loads(out)["usePullSecrets"] is True
        status, out, err = cli(*SYNC, "--service", "private", "--dry-run", "--json")
        said += [out, err]
        change = json.loads(out)["items"][0]["changes"][0]
        assert change["newDigest"] == registries.images["shop/web:2.4.0"], err
        assert change["changelog"]["toRevision"] == REV_NEW
        assert [p for m, p in prod.requests_seen() if m == "GET" and p.endswith("/secrets/regcred")]
        status, out, err = cli(*SYNC, "--service", "private", "--yes", "--json")
        said += [out, err]
        assert status == 0, err
        assert prod_image(prod, "private").endswith("/shop/web:2.4.0")
        # A workload whose template names no pull secret: its ServiceAccount's (what Kubernetes gives its pods).
        status, out, err = cli(*SYNC, "--service", "viasa", "--dry-run", "--json")
        said += [out, err]
        change = json.loads(out)["items"][0]["changes"][0]
        assert status == 0 and change["newDigest"] == registries.images["shop/web:2.4.0"], err
        assert [p for m, p in prod.requests_seen() if m == "GET" and p.endswith("/serviceaccounts/builder")]
        prod.delete_object(PROD_CLUSTER, "ServiceAccount", "shop-prod", "builder")  # gone: a warning, no failure
        status, out, err = cli(*SYNC, "--service", "viasa", "--yes", "--json")
        said += [out, err]
        assert status == 0 and "the service account shop-prod/builder could not be read" in err, err
        assert prod_image(prod, "viasa").endswith("/shop/web:2.4.0")
        for command in (("history", "show", str(json.loads(out)["id"]), "--json"), ("audit", "--json"),
                        ("sites", "list", "--json"), ("registries", "list", "--json")):
            status, out, err = cli(*command)
            said += [out, err]
            assert status == 0, err
    with shop.session() as session:
        from sqlalchemy import text
        stored = [str(row) for table in ("audit_events", "sites", "registries", "sync_results", "sync_operations")
                  for row in session.execute(text(f"SELECT * FROM {table}"))]  # noqa: S608 - fixed names
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    for where, text_ in (("output", "\n".join(said)), ("logs", caplog.text), ("database", "\n".join(stored))):
        assert PASSWORD not in text_ and auth not in text_, f"the pull secret's password is in the {where}"
