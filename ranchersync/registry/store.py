"""Registries the tool may ask: add (credentials encrypted like tokens), list, test, remove — and the funnel to one.

Only registered registries are asked: a plan never reaches a host nobody named (an image of an unregistered
registry is shown as "not checked"). Docker Hub is registered as ``docker.io`` (served by registry-1.docker.io).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from ranchersync.access import audit
from ranchersync.access.identity import Actor, require
from ranchersync.kernel.errors import NotFoundError, ValidationError
from ranchersync.kernel.images import parse_image
from ranchersync.kernel.validation import check_ca_bundle
from ranchersync.models import Registry, utcnow
from ranchersync.registry.client import api_host
from ranchersync.registry.errors import RegistryError
from ranchersync.registry.http import Credentials, RegistryHTTP, Secret
from ranchersync.security.cabundle import ca_bundle_file
from ranchersync.security.crypto import TokenCipher
from ranchersync.security.host_policy import HostPolicy, HostRefused, default_policy
from ranchersync.storage import store


class RegistryPayload(TypedDict):
    """A registry as `registries list --json` prints it: whether credentials are stored, never the password."""

    host: str
    username: str | None
    hasPassword: bool
    caBundle: bool
    allowHttp: bool
    lastContactAt: str | None
    lastError: str | None


class RegistryTestPayload(TypedDict):
    """The outcome of `registries test HOST --json`."""

    host: str
    ok: bool
    latencyMs: int
    message: str


def normalize_host(value: str) -> str:
    """A registry host as images name it (``ghcr.io``, ``host:5000``, ``docker.io``); a scheme or path is refused."""
    host = (value or "").strip().lower()
    if not host or "/" in host or "@" in host:
        raise ValidationError(f"a registry is named by its host (ghcr.io, registry.example.com:5000), not {value!r}")
    try:
        ref = parse_image(f"{host}/probe")
    except ValidationError:
        raise ValidationError(f"{value!r} is not a registry host") from None
    if ref.domain is None:
        raise ValidationError(f"{value!r} is not a registry host: it needs a dot or a port (or is localhost)")
    return ref.registry


@dataclass(frozen=True)
class RegistryAccess:
    """How to reach one registry, read from the database before any thread starts; the password stays a Secret."""

    host: str
    credentials: Credentials | None
    ca_bundle: str | None
    allow_http: bool

    def http(self, policy: HostPolicy | None = None) -> RegistryHTTP:
        verify: str | bool = ca_bundle_file(self.ca_bundle) if self.ca_bundle else True
        return RegistryHTTP(api_host(self.host), credentials=self.credentials, verify=verify,
                            allow_http=self.allow_http, host_policy=policy)


def add_registry(
    session: Session, cipher: TokenCipher, *, actor: Actor, host: str, username: str | None = None,
    password: str | None = None, ca_bundle: str | None = None, allow_http: bool = False,
    policy: HostPolicy | None = None,
) -> Registry:
    """Register a registry (or replace its credentials); audited without the password."""
    require(actor, "manage_catalogue")
    host = normalize_host(host)
    if bool(username) != bool(password):
        raise ValidationError("credentials are a user name and a password together (or neither: anonymous)")
    try:
        (policy or default_policy()).check_host(urlsplit(f"//{api_host(host)}").hostname or host)
    except HostRefused as exc:
        raise ValidationError(f"the registry {host} is refused: {exc}") from None
    pem = check_ca_bundle(ca_bundle)
    if pem:
        ca_bundle_file(pem)  # a damaged bundle is refused now, not at the first plan
    row = session.scalar(select(Registry).where(Registry.host == host))
    before = None if row is None else _snapshot(row)
    if row is None:
        row = Registry(host=host)
        session.add(row)
    row.username = username or None
    row.password_encrypted = cipher.encrypt(password) if password else None
    row.ca_bundle = pem
    row.allow_http = allow_http
    store.save(session, f"the registry {host} was added meanwhile: try again")
    audit.record(session, actor, "registry.add" if before is None else "registry.update", object_type="registry",
                 object_id=row.id, object_name=host, before=before, after=_snapshot(row))
    return row


def list_registries(session: Session) -> list[Registry]:
    return list(session.scalars(select(Registry).order_by(Registry.host)))


def get_registry(session: Session, host: str) -> Registry:
    row = session.scalar(select(Registry).where(Registry.host == normalize_host(host)))
    if row is None:
        raise NotFoundError(f"no registry {host} is registered (`registries list`)")
    return row


def remove_registry(session: Session, host: str, *, actor: Actor) -> str:
    """Forget a registry and its credentials (audited); the host as stored."""
    require(actor, "manage_catalogue")
    row = get_registry(session, host)
    audit.record(session, actor, "registry.remove", object_type="registry", object_id=row.id, object_name=row.host,
                 before=_snapshot(row))
    session.delete(row)
    session.flush()
    return row.host


def accesses(session: Session, cipher: TokenCipher) -> dict[str, RegistryAccess]:
    """Every registered registry by host, its password decrypted into a Secret (read before any thread starts)."""
    found = {}
    for row in list_registries(session):
        credentials = None
        if row.username and row.password_encrypted:
            credentials = Credentials(row.username, Secret(cipher.decrypt(row.password_encrypted)))
        found[row.host] = RegistryAccess(row.host, credentials, row.ca_bundle, row.allow_http)
    return found


@dataclass(frozen=True)
class TestResult:
    host: str
    ok: bool
    latency_ms: int
    message: str

    def payload(self) -> RegistryTestPayload:
        return {"host": self.host, "ok": self.ok, "latencyMs": self.latency_ms, "message": self.message}


def test_registry(session: Session, cipher: TokenCipher, host: str, policy: HostPolicy | None = None) -> TestResult:
    """Ask the registry's API root (``/v2/``) with the stored credentials; the outcome is kept on the row."""
    row = get_registry(session, host)
    access = accesses(session, cipher)[row.host]
    started = time.perf_counter()
    http = access.http(policy)
    try:
        http.get("/v2/", scope="registry:catalog:*")
        ok, message = True, "the registry answers and accepts the credentials" if access.credentials else \
            "the registry answers anonymously"
    except RegistryError as error:
        ok, message = False, str(error)
    finally:
        http.close()
    latency = round((time.perf_counter() - started) * 1000)
    row.last_contact_at = utcnow() if ok else row.last_contact_at
    row.last_error = None if ok else message
    session.flush()
    return TestResult(row.host, ok, latency, message)


def registry_payload(row: Registry) -> RegistryPayload:
    """A registry as `registries list --json` prints it: never the password."""
    return {"host": row.host, "username": row.username, "hasPassword": row.password_encrypted is not None,
            "caBundle": bool(row.ca_bundle), "allowHttp": row.allow_http,
            "lastContactAt": row.last_contact_at.isoformat().replace("+00:00", "Z") if row.last_contact_at else None,
            "lastError": row.last_error}


def _snapshot(row: Registry) -> Mapping[str, Any]:
    return {"host": row.host, "username": row.username, "password": "(set)" if row.password_encrypted else None,
            "caBundle": bool(row.ca_bundle), "allowHttp": row.allow_http}
