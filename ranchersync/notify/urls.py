"""Apprise URLs hold secrets (webhook tokens in the path, passwords, API keys in the query): checked on entry,
shown masked (scheme and host only), and kept out of every log line Apprise or urllib3 would write."""

from __future__ import annotations

import logging
import threading
import warnings
from types import ModuleType
from typing import Final
from urllib.parse import parse_qsl, unquote, urlsplit

from ranchersync.kernel.errors import ValidationError

# Loggers that may print a URL, its path or its query while a notification is sent.
_LOGGERS: Final = ("apprise", "urllib3.connectionpool", "requests")
_SHORTEST_SECRET: Final = 3  # parts shorter than this ("v1", "a") would only garble unrelated words
MASK: Final = "****"


def mask_url(url: str) -> str:
    """What a page, a log or JSON may show of an Apprise URL: its scheme and host (`slack://hooks.slack.com`)."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
    except ValueError:
        return "(invalid URL)"
    scheme = parts.scheme.lower() or "?"
    return f"{scheme}://{host}" if host else f"{scheme}://{MASK}"


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


def check_url(url: str) -> str:
    """A stripped Apprise URL that Apprise understands; a ValidationError (naming only the scheme) otherwise."""
    value = (url or "").strip()
    if not value or "://" not in value:
        raise ValidationError("give an Apprise URL such as json://host/path, slack://… or mailto://… "
                              "(see https://github.com/caronc/Apprise/wiki)")
    apprise = load_apprise()
    with redacted(value):
        plugin = apprise.Apprise.instantiate(value, suppress_exceptions=True)
    if plugin is None:
        raise ValidationError(f"Apprise does not understand this {mask_url(value)} URL: check its form in "
                              "Apprise's documentation for that service")
    return value


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
