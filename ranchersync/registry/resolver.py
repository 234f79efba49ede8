"""Resolve many images at once for a plan: concurrently, one funnel per registry, a short cache per reference.

Each image ends in one `Lookup`: found (its `Resolution`), missing (the registry said so), unreachable (a warning:
the plan may go on), refused (an answer the tool will not use, also a warning), or unchecked (its registry is not
registered, or the reference is a digest already and nothing is asked). Only registered registries are asked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Final, Literal

from ranchersync.kernel.errors import ValidationError
from ranchersync.kernel.images import parse_image
from ranchersync.registry.client import DEFAULT_PLATFORM, Resolution, resolve
from ranchersync.registry.errors import ImageNotInRegistry, RegistryAuthFailed, RegistryError
from ranchersync.registry.http import RegistryHTTP
from ranchersync.registry.media import Platform
from ranchersync.registry.store import RegistryAccess
from ranchersync.security.host_policy import HostPolicy

CACHE_SECONDS: Final = 60.0  # a tag re-pushed within this time is seen late; a plan made twice asks once
WORKERS: Final = 256  # latency-bound: one thread per image, so every image's requests start at once

State = Literal["found", "missing", "unreachable", "unchecked"]


@dataclass(frozen=True)
class Lookup:
    """What the registry said about one image."""

    image: str
    state: State
    resolution: Resolution | None = None
    message: str = ""


class ResolutionCache:
    """Resolved references for a short time, shared by every plan of the process (found and missing only)."""

    def __init__(self, seconds: float = CACHE_SECONDS) -> None:
        self.seconds = seconds
        self._items: dict[tuple[str, tuple[str, ...]], tuple[float, Lookup]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, tuple[str, ...]]) -> Lookup | None:
        with self._lock:
            entry = self._items.get(key)
            if entry is None or entry[0] < time.monotonic():
                self._items.pop(key, None)
                return None
            return entry[1]

    def put(self, key: tuple[str, tuple[str, ...]], lookup: Lookup) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + self.seconds, lookup)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


CACHE = ResolutionCache()


def resolve_images(
    images: Iterable[str],
    registries: Mapping[str, RegistryAccess],
    *,
    platforms: Sequence[Platform] = (DEFAULT_PLATFORM,),
    cache: ResolutionCache | None = CACHE,
    policy: HostPolicy | None = None,
    workers: int = WORKERS,
) -> dict[str, Lookup]:
    """Every distinct image's Lookup, asking each registered registry concurrently (`registries`: by host)."""
    wanted = tuple(str(p) for p in platforms)
    results: dict[str, Lookup] = {}
    todo: list[tuple[str, RegistryAccess]] = []
    same: dict[str, list[str]] = {}  # one reference written several ways (redis, docker.io/library/redis:latest)
    for image in dict.fromkeys(images):
        try:
            ref = parse_image(image)
        except ValidationError as error:
            results[image] = Lookup(image, "unchecked", message=str(error))
            continue
        host = ref.registry
        access = registries.get(host)
        if access is None:
            results[image] = Lookup(image, "unchecked", message=f"the registry {host} is not registered")
            continue
        cached = cache.get((image, wanted)) if cache is not None else None
        if cached is not None:
            results[image] = cached
            continue
        key = f"{ref.normalized_name}@{ref.digest}" if ref.digest else f"{ref.normalized_name}:{ref.tag or 'latest'}"
        if key in same:
            same[key].append(image)
        else:
            same[key] = [image]
            todo.append((image, access))
    if not todo:
        return results
    aliases = {written[0]: written[1:] for written in same.values() if len(written) > 1}
    funnels: dict[str, RegistryHTTP] = {}
    for _, access in todo:
        if access.host not in funnels:
            funnels[access.host] = access.http(policy)

    def one(item: tuple[str, RegistryAccess]) -> Lookup:
        image, access = item
        try:
            return Lookup(image, "found", resolve(funnels[access.host], image, platforms))
        except ImageNotInRegistry as error:
            return Lookup(image, "missing", message=str(error))
        except RegistryAuthFailed as error:
            return Lookup(image, "unreachable", message=str(error))
        except RegistryError as error:
            return Lookup(image, "unreachable", message=str(error))

    try:
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(todo))),
                                thread_name_prefix="registry") as pool:
            for first in pool.map(one, todo):
                for lookup in (first, *(_as_written(first, other) for other in aliases.get(first.image, ()))):
                    results[lookup.image] = lookup
                    if cache is not None and lookup.state in ("found", "missing"):
                        cache.put((lookup.image, wanted), lookup)
    finally:
        for funnel in funnels.values():
            funnel.close()
    return results


def _as_written(lookup: Lookup, image: str) -> Lookup:
    resolution = replace(lookup.resolution, image=image) if lookup.resolution is not None else None
    return replace(lookup, image=image, resolution=resolution)
