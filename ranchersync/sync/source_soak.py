"""Promotion policy: a version enters an environment only after it has run in the source for the environment's
`--min-source-soak`, with the source's gates passed (DESIGN.md, "Verification gates, soak and promotion policy").

How long a version has run in the source is the later of two facts, where known: when a sync of ours brought it
there (its first arrival, `version_arrivals`) and when its rollout there completed (the Deployment's Progressing
condition turns NewReplicaSetAvailable when the new ReplicaSet is available; its lastUpdateTime is that moment).
Neither known, the time is unknown and the version is refused: the policy never guesses in favour of promoting.
When the source has gates, the sync that brought the version must have passed them (a version that arrived another
way never ran them). A releaser may override with a reason (audited), as for an unhealthy source.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ranchersync.access.identity import Actor
from ranchersync.inventory.compare import Comparison
from ranchersync.inventory.payloads import ComparisonPayload, PromotionPayload
from ranchersync.inventory.reading import Service
from ranchersync.kernel.errors import RefusedByPolicy
from ranchersync.kernel.humanize import duration_text
from ranchersync.models import Measurement, SoakSetting, VersionArrival
from ranchersync.sync.plan import ServicePlan, SyncPlan
from ranchersync.sync.source_health import refuse_or_override
from ranchersync.verification.gates import effective_gates


@dataclass(frozen=True)
class SoakShortfall:
    """Why one version may not enter the target yet."""

    service: str
    reason: str  # "has run in Stage for 12 min of 1 h (48 min left)"

    @property
    def sentence(self) -> str:
        return f"{self.service} {self.reason}"


class SourceNotSoaked(RefusedByPolicy):
    """A version has not run in the source for the target's minimum soak, or has not passed the source's gates."""

    kind = "source_not_soaked"
    default_title = "The version has not soaked in the source yet"
    default_hint = ("Promote it once it has run in the source for the target's --min-source-soak with its gates "
                    "passed. A releaser may override this with a reason, which is audited (CLI: --override-policy "
                    "--reason \"…\").")


def running_since(session: Session, environment_id: int, service: Service, image: str) -> dt.datetime | None:
    """Since when this version has run in this environment: the later of its arrival by a sync and the completion
    of its rollout there, whichever are known; None when neither is."""
    arrived = session.scalar(select(func.min(VersionArrival.arrived_at)).where(
        VersionArrival.environment_id == environment_id, VersionArrival.service == service.name,
        VersionArrival.image == image))
    progressing = service.workload.condition("Progressing")
    rolled_out = (progressing.last_update if progressing is not None and progressing.status == "True"
                  and progressing.reason == "NewReplicaSetAvailable" else None)
    known = [t for t in (arrived, rolled_out) if t is not None]
    return max(known) if known else None


def soak_shortfalls(session: Session, plan: SyncPlan, now: dt.datetime) -> tuple[SoakShortfall, ...]:
    """Every version of the plan that may not enter its target yet (none when the target sets no minimum)."""
    setting = session.get(SoakSetting, plan.target.id)
    minimum = setting.min_source_soak_seconds if setting is not None else 0
    if not minimum or plan.source.id is None:
        return ()
    found: dict[str, SoakShortfall] = {}
    for item in plan.to_apply:
        if item.source is None or item.name in found:
            continue
        image = _source_image(item)
        where = plan.source.name
        since = running_since(session, plan.source.id, item.source, image) if image else None
        if since is None:
            found[item.name] = SoakShortfall(item.name, f"has no known start in {where} (neither a sync of ours "
                                                        "nor a completed rollout records it)")
            continue
        ran = (now - since).total_seconds()
        if ran < minimum:
            found[item.name] = SoakShortfall(
                item.name, f"has run in {where} for {duration_text(ran)} of {duration_text(minimum)} "
                           f"({duration_text(minimum - ran)} left)")
        elif (effective_gates(session, plan.source.id, item.name)
              and not _passed_gates(session, plan.source.id, item.name, image or "")):
            found[item.name] = SoakShortfall(item.name, f"has not passed the gates of {where} (it did not arrive "
                                                        "there by a verified sync, or a gate failed)")
    return tuple(found.values())


def check_source_soak(session: Session, actor: Actor, plan: SyncPlan, override_reason: str | None,
                      now: dt.datetime) -> None:
    """Refuse a plan with a version that has not soaked in the source (SourceNotSoaked, exit 3), unless a releaser
    or an admin gives a reason: the override is audited in the caller's transaction (`policy.override`)."""
    shortfalls = soak_shortfalls(session, plan, now)
    if not shortfalls:
        return
    refuse_or_override(session, actor, plan, override_reason, SourceNotSoaked, "min_source_soak",
                       [s.sentence for s in shortfalls])


def _source_image(item: ServicePlan) -> str | None:
    """The source's image of the first container the plan changes (the one history records as `new_image`)."""
    assert item.source is not None
    changed = [c for c in item.containers if c.current != c.new] or list(item.containers)
    return item.source.images.get(changed[0].name) if changed else None


def _passed_gates(session: Session, environment_id: int, service: str, image: str) -> bool:
    """Whether the sync that brought this version into the environment verified it: its result succeeded (a failed
    verification fails the result, and a failed result is no arrival) with measurements recorded."""
    arrival = session.scalar(select(VersionArrival).where(
        VersionArrival.environment_id == environment_id, VersionArrival.service == service,
        VersionArrival.image == image).order_by(VersionArrival.arrived_at))
    return arrival is not None and bool(session.scalar(
        select(func.count()).select_from(Measurement).where(Measurement.result_id == arrival.result_id)))


@dataclass(frozen=True)
class Readiness:
    """How long the version a comparison cell shows has run in its environment, against the next environment's
    `--min-source-soak`, and whether it passed its gates there: "ready to promote in 40 min"."""

    service: str
    environment: str  # where it runs (the source of the next promotion)
    target: str  # the next environment, whose minimum applies
    running_seconds: float | None  # None: no known start (the policy refuses it)
    minimum_seconds: int
    gated: bool  # the environment has gates for this service
    gates_passed: bool

    @property
    def left_seconds(self) -> float | None:
        """How long until it may enter the target on time alone (0 once it may); None when the start is unknown."""
        return None if self.running_seconds is None else max(0.0, self.minimum_seconds - self.running_seconds)

    @property
    def ready(self) -> bool:
        """Whether the policy would let it enter the target now."""
        return self.left_seconds == 0 and (self.gates_passed or not self.gated)

    @property
    def text(self) -> str:
        """"ready to promote in 40 min", "ran 2 h, gates passed", "ran 2 h, gates not passed", "start unknown"."""
        if self.running_seconds is None:
            return "start unknown"
        if self.left_seconds:  # in whole minutes past the first: a cell is read at a glance, and it is never early
            left = self.left_seconds if self.left_seconds < 60 else math.ceil(self.left_seconds / 60) * 60
            return f"ready to promote in {duration_text(left)}"
        seconds = self.running_seconds
        ran = f"ran {duration_text(seconds // 60 * 60 if seconds >= 60 else seconds)}"
        if not self.gated:
            return ran
        return f"{ran}, gates passed" if self.gates_passed else f"{ran}, gates not passed"

    def payload(self) -> PromotionPayload:
        """As `services compare --json` and the API show it, per cell (`promotion`)."""
        return {"target": self.target, "runningSeconds": self.running_seconds, "minimumSeconds": self.minimum_seconds,
                "leftSeconds": self.left_seconds, "gated": self.gated, "gatesPassed": self.gates_passed,
                "ready": self.ready, "text": self.text}


def promotion_readiness(session: Session, comparison: Comparison, now: dt.datetime
                        ) -> dict[tuple[str, str, str], Readiness]:
    """For each cell whose next environment (in the comparison's pipeline order) sets a minimum source soak: how the
    version it runs stands against it, by (kind, service, environment). The same facts as the policy's refusal."""
    envs = comparison.environments
    minimums = {s.environment_id: s.min_source_soak_seconds for s in session.scalars(
        select(SoakSetting).where(SoakSetting.environment_id.in_([e.id for e in envs])))}
    found: dict[tuple[str, str, str], Readiness] = {}
    for j, (env, target) in enumerate(zip(envs, envs[1:], strict=False)):
        minimum = minimums.get(target.id) or 0
        if not minimum:
            continue
        for row in comparison.rows:
            cell = row.cells[j]
            if not cell.services or not row.promotable:
                continue
            service = cell.services[0]
            image = next(iter(service.images.values()), "")
            since = running_since(session, env.id, service, image) if image else None
            gated = bool(effective_gates(session, env.id, row.name))
            found[(row.kind, row.name, env.name)] = Readiness(
                row.name, env.name, target.name, None if since is None else (now - since).total_seconds(), minimum,
                gated, gated and _passed_gates(session, env.id, row.name, image))
    return found


def add_readiness(payload: ComparisonPayload, readiness: dict[tuple[str, str, str], Readiness]) -> None:
    """Fill each cell's `promotion` of a comparison payload (the CLI's and the API's alike)."""
    for row in payload["services"]:
        for name, cell in row["environments"].items():
            found = readiness.get((row["workloadType"], row["name"], name))
            cell["promotion"] = found.payload() if found else None
