"""Paging through Rancher's lists: Norman's "next" links (kept on our own base URL, so the token never follows a
link elsewhere) and Kubernetes' continue tokens (restarted once when one expired). Bounded: a server that keeps
sending the same link or token must not keep us busy for ever."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from ranchersync.kernel.errors import MalformedResponse, RancherAPIError
from ranchersync.rancher.transport import Transport

log = logging.getLogger(__name__)

MAX_PAGES: Final = 10_000


def norman_items(http: Transport, base_url: str, path: str) -> list[dict[str, Any]]:
    """All items of a Norman (/v3) collection, following its "next" links, which are sent to our own base URL."""
    items: list[dict[str, Any]] = []
    next_url: str | None = path
    params: dict[str, str | int] | None = {"limit": 1000}
    seen: set[str] = set()
    while next_url:
        if next_url in seen or len(seen) >= MAX_PAGES:
            raise MalformedResponse(f"Rancher's paging of {path} does not end.", url=base_url + path)
        seen.add(next_url)
        body = http.request("GET", next_url, params=params)
        params = None  # the "next" link already carries limit and marker
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise MalformedResponse(
                f"Rancher answered {path} without a data list.", status=200, url=base_url + path
            )
        items.extend(i for i in data if isinstance(i, dict))
        pagination = body.get("pagination")
        nxt = pagination.get("next") if isinstance(pagination, dict) else None
        next_url = rebase(nxt, path, base_url) if isinstance(nxt, str) and nxt else None
    return items


def rebase(link: str, path: str, base_url: str) -> str:
    """Keep a Norman "next" link's path and query, but send it to our own base URL.

    Norman builds links from the Host and X-Forwarded-* headers it saw, which a proxy may have rewritten
    (http instead of https, an internal name); the token must only ever go to the URL the user configured.
    """
    parts = urlsplit(link)
    prefix = urlsplit(base_url).path
    rel = parts.path[len(prefix) :] if prefix and parts.path.startswith(prefix + "/") else parts.path
    if not rel.startswith(path):
        raise MalformedResponse(f"Rancher's next-page link for {path} points elsewhere.", url=base_url + path)
    return rel + (f"?{parts.query}" if parts.query else "")


def k8s_items(
    http: Transport, base_url: str, path: str, page_size: int, extra: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """All items of a Kubernetes list, page by page; restart once if a continue token expired (410)."""
    return k8s_list(http, base_url, path, page_size, extra)[0]


def k8s_list(
    http: Transport, base_url: str, path: str, page_size: int, extra: Mapping[str, str] | None = None
) -> tuple[list[dict[str, Any]], str]:
    """All items of a Kubernetes list and the list's resourceVersion (its first page's: where a watch resumes)."""
    for attempt in (1, 2):
        version = ""
        items: list[dict[str, Any]] = []
        token: str | None = None
        seen: set[str] = set()
        try:
            while True:
                params: dict[str, str | int] = {"limit": page_size, **(extra or {})}
                if token:
                    params["continue"] = token
                body = http.request("GET", path, params=params)
                page = body.get("items") if isinstance(body, dict) else None
                if not isinstance(page, list):
                    raise MalformedResponse(
                        f"Kubernetes answered {path} without an items list.", status=200, url=base_url + path
                    )
                items.extend(i for i in page if isinstance(i, dict))
                meta = body.get("metadata")
                if not version and isinstance(meta, dict):
                    version = str(meta.get("resourceVersion") or "")
                nxt = meta.get("continue") if isinstance(meta, dict) else None
                if not isinstance(nxt, str) or not nxt:
                    return items, version
                if nxt in seen or len(seen) >= MAX_PAGES:
                    raise MalformedResponse(f"The paging of {path} does not end.", url=base_url + path)
                seen.add(nxt)
                token = nxt
        except RancherAPIError as exc:
            # A continue token lives about five minutes; past that the server answers 410 Expired.
            if exc.status == 410 and token and attempt == 1:
                log.info("Continue token for %s expired; listing again from the start", path)
                continue
            raise
    raise AssertionError("unreachable")  # pragma: no cover
