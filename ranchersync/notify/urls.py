"""Apprise URLs hold secrets (webhook tokens in the path, passwords, API keys in the query, and for Pushbullet,
Opsgenie, Pushover, PagerDuty or Slack the "host" itself): checked on entry, shown masked (the scheme and a
fingerprint, nothing of the URL itself), and kept out of every log line Apprise or urllib3 would write.

They are also a way out of the network: a URL may not point at an address the host policy refuses, nor carry the
options that would turn a notification into a probe (another HTTP method, header overrides, following redirects)."""

from __future__ import annotations

import hashlib
import logging
import threading
import warnings
from types import ModuleType
from typing import Final
from urllib.parse import parse_qsl, unquote, urlsplit

from ranchersync.kernel.errors import ValidationError
from ranchersync.security.host_policy import HostPolicy, HostRefused

# Loggers that may print a URL, its path or its query while a notification is sent.
_LOGGERS: Final = ("apprise", "urllib3.connectionpool", "requests")
_SHORTEST_SECRET: Final = 3  # parts shorter than this ("v1", "a") would only garble unrelated words
MASK: Final = "****"


def mask_url(url: str) -> str:
    """What a page, a log, the audit log or JSON may show of an Apprise URL: its scheme and a fingerprint (the first
    8 hex digits of the URL's SHA-256), e.g. `slack://#1f0c9a2e`. No part of the URL survives: for several services
    the host or the first path segment is the key itself."""
    value = (url or "").strip()
    try:
        scheme = urlsplit(value).scheme.lower()
    except ValueError:
        return "(invalid URL)"
    if not scheme or not value:
        return "(invalid URL)"
    return f"{scheme}://#{fingerprint(value)}"


def fingerprint(url: str) -> str:
    """8 hex digits that tell two URLs apart without revealing either."""
    return hashlib.sha256(url.strip().encode()).hexdigest()[:8]


def secret_parts(url: str) -> set[str]:
    """Every piece of `url` that could identify or unlock its target: the URL itself, user, password, path and
    its segments, the query and its values (quoted and unquoted)."""
    found = {url}
    try:
        parts = urlsplit(url)
        candidates = [parts.username or "", parts.password or "", parts.path, parts.query, parts.fragment,
                      *parts.path.split("/"), *(v for _, v in parse_qsl(parts.query))]
    except ValueError:
        return found
    for value in candidates:
        for form in (value, unquote(value)):
            if len(form.strip("/")) >= _SHORTEST_SECRET:
                found.add(form.strip("/"))
    return found


def check_url(url: str, policy: HostPolicy | None = None) -> str:
    """A stripped Apprise URL that Apprise understands and that stays inside the host policy (when given);
    a ValidationError (naming only the scheme) otherwise."""
    value = (url or "").strip()
    if not value or "://" not in value:
        raise ValidationError("give an Apprise URL such as json://host/path, slack://… or mailto://… "
                              "(see https://github.com/caronc/Apprise/wiki)")
    check_probe_options(value)
    if policy is not None:
        try:
            check_hosts(value, policy)
        except HostRefused as exc:
            raise ValidationError(f"this {mask_url(value)} URL points where notifications may not go: {exc}") \
                from None
    apprise = load_apprise()
    with redacted(value):
        plugin = apprise.Apprise.instantiate(value, suppress_exceptions=True)
    if plugin is None:
        raise ValidationError(f"Apprise does not understand this {mask_url(value)} URL: check its form in "
                              "Apprise's documentation for that service")
    return value


_TRUE: Final = frozenset({"1", "yes", "true", "on", "y"})


def query_options(url: str) -> list[tuple[str, str]]:
    """The URL's query as Apprise reads it: a `+` stays a `+` (parse_qsl would make it a space)."""
    query = urlsplit(url).query
    pairs = []
    for item in query.split("&"):
        if item:
            key, _, value = item.partition("=")
            pairs.append((unquote(key).strip(), unquote(value).strip()))
    return pairs


def check_probe_options(url: str) -> None:
    """Refuse the options that make a notification a probe: an HTTP method other than POST, header overrides
    (`+Header=value`), and following redirects. A ValidationError names the option, never its value."""
    shown = mask_url(url)
    for key, value in query_options(url):
        name = key.lower()
        if name.startswith("+"):
            raise ValidationError(f"this {shown} URL overrides request headers ({key}): not allowed for notifications")
        if name == "method" and value.upper() not in ("", "POST"):
            raise ValidationError(f"this {shown} URL sets method={value.upper()[:10]}: notifications are only POSTed")
        if name in ("redirect", "redirects") and value.lower() in _TRUE:
            raise ValidationError(f"this {shown} URL follows redirects: not allowed for notifications")


def check_hosts(url: str, policy: HostPolicy) -> None:
    """The URL's host (and a mail URL's `smtp=` server) by spelling: metadata names and refused addresses. Not
    resolved and not matched against the allow-list here: for Slack, Pushover and others the "host" is a key, which
    a DNS query would leak; every connection is checked when the message is sent (``security.egress``)."""
    deny_only = HostPolicy((), resolve=policy.resolve)
    parts = urlsplit(url)
    hosts = [parts.hostname or ""]
    hosts += [value for key, value in query_options(url) if key.lower() == "smtp" and value]
    for host in hosts:
        if host:
            deny_only.check_name(host)


_LOADED: list[ModuleType] = []


def load_apprise() -> ModuleType:
    """Apprise with its plugins loaded, once. Its e-mail plugin imports `imghdr`, deprecated since Python 3.11:
    that warning is Apprise's to fix, and must not turn into an error where warnings are errors (the tests)."""
    if not _LOADED:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*'imghdr' is deprecated", category=DeprecationWarning)
            import apprise
            from apprise.manager_plugins import NotificationManager

            NotificationManager().load_modules()
        install_redactor()
        _LOADED.append(apprise)
    return _LOADED[0]


class _Redactor(logging.Filter):
    """Replaces registered secrets in every record of the loggers that send notifications."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: dict[str, int] = {}

    def add(self, values: set[str]) -> None:
        with self._lock:
            for value in values:
                self._secrets[value] = self._secrets.get(value, 0) + 1

    def remove(self, values: set[str]) -> None:
        with self._lock:
            for value in values:
                left = self._secrets.get(value, 0) - 1
                if left > 0:
                    self._secrets[value] = left
                else:
                    self._secrets.pop(value, None)

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        if not secrets:
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        cleaned = message
        for secret in secrets:
            cleaned = cleaned.replace(secret, MASK)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


REDACTOR: Final = _Redactor()


def install_redactor() -> None:
    """Attach the redactor to the loggers that may print a URL, and keep Apprise's own chatter at warnings."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if REDACTOR not in logger.filters:
            logger.addFilter(REDACTOR)
    apprise_logger = logging.getLogger("apprise")
    if apprise_logger.level in (logging.NOTSET,) or apprise_logger.level < logging.WARNING:
        apprise_logger.setLevel(logging.WARNING)  # its DEBUG lines print the POST URL and the whole payload


class redacted:
    """While the block runs, `url`'s secret parts are masked in the notification loggers' records."""

    def __init__(self, url: str) -> None:
        self._parts = secret_parts(url)

    def __enter__(self) -> None:
        install_redactor()
        REDACTOR.add(self._parts)

    def __exit__(self, *exc: object) -> None:
        REDACTOR.remove(self._parts)

    def clean(self, text: str) -> str:
        """`text` with the URL's secret parts masked (an error message on its way to the database)."""
        for secret in sorted(self._parts, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text
