"""The sync plan (pure): per-container diffs, skip reasons, target choice, modes and warnings."""

from __future__ import annotations

import pytest

from ranchersync.inventory.reading import EnvironmentRef
from ranchersync.kernel.errors import ValidationError
from ranchersync.sync import plan_sync
from tests.builders import service

STAGE, PROD = EnvironmentRef(2, "Stage", "#0072B2", 1), EnvironmentRef(3, "Prod", "#D55E00", 2)
REG = "registry.example.com:5000/shop"


def one(source, target, **kwargs):
    plan = plan_sync(STAGE, PROD, source, target, selected=[("Deployment", "api")], **kwargs)
    assert len(plan.items) == 1
    return plan.items[0]


@pytest.mark.parametrize(
    ("source", "target", "reason"),
    [
        ({"image": f"{REG}/api:2"}, {"image": f"{REG}/api:2"}, "already equal"),
        ({"image": f"{REG}/api:2"}, None, "missing in target"),
        ({"image": f"{REG}/api:2"}, {"image": f"{REG}/api:1", "paused": True}, "workload paused"),
        ({"containers": {"api": f"{REG}/api:2", "sidecar": "envoy:1"}}, {"containers": {"api": f"{REG}/api:1"}},
         "container mismatch"),
        ({"image": f"{REG}/api:2", "init": {"migrate": f"{REG}/api:2"}}, {"image": f"{REG}/api:1"},
         "container mismatch"),
    ],
)
def test_skip_reasons(source, target, reason) -> None:
    targets = [service(3, "prod", "api", **target)] if target else []
    item = one([service(2, "stage", "api", **source)], targets)
    assert (item.will_change, item.skip_reason) == (False, reason)


def test_every_container_is_listed_with_current_and_new_image_init_containers_included() -> None:
    source = service(2, "stage", "api", containers={"api": f"{REG}/api:2", "envoy": "envoy:1.31"},
                     init={"migrate": f"{REG}/api-migrate:2"})
    target = service(3, "prod", "api", containers={"api": f"{REG}/api:1", "envoy": "envoy:1.31", "extra": "x:1"},
                     init={"migrate": f"{REG}/api-migrate:1"})
    item = one([source], [target])
    assert item.will_change
    assert [(c.name, c.init, c.current, c.new) for c in item.changes] == [
        ("api", False, f"{REG}/api:1", f"{REG}/api:2"),
        ("migrate", True, f"{REG}/api-migrate:1", f"{REG}/api-migrate:2"),
    ]
    assert {c.name for c in item.containers} == {"api", "envoy", "migrate"}  # an extra target container is left alone


def test_tag_mode_keeps_the_target_registry() -> None:
    item = one([service(2, "stage", "api", "stage-reg.io/team/api:2.0")], [service(3, "prod", "api", f"{REG}/api:1.0")],
               mode="tag")
    assert item.changes[0].new == f"{REG}/api:2.0"
    full = one([service(2, "stage", "api", "stage-reg.io/team/api:2.0")], [service(3, "prod", "api", f"{REG}/api:1.0")])
    assert full.changes[0].new == "stage-reg.io/team/api:2.0"


def test_several_target_instances_need_a_choice() -> None:
    source = [service(2, "stage", "api", f"{REG}/api:2")]
    targets = [service(3, "east", "api", f"{REG}/api:1", instance_id=31),
               service(3, "west", "api", f"{REG}/api:1", instance_id=32)]
    ambiguous = one(source, targets)
    assert ambiguous.skip_reason == "several target app instances" and "east, west" in ambiguous.detail
    chosen = plan_sync(STAGE, PROD, source, targets, selected=[("Deployment", "api")],
                       targets={("Deployment", "api"): 32})
    assert [i.target_label for i in chosen.to_apply] == ["west"]
    everywhere = plan_sync(STAGE, PROD, source, targets, selected=[("Deployment", "api")], default_target="all")
    assert [i.target_label for i in everywhere.to_apply] == ["east", "west"]


def test_source_instances_that_disagree_are_not_promoted() -> None:
    source = [service(2, "a", "api", f"{REG}/api:2"), service(2, "b", "api", f"{REG}/api:3")]
    assert one(source, [service(3, "prod", "api", f"{REG}/api:1")]).skip_reason == "source app instances disagree"


def test_cronjobs_are_read_only_for_now() -> None:
    source = [service(2, "stage", "report", f"{REG}/report:2", kind="CronJob")]
    target = [service(3, "prod", "report", f"{REG}/report:1", kind="CronJob")]
    plan = plan_sync(STAGE, PROD, source, target, selected=[("CronJob", "report")])
    assert plan.items[0].skip_reason == "not a promotable kind"


def test_everything_that_differs_leaves_out_equal_services() -> None:
    source = [service(2, "s", "api", f"{REG}/api:2"), service(2, "s", "web", f"{REG}/web:1")]
    target = [service(3, "p", "api", f"{REG}/api:1"), service(3, "p", "web", f"{REG}/web:1")]
    plan = plan_sync(STAGE, PROD, source, target)
    assert [i.name for i in plan.items] == ["api"]


@pytest.mark.parametrize(
    ("labels", "annotations", "tool"),
    [
        ({}, {"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:ns/api"}, "Argo CD"),
        ({"objectset.rio.cattle.io/hash": "abc"}, {}, "Fleet"),
        ({"app.kubernetes.io/managed-by": "Helm"}, {}, "Helm"),
        ({}, {"keel.sh/policy": "minor"}, "Keel"),
    ],
)
def test_managed_targets_are_warned_about(labels, annotations, tool) -> None:
    target = service(3, "prod", "api", f"{REG}/api:1", labels=labels, annotations=annotations)
    item = one([service(2, "stage", "api", f"{REG}/api:2")], [target])
    assert item.will_change and len(item.warnings) == 1 and tool in item.warnings[0]


def test_unmanaged_targets_get_no_warning() -> None:
    target = service(3, "prod", "api", f"{REG}/api:1", labels={"app.kubernetes.io/managed-by": "kustomize"})
    assert one([service(2, "stage", "api", f"{REG}/api:2")], [target]).warnings == ()


def test_bad_requests_are_refused() -> None:
    with pytest.raises(ValidationError, match="must differ"):
        plan_sync(STAGE, STAGE, [], [])
    with pytest.raises(ValidationError, match="not in Stage: Deployment ghost"):
        plan_sync(STAGE, PROD, [], [], selected=[("Deployment", "ghost")])


def test_markdown_for_a_change_ticket() -> None:
    plan = plan_sync(STAGE, PROD, [service(2, "s", "api", f"{REG}/api:2"), service(2, "s", "web", f"{REG}/web:2")],
                     [service(3, "p", "api", f"{REG}/api:1")], selected=[("Deployment", "api"), ("Deployment", "web")])
    text = plan.to_markdown()
    assert "### Sync Stage → Prod (full image)" in text
    assert f"| `api` | Deployment | `p` | `app` | `{REG}/api:1` | `{REG}/api:2` |" in text
    assert "- `web` (—): missing in target" in text
