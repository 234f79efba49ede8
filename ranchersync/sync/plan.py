"""Sync planning (pure): which target workloads change, container by container, and why others are skipped."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from ranchersync.inventory.reading import EnvironmentRef, Service
from ranchersync.kernel.errors import ValidationError
from ranchersync.kernel.images import RetagMode, parse_image, retag
from ranchersync.kernel.textsafe import escape_markdown, markdown_cell, markdown_code
from ranchersync.rancher import PROMOTABLE_KINDS, Workload
from ranchersync.registry import Changelog

# Why a selected service is left alone; the words users see.
SKIP_EQUAL = "already equal"
SKIP_MISSING = "missing in target"
SKIP_PAUSED = "workload paused"
SKIP_KIND = "not a promotable kind"
SKIP_MISMATCH = "container mismatch"
SKIP_SOURCE_DISAGREES = "source app instances disagree"
SKIP_AMBIGUOUS = "several target app instances"
SKIP_NOT_IN_REGISTRY = "not in the registry"
SKIP_PLATFORM = "no image for the target's platform"

# A target instance id, or every app instance of the target environment that runs the service.
TargetChoice = int | Literal["all"]


@dataclass(frozen=True)
class PlannedContainer:
    """One container of a target workload: its image now and the image the sync will set."""

    name: str
    init: bool
    current: str
    new: str
    # What the registry and the source's pods say (the preflight, `ranchersync.sync.preflight`); None: not known.
    new_digest: str | None = None  # what the new reference resolves to now
    source_digest: str | None = None  # what the source's pods run
    changelog: Changelog | None = None

    @property
    def changes(self) -> bool:
        return self.current != self.new

    @property
    def tag_moved(self) -> bool:
        """The tag resolves to other bits than the source's pods run: it moved since the source was tested."""
        return bool(self.new_digest and self.source_digest and self.new_digest != self.source_digest)

    def pinned(self, digest: str | None = None) -> PlannedContainer:
        """The same change promoting ``repo:tag@digest`` (default: what the source's pods run — the tested bits —
        else what the tag resolves to), so the target runs exactly those bits whatever the tag names at pull time."""
        digest = digest or self.source_digest or self.new_digest
        if not digest or not self.changes:
            return self
        return replace(self, new=str(parse_image(self.new).with_digest(digest)))


@dataclass(frozen=True)
class ServicePlan:
    """What the sync will do to one target workload, or why it will not."""

    kind: str
    name: str
    source: Service | None
    target: Service | None
    containers: tuple[PlannedContainer, ...] = ()
    skip_reason: str | None = None
    detail: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def will_change(self) -> bool:
        return self.skip_reason is None

    @property
    def changes(self) -> tuple[PlannedContainer, ...]:
        """Only the containers whose image changes."""
        return tuple(c for c in self.containers if c.changes)

    @property
    def target_label(self) -> str:
        """Where the change lands, as users name it."""
        return self.target.instance.name if self.target else "—"


@dataclass(frozen=True)
class SyncPlan:
    """The exact diff a sync will apply, shown in the confirmation before anything changes."""

    source: EnvironmentRef
    target: EnvironmentRef
    mode: RetagMode
    items: tuple[ServicePlan, ...]
    snapshot: str | None = None  # the snapshot the plan puts in place (a release train, a restore), if any

    @property
    def to_apply(self) -> tuple[ServicePlan, ...]:
        return tuple(i for i in self.items if i.will_change)

    @property
    def skipped(self) -> tuple[ServicePlan, ...]:
        return tuple(i for i in self.items if not i.will_change)

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(w for i in self.to_apply for w in i.warnings))

    def pinned(self) -> SyncPlan:
        """The plan promoting every change whose digest is known by that digest (`--pin-digests`)."""
        items = tuple(replace(i, containers=tuple(c.pinned() for c in i.containers)) if i.will_change else i
                      for i in self.items)
        return replace(self, items=items)

    def to_markdown(self) -> str:
        """The plan as a Markdown table, for a change ticket.

        Names and images come from Rancher and from users: each is text, never Markdown. Names and images are code
        spans (a fence longer than any backtick inside, `|` escaped so it cannot split a table cell); the skip details
        and warnings are escaped text.
        """
        mode = "tag only" if self.mode == "tag" else "full image"
        origin = f"snapshot {self.snapshot}" if self.snapshot else self.source.name
        lines = [
            f"### Sync {escape_markdown(origin)} → {escape_markdown(self.target.name)} ({mode})",
            "",
            "| Service | Kind | Target | Container | Current image | New image |",
            "|---|---|---|---|---|---|",
        ]
        for item in self.to_apply:
            for change in item.changes:
                init = " (init)" if change.init else ""
                cells = (_code_cell(item.name), escape_markdown(item.kind), _code_cell(item.target_label),
                         _code_cell(change.name) + init, _code_cell(change.current), _code_cell(change.new))
                lines.append(f"| {' | '.join(cells)} |")
        if self.skipped:
            lines += ["", "Skipped:", ""]
            lines += [f"- {markdown_code(i.name)} ({escape_markdown(i.target_label)}): {i.skip_reason}"
                      f"{': ' + escape_markdown(i.detail) if i.detail else ''}" for i in self.skipped]
        digests = [(item, change) for item in self.to_apply for change in item.changes
                   if change.new_digest or change.changelog is not None]
        if digests:
            lines += ["", "Images:", ""]
            for item, change in digests:
                where = escape_markdown(item.target_label)
                what = f"{markdown_code(item.name)} ({where}, {markdown_code(change.name)})"
                facts = []
                if change.new_digest:
                    facts.append(f"digest {markdown_code(change.new_digest)}")
                if change.tag_moved:
                    facts.append(f"**the tag moved since {escape_markdown(self.source.name)} was tested** (it runs "
                                 f"{markdown_code(change.source_digest or '')})")
                if change.changelog is not None:  # the link as code: it comes from a label, never Markdown
                    log = change.changelog
                    facts.append(escape_markdown(log.sentence(link=False)))
                    if log.compare_url or log.source:
                        facts.append(markdown_code(log.compare_url or log.source or ""))
                lines.append(f"- {what}: {'; '.join(facts)}")
        if self.warnings:
            lines += ["", "Warnings:", ""] + [f"- {escape_markdown(w)}" for w in self.warnings]
        return "\n".join(lines) + "\n"


def _code_cell(text: str) -> str:
    return markdown_cell(markdown_code(text))


def plan_sync(
    source: EnvironmentRef,
    target: EnvironmentRef,
    source_services: Sequence[Service],
    target_services: Sequence[Service],
    *,
    selected: Collection[tuple[str, str]] | None = None,
    mode: RetagMode = "full",
    targets: Mapping[tuple[str, str], TargetChoice] | None = None,
    default_target: TargetChoice | None = None,
) -> SyncPlan:
    """Plan promoting `selected` (kind, name) services — or, when None, every service that differs.

    A service held by several app instances of the target is ambiguous unless `targets` (per service) or
    `default_target` (for every service) names one app instance id, or "all".
    """
    if source.id == target.id:
        raise ValidationError("the source and the target environment must differ")
    if mode not in ("full", "tag"):
        raise ValidationError(f"unknown sync mode '{mode}': use full or tag")
    by_source: dict[tuple[str, str], list[Service]] = defaultdict(list)
    by_target: dict[tuple[str, str], list[Service]] = defaultdict(list)
    for s in source_services:
        by_source[s.key].append(s)
    for s in target_services:
        by_target[s.key].append(s)
    keys = sorted(by_source, key=lambda k: (k[1], k[0])) if selected is None else list(dict.fromkeys(selected))
    unknown = [f"{kind} {name}" for kind, name in keys if (kind, name) not in by_source]
    if unknown:
        raise ValidationError(f"not in {source.name}: {', '.join(unknown)}")
    items: list[ServicePlan] = []
    for key in keys:
        choice = (targets or {}).get(key, default_target)
        items.extend(_plan_service(key, by_source[key], by_target.get(key, []), mode, choice))
    if selected is None:  # "everything that differs": equal services are noise here
        items = [i for i in items if i.skip_reason != SKIP_EQUAL]
    return SyncPlan(source, target, mode, tuple(items))


def _plan_service(
    key: tuple[str, str], sources: list[Service], targets: list[Service], mode: RetagMode, choice: TargetChoice | None
) -> list[ServicePlan]:
    kind, name = key
    source = sources[0]
    if kind not in PROMOTABLE_KINDS:
        return [ServicePlan(kind, name, source, None, skip_reason=SKIP_KIND,
                            detail=f"{kind}s are read-only for now")]
    if len({_images(s.workload) for s in sources}) > 1:
        names = ", ".join(s.instance.name for s in sources)
        return [ServicePlan(kind, name, source, None, skip_reason=SKIP_SOURCE_DISAGREES,
                            detail=f"{names} run different images: align the source first")]
    if not targets:
        return [ServicePlan(kind, name, source, None, skip_reason=SKIP_MISSING)]
    if len(targets) > 1 and choice is None:
        names = ", ".join(t.instance.name for t in targets)
        return [ServicePlan(kind, name, source, None, skip_reason=SKIP_AMBIGUOUS,
                            detail=f"{names} all run it: pick one, or all")]
    if choice not in (None, "all"):
        targets = [t for t in targets if t.instance.id == choice]
        if not targets:
            return [ServicePlan(kind, name, source, None, skip_reason=SKIP_MISSING,
                                detail="the chosen app instance does not run it")]
    return [_plan_target(kind, name, source, t, mode) for t in targets]


def _plan_target(kind: str, name: str, source: Service, target: Service, mode: RetagMode) -> ServicePlan:
    warnings = gitops_warnings(target.workload)
    if target.workload.paused:
        return ServicePlan(kind, name, source, target, skip_reason=SKIP_PAUSED,
                           detail="resume it in Rancher first: a paused rollout never progresses")
    source_images = {(c.name, c.init): c.image for c in source.workload.containers}
    target_images = {(c.name, c.init): c.image for c in target.workload.containers}
    missing = [n for n, init in source_images if (n, init) not in target_images]
    if missing:
        return ServicePlan(kind, name, source, target, skip_reason=SKIP_MISMATCH,
                           detail=f"the target has no container {', '.join(repr(m) for m in missing)}")
    try:
        changes = tuple(
            PlannedContainer(n, init, target_images[(n, init)], retag(target_images[(n, init)], image, mode))
            for (n, init), image in source_images.items()
        )
    except ValidationError as error:
        return ServicePlan(kind, name, source, target, skip_reason="invalid image", detail=str(error))
    if not any(c.changes for c in changes):
        return ServicePlan(kind, name, source, target, changes, skip_reason=SKIP_EQUAL)
    return ServicePlan(kind, name, source, target, changes, warnings=warnings)


def _images(workload: Workload) -> tuple[tuple[str, bool, str], ...]:
    return tuple(sorted((c.name, c.init, c.image) for c in workload.containers))


# Labels and annotations of tools that reconcile a workload back to what they manage.
_MANAGERS: tuple[tuple[str, str, str | None, str], ...] = (
    ("annotation", "argocd.argoproj.io/tracking-id", None, "Argo CD"),
    ("label", "argocd.argoproj.io/instance", None, "Argo CD"),
    ("annotation", "objectset.rio.cattle.io/id", None, "Fleet"),
    ("label", "objectset.rio.cattle.io/hash", None, "Fleet"),
    ("label", "app.kubernetes.io/managed-by", "Helm", "Helm"),
    ("annotation", "meta.helm.sh/release-name", None, "Helm"),
    ("annotation", "keel.sh/policy", None, "Keel"),
    ("label", "keel.sh/policy", None, "Keel"),
)


def gitops_warnings(workload: Workload) -> tuple[str, ...]:
    """Warn when a tool manages the workload and may revert (or overwrite) the promoted image."""
    found: list[str] = []
    for where, key, value, tool in _MANAGERS:
        values = workload.annotations if where == "annotation" else workload.labels
        if key in values and (value is None or values[key] == value) and tool not in found:
            found.append(tool)
    return tuple(
        f"{workload.name} is managed by {tool} ({'its next sync' if tool != 'Keel' else 'its policy'} may revert "
        "this change: promote through its source instead, or accept the drift)"
        for tool in found
    )
