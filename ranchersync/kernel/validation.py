"""Checks of user input shared by the dashboard and the CLI; each failure is one clear ValidationError."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable, Collection
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ranchersync.kernel.errors import InvalidFields, ValidationError

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*:[A-Za-z0-9]+$")
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


NAME_MAX_LENGTH = 100  # the names' column width; inputs use it as max_chars
DESCRIPTION_MAX_LENGTH = 500
CA_BUNDLE_MAX_BYTES = 256 * 1024  # the dashboard's upload is capped at 1 MB by server.maxUploadSize too
# Bidi embeddings, overrides and isolates reorder what a reader sees ("Prod" that displays as another name).
# The only format characters a name keeps: joiners shape Indic scripts and emoji (कृ‍ष, 👩‍💻); names are compared
# without them.
_JOINERS = frozenset("\u200c\u200d")
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def check_fields(**checks: Callable[[], Any]) -> dict[str, Any]:
    """Run one check per field and return each one's cleaned value; when any fails, raise one InvalidFields naming
    every wrong field (a form shows them all at once, each under its field). A check that itself raises
    InvalidFields adds its fields."""
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    failed: list[ValidationError] = []
    for field, check in checks.items():
        try:
            values[field] = check()
        except InvalidFields as invalid:
            problems.update(invalid.fields)
            failed.append(invalid)
        except ValidationError as error:
            problems[field] = str(error)
            failed.append(error)
    if problems:
        # One failure keeps its own headline ("No such namespace"); every failure keeps its hint.
        title = failed[0].title if len(failed) == 1 else None
        hint = " ".join(dict.fromkeys(error.hint for error in failed if error.hint))
        raise InvalidFields(problems, title=title, hint=hint or None)
    return values


def clean_name(value: str, what: str, max_length: int = NAME_MAX_LENGTH) -> str:
    """A display name: trimmed, not empty, not too long, and shown as it reads (no control, bidi or other format
    characters: a right-to-left mark or a zero-width space makes a second "prod" that reads like the first)."""
    name = (value or "").strip()
    if not name:
        raise ValidationError(f"the {what} name must not be empty")
    if len(name) > max_length:
        raise ValidationError(f"the {what} name is longer than {max_length} characters")
    name = _displayable(name, f"the {what} name")
    if any(unicodedata.category(c) == "Cf" and c not in _JOINERS for c in name):
        raise ValidationError(f"the {what} name must not contain invisible format characters (zero-width spaces "
                              "or joiners, direction marks)")
    return name


def name_key(name: str) -> str:
    """What two names are compared by: NFKC-folded and case-folded, joiners left out, so "ｐｒｏｄ", "PROD",
    "pro\u200dd" and "prod" are one name."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return "".join(c for c in folded if c not in _JOINERS).strip()


def clean_description(value: str | None) -> str:
    """A free-text description: trimmed, at most DESCRIPTION_MAX_LENGTH, no control or bidi characters."""
    text = (value or "").strip()
    if len(text) > DESCRIPTION_MAX_LENGTH:
        raise ValidationError(f"the description is longer than {DESCRIPTION_MAX_LENGTH} characters")
    return _displayable(text, "the description", allow_newlines=True) if text else ""


def _displayable(text: str, what: str, *, allow_newlines: bool = False) -> str:
    allowed = "\n" if allow_newlines else ""
    if any(unicodedata.category(c) == "Cc" and c not in allowed for c in text):
        raise ValidationError(f"{what} must not contain control characters (tabs, line breaks, escapes)")
    if any(c in _BIDI_CONTROLS for c in text):
        raise ValidationError(f"{what} must not contain bidirectional override characters")
    # Zero-width joiners belong inside some scripts and emoji; a name made of nothing else looks empty.
    if all(unicodedata.category(c) in ("Cf", "Zs", "Zl", "Zp") or c.isspace() for c in text):
        raise ValidationError(f"{what} has no visible character")
    return text


def normalize_rancher_url(url: str, *, allow_http: bool = False) -> str:
    """The Rancher server's base URL: https unless the host is loopback or plain HTTP was explicitly allowed."""
    raw = (url or "").strip()
    if not raw:
        raise ValidationError("the Rancher URL must not be empty")
    # No message here quotes the input: a token pasted into the URL field would be shown, logged and stored.
    try:
        parts = urlsplit(raw)
    except ValueError:  # e.g. an unbalanced "[" in the host
        raise ValidationError("the address is not a URL: write it like https://rancher.example.com") from None
    if parts.scheme and "://" in raw and parts.scheme not in ("http", "https"):
        # ftp://, ssh://, wss://…: a URL, only of the wrong kind; say what it must be (no echo: see above).
        raise ValidationError(
            "the Rancher URL must use https: write it like https://rancher.example.com"
        )
    if parts.scheme not in ("http", "https"):
        raise ValidationError(
            "the address is not a URL: it must start with https:// (write it like https://rancher.example.com)"
        )
    if not parts.hostname:
        raise ValidationError("the address is not a URL: it has no host (write it like https://rancher.example.com)")
    if parts.username or parts.password:
        raise ValidationError("put the API token in the token field, not in the URL")
    if parts.query or parts.fragment:
        raise ValidationError("the Rancher URL must not carry a query (?…) or a fragment (#…)")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port lazily
    except ValueError:
        raise ValidationError(f"the address {parts.scheme}://{parts.hostname} has an invalid port") from None
    if parts.scheme == "http" and not allow_http and not is_loopback(parts.hostname):
        raise ValidationError(
            "the Rancher URL must use https: the API token would cross the network in clear over http "
            "(allow plain HTTP explicitly only for a lab server)"
        )
    # People paste the API root or the dashboard address; keep the server's base URL.
    path = re.sub(r"/(v3|v1|dashboard)(/.*)?$", "", parts.path).rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc.lower(), path, "", ""))


def is_loopback(host: str) -> bool:
    """Whether a host name or address points at this machine."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_token(token: str) -> str:
    """An API token in Rancher's bearer form, name:secret."""
    value = (token or "").strip()
    if not value:
        raise ValidationError("the API token must not be empty")
    if not _TOKEN.match(value):
        # Never echo the token back: it may be a real secret pasted into the wrong field.
        raise ValidationError(
            "the API token must look like token-xxxxx:secret (the bearer token Rancher shows once when an "
            "API key is created)"
        )
    return value


def check_ca_bundle(pem: str | bytes | None) -> str | None:
    """A PEM bundle of one or more CA certificates, or None."""
    if pem is None:
        return None
    if len(pem) > CA_BUNDLE_MAX_BYTES:
        raise ValidationError(f"the CA bundle is larger than {CA_BUNDLE_MAX_BYTES // 1024} KiB: a CA bundle holds a "
                              "few certificates, a few KiB each")
    text = pem.decode("utf-8", "replace") if isinstance(pem, bytes) else pem
    if not text.strip():
        return None
    try:
        from cryptography import x509  # here: every Rancher call imports this module, few check a CA bundle

        certificates = x509.load_pem_x509_certificates(text.encode())
    except ValueError:
        raise ValidationError("the CA bundle is not a PEM certificate (-----BEGIN CERTIFICATE-----…)") from None
    if not certificates:
        raise ValidationError("the CA bundle holds no certificate")
    return text.strip() + "\n"


def check_namespace(namespace: str) -> str:
    """A Kubernetes namespace name: a DNS-1123 label."""
    value = (namespace or "").strip()
    if not value:
        raise ValidationError("the namespace must not be empty")
    if len(value) > 63 or not _DNS1123_LABEL.match(value):
        raise ValidationError(
            f"'{value}' is not a valid namespace: use at most 63 lower-case letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return value


def check_color(color: str) -> str:
    """A colour as #RRGGBB, upper-cased."""
    value = (color or "").strip()
    if not _COLOR.match(value):
        raise ValidationError(f"'{value}' is not a colour: write it as #RRGGBB, e.g. #2E7D32")
    return value.upper()


def check_cascade(current_ids: set[int], cascade: bool, expected: Collection[int] | None) -> None:
    """A cascade removes exactly the app instances its confirmation showed (`expected` ids), or nothing."""
    if cascade and expected is not None and current_ids != set(expected):
        raise ValidationError("the app instances changed since this confirmation opened: review them and confirm again")
