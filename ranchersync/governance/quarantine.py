"""Quarantine: a digest declared bad is refused in every plan on every site, and flagged wherever it runs.

A quarantine names an image by its digest (``IMAGE@sha256:…``); a digest is the same bits whatever repository or
tag names it, so matching is by digest. Adding and lifting are audited (releaser or admin); adding notifies
``image.quarantined`` to every subscriber of it. Lifted quarantines stay, for the record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from ranchersync import notify
from ranchersync.access import audit
from ranchersync.access.identity import Actor, require
from ranchersync.catalogue.environments import list_environments
from ranchersync.catalogue.sites import ClientFactory
from ranchersync.context import AppContext
from ranchersync.inventory.reading import Service, list_inventories
from ranchersync.kernel.errors import NotFoundError, RefusedByPolicy, ValidationError
from ranchersync.kernel.images import parse_image
from ranchersync.models import QuarantinedImage, utcnow
from ranchersync.rancher import RancherClient


class ImageQuarantined(RefusedByPolicy):
    """A plan would promote (or roll back to) a quarantined digest: refused (exit 3) with the quarantine's reason."""

    kind = "image_quarantined"
    default_title = "This image is quarantined"
    default_hint = ("Promote another version. `quarantine list` says why and where it runs; a releaser lifts it "
                    "with `quarantine lift ID --reason R`.")


class QuarantinePayload(TypedDict):
    """A quarantine as `quarantine add|lift --json` print it."""

    id: int
    image: str  # name@digest
    name: str
    digest: str
    reason: str
    addedBy: str
    addedAt: str
    liftedBy: str | None
    liftedAt: str | None
    liftReason: str | None


class SightingPayload(TypedDict):
    """Where a quarantined digest runs now."""

    quarantineId: int
    image: str
    environment: str
    appInstance: str
    service: str
    container: str


class QuarantineListPayload(QuarantinePayload):
    """A quarantine as `quarantine list --json` prints it: with where it runs now (empty when not asked)."""

    running: list[SightingPayload]


@dataclass(frozen=True)
class Quarantine:
    """One quarantine as read (detached)."""

    id: int
    name: str
    digest: str
    reason: str
    added_by: str
    added_at: str
    lifted_by: str | None = None
    lifted_at: str | None = None
    lift_reason: str | None = None

    @property
    def reference(self) -> str:
        return f"{self.name}@{self.digest}"

    @classmethod
    def of(cls, row: QuarantinedImage) -> Quarantine:
        return cls(row.id, row.name, row.digest, row.reason, row.added_by, _iso(row.added_at), row.lifted_by,
                   _iso(row.lifted_at) if row.lifted_at else None, row.lift_reason)

    def payload(self) -> QuarantinePayload:
        return {"id": self.id, "image": self.reference, "name": self.name, "digest": self.digest,
                "reason": self.reason, "addedBy": self.added_by, "addedAt": self.added_at,
                "liftedBy": self.lifted_by, "liftedAt": self.lifted_at, "liftReason": self.lift_reason}


def add(session: Session, image: str, *, reason: str, actor: Actor) -> Quarantine:
    """Quarantine `image` (it must name a digest: ``repo@sha256:…`` or ``repo:tag@sha256:…``)."""
    require(actor, "manage_quarantine")
    ref = parse_image(image.strip())
    if ref.digest is None:
        raise ValidationError(f"{image} names no digest: quarantine IMAGE@sha256:… (`images inspect` gives it)")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("a quarantine needs --reason: it is printed to whoever is refused")
    existing = active_by_digest(session).get(ref.digest)
    if existing is not None:
        raise ValidationError(f"{ref.digest} is already quarantined (#{existing.id}: {existing.reason})")
    row = QuarantinedImage(name=ref.normalized_name, digest=ref.digest, reason=reason, added_by=actor.email,
                           added_at=utcnow())
    session.add(row)
    session.flush()
    found = Quarantine.of(row)
    audit.record(session, actor, "quarantine.add", object_type="image", object_id=row.id,
                 object_name=found.reference, after={"reason": reason}, detail=reason)
    notify.enqueue(session, "image.quarantined", {"event": "image.quarantined", "actor": actor.email,
                                                  "detail": found.reference, "reason": reason})
    return found


def lift(session: Session, quarantine_id: int, *, reason: str, actor: Actor) -> Quarantine:
    """Lift a quarantine (audited, with a reason); the row stays, lifted."""
    require(actor, "manage_quarantine")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("lifting a quarantine needs --reason: it is kept in the audit log")
    row = session.get(QuarantinedImage, quarantine_id)
    if row is None or row.lifted_at is not None:
        raise NotFoundError(f"no active quarantine #{quarantine_id} (`quarantine list`)")
    row.lifted_by, row.lifted_at, row.lift_reason = actor.email, utcnow(), reason
    session.flush()
    found = Quarantine.of(row)
    audit.record(session, actor, "quarantine.lift", object_type="image", object_id=row.id,
                 object_name=found.reference, before={"reason": row.reason}, detail=reason)
    return found


def list_quarantines(session: Session, *, include_lifted: bool = False) -> list[Quarantine]:
    query = select(QuarantinedImage).order_by(QuarantinedImage.added_at.desc(), QuarantinedImage.id.desc())
    if not include_lifted:
        query = query.where(QuarantinedImage.lifted_at.is_(None))
    return [Quarantine.of(row) for row in session.scalars(query)]


def active_by_digest(session: Session) -> dict[str, Quarantine]:
    """Every active quarantine by digest (what a plan checks its digests against)."""
    return {q.digest: q for q in list_quarantines(session)}


def check_digests(digests: Iterable[tuple[str, str]], quarantined: dict[str, Quarantine]) -> None:
    """Refuse when any (what, digest) is quarantined: ImageQuarantined naming each and its reason."""
    hits = [(what, quarantined[d]) for what, d in digests if d and d in quarantined]
    if hits:
        listed = "; ".join(f"{what}: {q.reference} is quarantined (#{q.id}: {q.reason})" for what, q in hits)
        raise ImageQuarantined(f"refused: {listed}")


@dataclass(frozen=True)
class Sighting:
    """A quarantined digest running now: where."""

    quarantine: Quarantine
    environment: str
    instance: str
    service: str
    container: str
    # Where exactly, for the Quarantine screen (the payload keeps its documented keys).
    site: str = ""
    cluster: str = ""
    namespace: str = ""
    kind: str = ""
    digest: str = ""

    def payload(self) -> SightingPayload:
        return {"quarantineId": self.quarantine.id, "image": self.quarantine.reference,
                "environment": self.environment, "appInstance": self.instance, "service": self.service,
                "container": self.container}


def running(services: Sequence[tuple[str, Service]], quarantined: dict[str, Quarantine]) -> list[Sighting]:
    """Where quarantined digests run: `services` are (environment name, service read with its pods' digests)."""
    found = []
    for environment, service in services:
        for container, digest in _digests(service):
            if digest in quarantined:
                ref = service.instance
                found.append(Sighting(quarantined[digest], environment, ref.name, service.name, container,
                                      ref.site_name, ref.cluster_name, ref.namespace, service.kind, digest))
    return found


def matches(service: Service, quarantined: Mapping[str, Quarantine]) -> tuple[Quarantine, ...]:
    """The active quarantines a service runs: by the digests its pods report, or pinned in its image references
    (so a service read without its pods' digests is still flagged when it names the digest)."""
    if not quarantined:
        return ()
    return tuple(dict.fromkeys(quarantined[d] for _, d in _digests(service) if d in quarantined))


def _digests(service: Service) -> list[tuple[str, str]]:
    """(container, digest) a service runs: what its pods report, else what its image references pin."""
    found = [(container, d) for container, digests in (service.running.digests if service.running else ())
             for d in digests]
    seen = {c for c, _ in found}
    for container, image in service.images.items():
        try:
            pinned = parse_image(image).digest if "@" in image else None
        except ValidationError:  # an image Rancher shows that we cannot read: nothing pinned to match
            continue
        if pinned and container not in seen:
            found.append((container, pinned))
    return found


def list_with_sightings(ctx: AppContext, *, include_lifted: bool = False, running: bool = True,
                        factory: ClientFactory = RancherClient) -> list[QuarantineListPayload]:
    """The quarantines, each with where it runs now (`running`: asked of Rancher, only while one is active)."""
    with ctx.session() as session:
        rows = list_quarantines(session, include_lifted=include_lifted)
    sightings = where_running(ctx, factory) if running and rows else []
    return [{**q.payload(), "running": [s.payload() for s in sightings if s.quarantine.id == q.id]} for q in rows]


def where_running(ctx: AppContext, factory: ClientFactory = RancherClient) -> list[Sighting]:
    """Every place a quarantined digest runs now (environment, app instance, service, container), read from Rancher
    with the pods' digests; nothing is asked while no image is quarantined."""
    with ctx.session() as session:
        quarantined = active_by_digest(session)
        if not quarantined:
            return []
        envs = list_environments(session)
        names = {e.id: e.name for e in envs}
        inventories = list_inventories(session, ctx.cipher, envs, factory=factory, digests=True)
        services = [(names[env_id], s) for env_id, inventory in inventories.items() for s in inventory.services]
        found = running(services, quarantined)
        complete = not any(inventory.failures for inventory in inventories.values())
        now = utcnow()
        for row in session.scalars(select(QuarantinedImage).where(QuarantinedImage.lifted_at.is_(None))):
            count = sum(1 for s in found if s.quarantine.id == row.id)
            if complete or count > (row.running_count or 0):  # an unreadable instance may hide one: never lower
                row.running_count, row.running_checked_at = count, now
    return found


def _iso(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z")
