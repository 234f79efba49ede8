"""What a registry answers with: manifests, image indexes and configs in their OCI and Docker media types.

Only the fields the tool reads are parsed (digests, platforms, labels and annotations); anything else in a document
is ignored, and a document that is not what its media type says is a `RegistryAnswerRefused`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ranchersync.registry.errors import RegistryAnswerRefused

OCI_INDEX: Final = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG: Final = "application/vnd.oci.image.config.v1+json"
DOCKER_LIST: Final = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG: Final = "application/vnd.docker.container.image.v1+json"
INDEXES: Final = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFESTS: Final = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
# What a manifest request accepts, most specific first (a registry may otherwise convert to schema 1).
ACCEPT: Final = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))

# The OCI labels and annotations a changelog is made of.
REVISION: Final = "org.opencontainers.image.revision"
SOURCE: Final = "org.opencontainers.image.source"
VERSION: Final = "org.opencontainers.image.version"
CREATED: Final = "org.opencontainers.image.created"
CHANGELOG_KEYS: Final = (REVISION, SOURCE, VERSION, CREATED)


def sha256_digest(body: bytes) -> str:
    """The content digest of a document, as registries name it."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


@dataclass(frozen=True)
class Platform:
    """An os/architecture[/variant] as an index names it (linux/amd64, linux/arm64/v8)."""

    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = [p.strip().lower() for p in text.split("/")]
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"a platform is os/architecture[/variant], not {text!r}")
        return cls(*parts)

    def satisfies(self, wanted: Platform) -> bool:
        """Whether an image for this platform runs on `wanted` (a variant is compared only when both name one)."""
        if (self.os, self.architecture) != (wanted.os, wanted.architecture):
            return False
        return not (self.variant and wanted.variant) or self.variant == wanted.variant


@dataclass(frozen=True)
class Descriptor:
    """A reference to another document: its media type, digest, size, platform (in an index) and annotations."""

    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Document:
    """A manifest or an index as parsed: for an index its `manifests`, for a manifest its `config`."""

    media_type: str
    digest: str
    manifests: tuple[Descriptor, ...] = ()
    config: Descriptor | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEXES


def parse_document(body: bytes, content_type: str, what: str) -> Document:
    """Parse a manifest or index; its media type from the document itself, else from the answer's Content-Type."""
    data = _json(body, what)
    media_type = str(data.get("mediaType") or content_type.split(";", 1)[0].strip())
    digest = sha256_digest(body)
    annotations = _strings(data.get("annotations"))
    if media_type in INDEXES or (not media_type and "manifests" in data):
        manifests = tuple(_descriptor(d, what) for d in _list(data.get("manifests"), what))
        return Document(media_type or OCI_INDEX, digest, manifests=manifests, annotations=annotations)
    if media_type in MANIFESTS or (not media_type and "config" in data):
        config = data.get("config")
        if not isinstance(config, dict):
            raise RegistryAnswerRefused(f"{what} is a manifest without a config")
        return Document(media_type or OCI_MANIFEST, digest, config=_descriptor(config, what), annotations=annotations)
    raise RegistryAnswerRefused(f"{what} is of a media type the tool does not read ({media_type or 'none'}): "
                                "only OCI and Docker v2 manifests and indexes are")


@dataclass(frozen=True)
class Config:
    """What an image config says: its platform, labels and build date."""

    platform: Platform | None
    labels: Mapping[str, str]
    created: str | None


def parse_config(body: bytes, what: str) -> Config:
    data = _json(body, what)
    os_, arch = data.get("os"), data.get("architecture")
    platform = Platform(str(os_), str(arch), str(data.get("variant") or "")) if os_ and arch else None
    inner = data.get("config")
    inner = inner if isinstance(inner, dict) else {}
    created = data.get("created")
    return Config(platform, _strings(inner.get("Labels")), str(created) if created else None)


def _json(body: bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        raise RegistryAnswerRefused(f"{what} is not JSON") from None
    if not isinstance(data, dict):
        raise RegistryAnswerRefused(f"{what} is not a JSON object")
    return data


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise RegistryAnswerRefused(f"{what} is an index without a list of manifests")
    return value


def _descriptor(value: Any, what: str) -> Descriptor:
    if not isinstance(value, dict) or not isinstance(value.get("digest"), str):
        raise RegistryAnswerRefused(f"{what} holds a descriptor without a digest")
    platform = value.get("platform")
    found = None
    if isinstance(platform, dict) and platform.get("os") and platform.get("architecture"):
        found = Platform(str(platform["os"]), str(platform["architecture"]), str(platform.get("variant") or ""))
    size = value.get("size")
    return Descriptor(str(value.get("mediaType") or ""), value["digest"], size if isinstance(size, int) else 0,
                      found, _strings(value.get("annotations")))


def _strings(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if isinstance(v, (str, int, float))}
