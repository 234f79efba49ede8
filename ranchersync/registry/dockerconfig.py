"""Registry credentials from a Kubernetes pull secret (``kubernetes.io/dockerconfigjson``, or the older
``kubernetes.io/dockercfg``), by registry host as images name it. Passwords become `Secret`s at once; nothing here
logs, stores or repeats a value, and a secret that cannot be read says only that (never its content)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ranchersync.kernel.errors import ValidationError
from ranchersync.registry.http import Credentials, Secret
from ranchersync.registry.store import normalize_host

DOCKERCONFIGJSON = "kubernetes.io/dockerconfigjson"
DOCKERCFG = "kubernetes.io/dockercfg"
_DOCKER_HUB = ("index.docker.io", "registry-1.docker.io", "registry.hub.docker.com")


class UnreadablePullSecret(ValueError):
    """A pull secret that is not of a pull secret's type or shape (the message names no value)."""


def _host(key: str) -> str:
    """``https://index.docker.io/v1/`` → ``docker.io``; ``http://127.0.0.1:5000`` → ``127.0.0.1:5000``."""
    raw = key.strip()
    netloc = urlsplit(raw if "://" in raw else f"//{raw}").netloc or raw
    netloc = netloc.lower()
    if netloc in _DOCKER_HUB:
        return "docker.io"
    return normalize_host(netloc)


def pull_credentials(secret_type: str, data: Mapping[str, str]) -> dict[str, Credentials]:
    """Credentials by registry host from a secret's type and data (base64 values, as the API gives them)."""
    if secret_type == DOCKERCONFIGJSON:
        raw, nested = data.get(".dockerconfigjson"), True
    elif secret_type == DOCKERCFG:
        raw, nested = data.get(".dockercfg"), False
    else:
        raise UnreadablePullSecret(f"it is of type {secret_type}, not {DOCKERCONFIGJSON}")
    try:
        document: Any = json.loads(base64.b64decode(raw or "", validate=True))
    except (ValueError, binascii.Error):
        raise UnreadablePullSecret("its data is not a Docker config") from None
    auths = document.get("auths") if nested and isinstance(document, dict) else document
    if not isinstance(auths, dict):
        raise UnreadablePullSecret("its data holds no registry credentials")
    found: dict[str, Credentials] = {}
    for key, entry in auths.items():
        if not isinstance(entry, dict):
            continue
        username, password = entry.get("username"), entry.get("password")
        if not (isinstance(username, str) and isinstance(password, str) and username and password):
            try:
                username, _, password = base64.b64decode(str(entry.get("auth") or ""), validate=True) \
                    .decode().partition(":")
            except (ValueError, binascii.Error):
                continue
        if not username or not password:
            continue
        try:
            host = _host(str(key))
        except ValidationError:
            continue
        found.setdefault(host, Credentials(username, Secret(password)))
    return found
