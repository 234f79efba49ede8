"""Container registries (OCI Distribution v2): resolve an image to its digest, platforms and labels, through the
same host policy, deadlines and size caps as Rancher calls; registries stored with encrypted credentials."""

from ranchersync.registry.changelog import Changelog, ChangelogPayload, changelog, compare_url
from ranchersync.registry.client import DEFAULT_PLATFORM, Resolution, ResolutionPayload, api_host, resolve
from ranchersync.registry.dockerconfig import UnreadablePullSecret, pull_credentials
from ranchersync.registry.errors import (
    ImageNotInRegistry,
    RegistryAnswerRefused,
    RegistryAuthFailed,
    RegistryError,
    RegistryUnavailable,
)
from ranchersync.registry.http import Credentials, RegistryHTTP, Secret
from ranchersync.registry.inspection import ImagePayload, inspect_image
from ranchersync.registry.media import Platform
from ranchersync.registry.resolver import CACHE, Lookup, ResolutionCache, resolve_images
from ranchersync.registry.store import (
    RegistryAccess,
    RegistryPayload,
    RegistryTestPayload,
    accesses,
    add_registry,
    get_registry,
    list_registries,
    normalize_host,
    registry_payload,
    remove_registry,
    test_registry,
)

__all__ = [
    "CACHE",
    "DEFAULT_PLATFORM",
    "Changelog",
    "ChangelogPayload",
    "Credentials",
    "ImagePayload",
    "ImageNotInRegistry",
    "Lookup",
    "Platform",
    "RegistryAccess",
    "RegistryAnswerRefused",
    "RegistryAuthFailed",
    "RegistryError",
    "RegistryHTTP",
    "RegistryPayload",
    "RegistryTestPayload",
    "RegistryUnavailable",
    "Resolution",
    "ResolutionPayload",
    "ResolutionCache",
    "Secret",
    "UnreadablePullSecret",
    "accesses",
    "add_registry",
    "api_host",
    "changelog",
    "compare_url",
    "get_registry",
    "inspect_image",
    "list_registries",
    "normalize_host",
    "pull_credentials",
    "registry_payload",
    "remove_registry",
    "resolve",
    "resolve_images",
    "test_registry",
]
