"""A few weeks of plausible history for the demo, so the Sync history's charts, the drift report and the delivery
report say something on first launch: Dev → Stage and Stage → Prod promotions, a failed Prod sync rolled back, lead
times between Stage and Prod. Written once, straight through the models, and consistent with what the simulated
servers run now: the last successful sync of each service into each app instance brought its current image."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ranchersync.access import audit
from ranchersync.access.identity import SYSTEM, Actor
from ranchersync.history import arrivals
from ranchersync.models import AppInstance, Environment, SyncOperation, SyncResult
from ranchersync.simulator.world import DEMO_WORLD_NAMES, load_demo_world

PEOPLE = ("ana@example.com", "ben@example.com", "chris@example.com")
WEEKS = 4
_TAG = re.compile(r"^(?P<head>.*:)(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)$")
FAILED_SERVICE = "checkout"  # its next version failed in Prod and was rolled back


@dataclass(frozen=True)
class _Copy:
    instance: AppInstance
    env: Environment
    kind: str
    name: str
    image: str


def older(image: str, steps: int) -> str | None:
    """The image `steps` patch (or minor) versions before this one; None when its tag is not x.y.z."""
    match = _TAG.match(image)
    if match is None:
        return None
    major, minor, patch = int(match["major"]), int(match["minor"]), int(match["patch"])
    for _ in range(steps):
        if patch > 0:
            patch -= 1
        elif minor > 0:
            minor, patch = minor - 1, 3
        else:
            return None
    return f"{match['head']}{major}.{minor}.{patch}"


def newer(image: str) -> str | None:
    """The next patch version."""
    match = _TAG.match(image)
    return None if match is None else f"{match['head']}{match['major']}.{match['minor']}.{int(match['patch']) + 1}"


def fill_history(session: Session, now: dt.datetime) -> int:
    """Write the demo's history unless any operation exists; returns how many operations were written."""
    if session.scalar(select(func.count()).select_from(SyncOperation)):
        return 0
    rng = random.Random(20261201)
    envs = {e.name: e for e in session.scalars(select(Environment))}
    if not {"Dev", "Stage", "Prod"} <= set(envs):
        return 0
    copies = _copies(session, envs)
    start = (now - dt.timedelta(weeks=WEEKS)).replace(hour=9, minute=0, second=0, microsecond=0)
    services = sorted({c.name for c in copies})
    offsets = {name: rng.uniform(0, 5) for name in services}
    written = 0
    for env_name, source, delay in (("Stage", "Dev", 0.0), ("Prod", "Stage", 2.5)):
        for name in services:
            mine = [c for c in copies if c.env.name == env_name and c.name == name]
            if not mine:
                continue
            # Two promotions per service: 3 and 1.5 weeks ago (Prod a few days after Stage), ending at today's image.
            for step, days in ((2, 7.0), (1, 16.5)):
                at = _working_hours(start + dt.timedelta(days=days + offsets[name] + delay), rng, now)
                moves = [(c, older(c.image, step), older(c.image, step - 1)) for c in mine]
                moves = [(c, a, b) for c, a, b in moves if a and b]
                if moves:
                    _operation(session, envs, source, env_name, moves, at, rng, "complete")
                    written += 1
    # The failure and its automatic rollback: Prod tried Stage's checkout, the rollout never became ready.
    failing = [c for c in copies if c.env.name == "Prod" and c.name == FAILED_SERVICE]
    moves = [(c, c.image, newer(c.image)) for c in failing]
    if moves and all(b for _, _, b in moves):
        at = _working_hours(now - dt.timedelta(days=4), rng, now)
        _operation(session, envs, "Stage", "Prod", moves, at, rng, "rolled_back")
        written += 1
    session.flush()
    _audit_trail(session)
    # Written as history, not by syncs: the first arrivals the lead time reads are derived from it here.
    arrivals.rebuild(session)
    return written


def _audit_trail(session: Session) -> None:
    """The audit events the operations would have made, in the order they happened: who started each (on the
    dashboard) and how it ended."""
    happened = []
    for operation in session.scalars(select(SyncOperation)):
        starter = Actor(operation.initiated_by, "releaser" if operation.target_environment_name == "Prod"
                        else "operator", "dashboard")
        happened.append((operation.started_at, 0, operation, starter))
        happened.append((operation.finished_at, 1, operation, SYSTEM))
    for at, finished, operation, actor in sorted(happened, key=lambda h: (h[0], h[1], h[2].id)):
        if finished:
            audit.record(session, actor, f"{operation.kind}.finished", object_type="operation",
                         object_id=operation.id, object_name=operation.target_environment_name,
                         after={"status": operation.status, "rollbackReason": operation.rollback_reason,
                                "initiatedBy": operation.initiated_by},
                         detail=operation.error or operation.status, at=at)
        else:
            audit.record(session, actor, f"{operation.kind}.start", object_type="operation",
                         object_id=operation.id, object_name=operation.target_environment_name, at=at)


def _copies(session: Session, envs: dict[str, Environment]) -> list[_Copy]:
    by_place: dict[tuple[str, str], list[tuple[str, str, str]]] = defaultdict(list)
    for world in DEMO_WORLD_NAMES:
        for cluster in load_demo_world(world).clusters:
            for obj in cluster.objects:
                if obj.get("kind") != "Deployment":
                    continue
                containers = obj["spec"]["template"]["spec"].get("containers", [])
                if len(containers) == 1:  # one container: one version to tell a story about
                    by_place[(cluster.id, obj["metadata"]["namespace"])].append(
                        (obj["kind"], obj["metadata"]["name"], containers[0]["image"]))
    found = []
    for instance in session.scalars(select(AppInstance).order_by(AppInstance.id)):
        env = next((e for e in envs.values() if e.id == instance.environment_id), None)
        for kind, name, image in by_place.get((instance.cluster_id, instance.namespace), []):
            if env is not None:
                found.append(_Copy(instance, env, kind, name, image))
    return found


def _working_hours(at: dt.datetime, rng: random.Random, now: dt.datetime) -> dt.datetime:
    day = at.replace(hour=rng.randint(8, 16), minute=rng.randint(0, 59), second=rng.randint(0, 59))
    while day.weekday() >= 5:  # nobody promotes on a weekend here
        day += dt.timedelta(days=1)
    return min(day, now - dt.timedelta(hours=2))


def _operation(session: Session, envs: dict[str, Environment], source: str, target: str,
               moves: list[tuple[_Copy, str | None, str | None]], at: dt.datetime, rng: random.Random,
               status: str) -> None:
    took = dt.timedelta(seconds=rng.randint(35, 150))
    failed = status != "complete"
    operation = SyncOperation(
        kind="sync", mode="full", status=status, source_environment_id=envs[source].id,
        source_environment_name=source, target_environment_id=envs[target].id, target_environment_name=target,
        initiated_by=rng.choice(PEOPLE), created_at=at, started_at=at, finished_at=at + took,
        error="1 service(s) failed: every change was rolled back" if failed else None,
        rollback_reason="failed" if failed else None,
    )
    for copy, previous, new in moves:
        instance = copy.instance
        operation.results.append(SyncResult(
            service=copy.name, workload_kind=copy.kind, target_app_instance_id=instance.id,
            site_name=instance.site.name,
            cluster_id=instance.cluster_id, namespace=instance.namespace, applied=True,
            containers=[{"name": copy.name, "init": False, "previous": previous, "new": new}],
            previous_image=previous, new_image=new, status="failed" if failed else "success",
            error="the rollout did not become ready: ProgressDeadlineExceeded (rolled back)" if failed else None,
            started_at=at + dt.timedelta(seconds=2), finished_at=at + took - dt.timedelta(seconds=1),
        ))
    session.add(operation)
