"""`images inspect`: what an image is in its registry now (digest, platforms, OCI labels and their changelog),
asked only of a registered registry, through the host policy — for the CLI and the HTTP API alike."""

from __future__ import annotations

from collections.abc import Mapping

from ranchersync.kernel.errors import NotFoundError, ValidationError
from ranchersync.kernel.images import parse_image
from ranchersync.registry.changelog import ChangelogPayload, changelog
from ranchersync.registry.client import ResolutionPayload, resolve
from ranchersync.registry.media import Platform
from ranchersync.registry.store import RegistryAccess
from ranchersync.security.host_policy import HostPolicy


class ImagePayload(ResolutionPayload):
    """An image as `images inspect --json` prints it: the resolution and the changelog its labels tell."""

    changelog: ChangelogPayload


def inspect_image(registries: Mapping[str, RegistryAccess], image: str, platform: Platform,
                  policy: HostPolicy | None = None) -> ImagePayload:
    """Resolve `image` in its registry, which must be among `registries` (an unregistered host is never asked);
    raises NotFoundError (unregistered, or not in the registry), ValidationError (no such platform), RegistryError."""
    host = parse_image(image).registry
    access = registries.get(host)
    if access is None:
        raise NotFoundError(f"the registry {host} is not registered: `registries add --host {host}` first")
    http = access.http(policy)
    try:
        found = resolve(http, image, (platform,))
    finally:
        http.close()
    if not found.runs_on(platform):
        raise ValidationError(f"{image} has no {platform} image (it has {', '.join(found.platforms)})")
    return {**found.payload(), "changelog": changelog(None, found.labels).payload()}
