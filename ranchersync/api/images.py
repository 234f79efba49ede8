"""The HTTP API's calls for registries, images and quarantine (issue 22; DESIGN.md "Registries and images").

app.py adds ENDPOINTS to the application and to the OpenAPI document.

A registry's host comes from the caller: every registration, test and inspection goes through this installation's
host policy (`RANCHERSYNC_ALLOWED_HOSTS`, the deny rules) before any connection, and an image is asked only of a
registered registry (`image=redis` names docker.io: unregistered, 404; registered, still refused unless allowed). A
password goes in, never out: answers say `hasPassword`, the audit says "(secret)". A quarantine or a registry applies on
every site, so a token limited to some environments may read them but not change them (403, as the catalogue).
"""

from __future__ import annotations

from typing import Final, Required, TypedDict

from ranchersync import registry
from ranchersync.api.call import Answer, Call, blocking
from ranchersync.api.spec import Endpoint, Param
from ranchersync.governance.quarantine import QuarantineListPayload, QuarantinePayload
from ranchersync.kernel.errors import ValidationError
from ranchersync.registry import ImagePayload, RegistryPayload, RegistryTestPayload

__all__ = ["ENDPOINTS"]


class RegistryRequest(TypedDict, total=False):
    """Register a registry, or replace what is stored for it: anonymous, or a user name and a password together (the
    password is stored encrypted and never answered)."""

    host: Required[str]  # as images name it: ghcr.io, registry.example.com:5000, docker.io
    username: str
    password: str
    caCertificate: str  # PEM text of the CA bundle that signed the registry's certificate
    allowHttp: bool  # plain HTTP (a registry inside the cluster network)


class RegistryRemoved(TypedDict):
    """The registry (and its credentials) forgotten: its host as it was stored."""

    removed: str


class QuarantineRequest(TypedDict):
    """Quarantine a digest: refused in every plan on every site (releaser or admin; audited, notified)."""

    image: str  # IMAGE@sha256:… (or IMAGE:TAG@sha256:…)
    reason: str  # printed to whoever is refused


class LiftRequest(TypedDict):
    """Lift a quarantine, saying why (kept in the audit log)."""

    reason: str


# ---- registries ---------------------------------------------------------------------------------------------------


async def registries_list(call: Call) -> Answer:
    def read() -> list[RegistryPayload]:
        with call.ctx.session() as session:
            return [registry.registry_payload(r) for r in registry.list_registries(session)]

    return 200, await blocking(read)


async def registries_add(call: Call) -> Answer:
    body = call.body

    def add() -> RegistryPayload:
        with call.ctx.session() as session:
            row = registry.add_registry(session, call.ctx.cipher, actor=call.actor, host=body["host"],
                                        username=body.get("username") or None,
                                        password=body.get("password") or None,
                                        ca_bundle=body.get("caCertificate") or None,
                                        allow_http=bool(body.get("allowHttp", False)), policy=call.ctx.host_policy())
            return registry.registry_payload(row)

    payload = await blocking(add)
    registry.CACHE.clear()  # new credentials may see what the old ones did not
    return 200, payload


async def registries_test(call: Call) -> Answer:
    def test() -> RegistryTestPayload:
        with call.ctx.session() as session:
            return registry.test_registry(session, call.ctx.cipher, call.path("host"), call.ctx.host_policy()).payload()

    return 200, await blocking(test)  # a registry that fails the test is an answer too: `ok` is false


async def registries_remove(call: Call) -> Answer:
    def remove() -> RegistryRemoved:
        with call.ctx.session() as session:
            return RegistryRemoved(removed=registry.remove_registry(session, call.path("host"), actor=call.actor))

    payload = await blocking(remove)
    registry.CACHE.clear()
    return 200, payload


async def image_inspect(call: Call) -> Answer:
    try:
        platform = registry.Platform.parse(call.query.get("platform") or str(registry.DEFAULT_PLATFORM))
    except ValueError as error:
        raise ValidationError(str(error)) from None

    def inspect() -> ImagePayload:
        with call.ctx.session() as session:
            known = registry.accesses(session, call.ctx.cipher)
        # The session is closed before the registry is asked (up to its deadline).
        return registry.inspect_image(known, call.query["image"], platform, call.ctx.host_policy())

    return 200, await blocking(inspect)


# ---- quarantine ---------------------------------------------------------------------------------------------------


async def quarantine_list(call: Call) -> Answer:
    from ranchersync.governance import quarantine

    return 200, await blocking(quarantine.list_with_sightings, call.ctx,
                               include_lifted=bool(call.query.get("lifted")),
                               running=call.query.get("running", True))


async def quarantine_add(call: Call) -> Answer:
    from ranchersync import notify
    from ranchersync.governance import quarantine

    def add() -> QuarantinePayload:
        with call.ctx.session() as session:
            return quarantine.add(session, call.body["image"], reason=call.body["reason"], actor=call.actor).payload()

    payload = await blocking(add)
    await blocking(notify.deliver_soon, call.ctx)  # image.quarantined, queued with the quarantine
    return 200, payload


async def quarantine_lift(call: Call) -> Answer:
    from ranchersync.governance import quarantine

    quarantine_id = call.path_id()

    def lift() -> QuarantinePayload:
        with call.ctx.session() as session:
            return quarantine.lift(session, quarantine_id, reason=call.body["reason"], actor=call.actor).payload()

    return 200, await blocking(lift)


HOST = Param("host", where="path", description="the registry's host, as images name it (registry.example.com:5000)")

ENDPOINTS: Final[tuple[Endpoint, ...]] = (
    Endpoint("GET", "/registries", "listRegistries",
             "The registries plans resolve images in (whether credentials are stored, never a password)",
             registries_list, {200: list[RegistryPayload]}, tags=("registries",)),
    Endpoint("POST", "/registries", "addRegistry",
             "Register a registry or replace what is stored for it (admin; audited without the password)",
             registries_add, {200: RegistryPayload}, body=RegistryRequest, tags=("registries",)),
    Endpoint("POST", "/registries/{host}/test", "testRegistry",
             "Ask a registry's API root with the stored credentials (`ok` false when it fails)", registries_test,
             {200: RegistryTestPayload}, params=(HOST,), tags=("registries",)),
    Endpoint("DELETE", "/registries/{host}", "removeRegistry", "Forget a registry and its credentials (admin)",
             registries_remove, {200: RegistryRemoved}, params=(HOST,), tags=("registries",)),
    Endpoint("GET", "/images/inspect", "inspectImage",
             "An image's digest, platforms and OCI labels, from its registry (which must be registered)",
             image_inspect, {200: ImagePayload},
             params=(Param("image", required=True, description="registry/repository:tag or …@sha256:…"),
                     Param("platform", description="os/arch[/variant] to read labels for (default linux/amd64)")),
             tags=("images",)),
    Endpoint("GET", "/quarantine", "listQuarantines",
             "Quarantined digests, newest first, with where each runs now (read from Rancher unless running=false)",
             quarantine_list, {200: list[QuarantineListPayload]},
             params=(Param("lifted", "boolean", description="include lifted quarantines"),
                     Param("running", "boolean", description="ask Rancher where each runs (default true)")),
             tags=("quarantine",)),
    Endpoint("POST", "/quarantine", "addQuarantine",
             "Quarantine a digest on every site (releaser or admin, not a token limited to environments; audited, "
             "notified as image.quarantined)", quarantine_add, {200: QuarantinePayload}, body=QuarantineRequest,
             tags=("quarantine",)),
    Endpoint("POST", "/quarantine/{id}/lift", "liftQuarantine",
             "Lift a quarantine, with a reason (releaser or admin; audited)", quarantine_lift,
             {200: QuarantinePayload}, params=(Param("id", "integer", where="path"),), body=LiftRequest,
             tags=("quarantine",)),
)
