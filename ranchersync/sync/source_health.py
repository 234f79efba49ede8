"""Whether a sync's source is fit to be promoted (DESIGN.md, "Operations as server-side jobs; policy refusals").

A source workload that is failed, updating, paused or degraded, or whose pods run different digests of a container,
is not what the target should become: the sync is refused (SourceUnhealthy, exit 3) unless a releaser or an admin
overrides the policy with a reason, which is audited. Pure, except for the audit of an override.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from sqlalchemy.orm import Session

from ranchersync.access import audit
from ranchersync.access.identity import Actor, require
from ranchersync.inventory.reading import Service
from ranchersync.kernel.errors import RefusedByPolicy, ValidationError
from ranchersync.sync.plan import SyncPlan

REFUSED_STATUSES: Final = ("failed", "updating", "paused", "degraded")
REASON_MAX_LENGTH: Final = 500


@dataclass(frozen=True)
class SourceProblem:
    """Why one source workload of a plan is not fit to be promoted."""

    service: str
    instance: str  # the source app instance's name
    environment: str
    reason: str  # "failed", "pods run different digests of app (sha256:1a2b…, sha256:3c4d…)"

    @property
    def sentence(self) -> str:
        return f"{self.service} in {self.environment} ({self.instance}) is {self.reason}"


class SourceUnhealthy(RefusedByPolicy):
    """A source workload of the sync is failed, updating, paused or degraded, or its pods run mixed digests."""

    kind = "source_unhealthy"
    default_title = "The source is not healthy"
    default_hint = ("Promote a version once it runs healthy in the source. A releaser may override this with a "
                    "reason, which is audited (CLI: --override-policy --reason \"…\").")


def problem_of(service: Service, environment: str) -> SourceProblem | None:
    """Why this source workload is not fit to be promoted, or None."""
    if service.status in REFUSED_STATUSES:
        return SourceProblem(service.name, service.instance.name, environment, service.status)
    if service.running is not None and service.running.mixed:
        mixed = [(name, digests) for name, digests in service.running.digests if len(digests) > 1]
        listed = "; ".join(f"{name}: {', '.join(d.removeprefix('sha256:')[:12] + '…' for d in digests)}"
                           for name, digests in mixed)
        return SourceProblem(service.name, service.instance.name, environment,
                             f"running pods with different digests ({listed})")
    return None


def source_problems(plan: SyncPlan) -> tuple[SourceProblem, ...]:
    """Every source workload of the plan's changes that is not fit to be promoted, each once."""
    seen: dict[tuple[int, str, str], SourceProblem] = {}
    for item in plan.to_apply:
        source = item.source
        if source is None or (source.instance.id, source.kind, source.name) in seen:
            continue
        problem = problem_of(source, plan.source.name)
        if problem is not None:
            seen[(source.instance.id, source.kind, source.name)] = problem
    return tuple(seen.values())


def healthy_since(service: Service) -> dt.datetime | None:
    """Since when a healthy source workload has been available (its Available condition's last transition), or None
    when it is not healthy or that is not known."""
    if service.status != "running":
        return None
    available = service.workload.condition("Available")
    if available is None or available.status != "True":
        return None
    return available.last_transition


def health_lines(plan: SyncPlan) -> list[str]:
    """One line per source service of the plan: "checkout: healthy in Stage since 2024-09-02 08:14 UTC", or what is
    wrong with it."""
    lines: dict[str, str] = {}
    for item in plan.to_apply:
        source = item.source
        if source is None or source.name in lines:
            continue
        problem = problem_of(source, plan.source.name)
        if problem is not None:
            lines[source.name] = f"{source.name}: {problem.reason} in {plan.source.name}"
            continue
        since = healthy_since(source)
        lines[source.name] = (f"{source.name}: healthy in {plan.source.name}"
                              + (f" since {since:%Y-%m-%d %H:%M} UTC" if since else ""))
    return list(lines.values())


def check_source_health(session: Session, actor: Actor, plan: SyncPlan, override_reason: str | None) -> None:
    """Refuse a plan whose source is not fit (SourceUnhealthy, exit 3), unless a releaser or an admin gives a reason
    to override the policy: the override is audited in the caller's transaction (`policy.override`)."""
    problems = source_problems(plan)
    if not problems:
        return
    refuse_or_override(session, actor, plan, override_reason, SourceUnhealthy, "source_health",
                       [p.sentence for p in problems])


def refuse_or_override(session: Session, actor: Actor, plan: SyncPlan, override_reason: str | None,
                       refusal: type[RefusedByPolicy], policy: str, problems: list[str]) -> None:
    """A promotion policy found `problems`: refuse (`refusal`, exit 3) naming them, unless a releaser or an admin
    gives a reason, which is audited in the caller's transaction (`policy.override`, naming the policy)."""
    reason = (override_reason or "").strip()
    if not reason:
        raise refusal(f"refusing to promote from {plan.source.name} into {plan.target.name}: {'; '.join(problems)}")
    require(actor, "override_policy")
    check_reason(reason)
    audit.record(session, actor, "policy.override", object_type="environment", object_id=plan.target.id,
                 object_name=plan.target.name, after={"policy": policy, "source": plan.source.name,
                                                      "problems": problems}, detail=reason)


def check_reason(reason: str) -> None:
    """An override's reason: one line of at most REASON_MAX_LENGTH characters (it is audited and shown)."""
    if len(reason) > REASON_MAX_LENGTH or any(ord(c) < 32 or ord(c) == 127 for c in reason):
        raise ValidationError(f"the reason must be one line of at most {REASON_MAX_LENGTH} characters")
