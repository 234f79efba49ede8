"""JSON shape of a sync plan: what `sync --dry-run --json` prints."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from ranchersync.registry import ChangelogPayload

if TYPE_CHECKING:
    from ranchersync.sync.plan import SyncPlan


class PlannedChange(TypedDict):
    container: str
    init: bool
    previousImage: str | None
    newImage: str
    newDigest: str | None
    sourceDigest: str | None
    tagMoved: bool
    changelog: ChangelogPayload | None


class PlanItem(TypedDict):
    serviceId: str
    workloadType: str
    targetAppInstanceId: int | None
    targetAppInstance: str | None
    sourceAppInstanceId: int | None
    changes: list[PlannedChange]
    skipReason: str | None
    detail: str | None


class PlanPayload(TypedDict):
    """`sync --dry-run --json` and the API's dry run: what a sync would change (the OpenAPI schema is made from
    these types)."""

    sourceEnvironmentId: int
    targetEnvironmentId: int
    sourceEnvironment: str
    targetEnvironment: str
    mode: str
    serviceIds: list[str]
    warnings: list[str]
    markdown: str  # the plan as the CLI prints it: the remote CLI prints this very text
    items: list[PlanItem]


def plan_payload(plan: SyncPlan) -> PlanPayload:
    """A sync plan: what `sync --dry-run --json` prints."""
    return {
        "sourceEnvironmentId": plan.source.id,
        "targetEnvironmentId": plan.target.id,
        "sourceEnvironment": plan.source.name,
        "targetEnvironment": plan.target.name,
        "mode": plan.mode,
        "serviceIds": sorted({i.name for i in plan.to_apply}),
        "warnings": list(plan.warnings),
        # The plan as the CLI prints it (a change ticket's table): the remote CLI prints this very text.
        "markdown": plan.to_markdown(),
        "items": [
            {
                "serviceId": i.name,
                "workloadType": i.kind,
                "targetAppInstanceId": i.target.instance.id if i.target else None,
                "targetAppInstance": i.target.instance.name if i.target else None,
                "sourceAppInstanceId": i.source.instance.id if i.source else None,
                "changes": [{"container": c.name, "init": c.init, "previousImage": c.current, "newImage": c.new,
                             "newDigest": c.new_digest, "sourceDigest": c.source_digest, "tagMoved": c.tag_moved,
                             "changelog": c.changelog.payload() if c.changelog is not None else None}
                            for c in i.changes],
                "skipReason": i.skip_reason,
                "detail": i.detail or None,
            }
            for i in plan.items
        ],
    }
