"""Resolve an image reference in its registry: the digest its tag names now, its platforms, its labels.

Docker Hub's short names resolve as the container runtime resolves them (``redis`` → ``docker.io/library/redis``,
served by ``registry-1.docker.io``): the reference grammar is ``kernel.images``'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, TypedDict

from ranchersync.kernel.images import DEFAULT_REGISTRY, parse_image
from ranchersync.registry import media
from ranchersync.registry.errors import RegistryAnswerRefused
from ranchersync.registry.http import MAX_BLOB, RegistryHTTP
from ranchersync.registry.media import Platform


class ResolutionPayload(TypedDict):
    """What an image is in its registry, as `images inspect --json` prints it."""

    image: str
    name: str
    digest: str
    mediaType: str
    platforms: list[str]
    platformDigest: str | None
    labels: dict[str, str]
    created: str | None


DOCKER_HUB_API: Final = "registry-1.docker.io"
DEFAULT_PLATFORM: Final = Platform("linux", "amd64")


def api_host(registry: str) -> str:
    """The host that serves a registry's API: Docker Hub's is ``registry-1.docker.io``."""
    return DOCKER_HUB_API if registry == DEFAULT_REGISTRY else registry


@dataclass(frozen=True)
class Resolution:
    """What a reference names in its registry now."""

    image: str  # as written
    name: str  # registry/repository, normalized (docker.io/library/redis)
    digest: str  # what the tag (or digest) resolves to: the index's digest for a multi-platform image
    media_type: str
    platforms: tuple[str, ...]  # the index's platforms; a single manifest's from its config
    platform_digest: str = ""  # the manifest chosen for the wanted platform (the index's entry), when an index
    labels: Mapping[str, str] = field(default_factory=dict)  # config labels, then index/manifest annotations
    created: str | None = None

    def runs_on(self, wanted: Platform) -> bool:
        """Whether the image has a variant for `wanted` (an image whose platform is unknown is given the benefit)."""
        if not self.platforms:
            return True
        return any(Platform.parse(p).satisfies(wanted) for p in self.platforms)

    def payload(self) -> ResolutionPayload:
        return {"image": self.image, "name": self.name, "digest": self.digest, "mediaType": self.media_type,
                "platforms": list(self.platforms), "platformDigest": self.platform_digest or None,
                "labels": dict(self.labels), "created": self.created}


def resolve(http: RegistryHTTP, image: str, platforms: Sequence[Platform] = (DEFAULT_PLATFORM,)) -> Resolution:
    """Resolve `image` through `http` (its registry's funnel): raises ImageNotInRegistry, RegistryError."""
    ref = parse_image(image)
    repository = ref.repository
    scope = f"repository:{repository}:pull"
    reference = ref.digest or ref.tag or "latest"
    path = f"/v2/{repository}/manifests/{reference}"
    top = _document(http, path, scope, f"the manifest of {image}")
    if ref.digest and top.digest != ref.digest:
        raise RegistryAnswerRefused(f"{http.host} answered {image} with a document whose digest is {top.digest}")
    annotations: dict[str, str] = dict(top.annotations)
    platform_digest = ""
    if top.is_index:
        listed = tuple(d for d in top.manifests if d.platform is not None and d.platform.os != "unknown")
        found = tuple(dict.fromkeys(str(d.platform) for d in listed))
        chosen = next((d for want in platforms for d in listed if d.platform and d.platform.satisfies(want)), None)
        if chosen is None:
            return Resolution(image, ref.normalized_name, top.digest, top.media_type, found, labels=annotations)
        platform_digest = chosen.digest
        manifest = _document(http, f"/v2/{repository}/manifests/{chosen.digest}", scope,
                             f"the {chosen.platform} manifest of {image}")
        annotations = {**manifest.annotations, **annotations}
    else:
        manifest = top
        found = ()
    config = None
    if manifest.config is not None:
        answer = http.get(f"/v2/{repository}/blobs/{manifest.config.digest}", scope=scope, cap=MAX_BLOB, blob=True)
        if media.sha256_digest(answer.body) != manifest.config.digest:
            raise RegistryAnswerRefused(f"the config of {image} does not match its digest")
        config = media.parse_config(answer.body, f"the config of {image}")
    if config is not None and not found and config.platform is not None:
        found = (str(config.platform),)
    labels = {**(config.labels if config else {}), **annotations}
    created = labels.get(media.CREATED) or (config.created if config else None)
    return Resolution(image, ref.normalized_name, top.digest, top.media_type, found, platform_digest, labels,
                      created)


def _document(http: RegistryHTTP, path: str, scope: str, what: str) -> media.Document:
    answer = http.get(path, scope=scope, accept=media.ACCEPT)
    document = media.parse_document(answer.body, answer.content_type, what)
    if answer.digest and answer.digest.startswith("sha256:") and answer.digest != document.digest:
        raise RegistryAnswerRefused(f"{what} does not match the digest the registry gives for it")
    return document
