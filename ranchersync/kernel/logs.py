"""Logging set up in one place: plain text or one JSON object per line (`RANCHERSYNC_LOG_FORMAT=json`), and a
redaction filter on the handler, so no secret reaches a log line whatever logger (ours or a library's) wrote it.

Secrets recognised: Rancher API tokens (`token-xxxxx:secret`: the secret half goes), `Authorization`/`Cookie`
headers and bearer tokens, Fernet keys and Fernet tokens (encrypted tokens stay out too), the credentials of a URL
(`scheme://user:password@host`), everything after `://` in a non-web URL (Apprise's service URLs carry their
secrets in the path: `slack://TokenA/TokenB/TokenC`), and `token=`/`password=`-like parameters.

The CLI (`ranchersync.cli.main`) and the dashboard (`ui.deps`) call `setup_logging()` once; a second call changes
nothing. Events carry their facts as `extra`: `event` ("sync.applying"), `operation_id`, `actor`, `environment`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import sys
from typing import Any, TextIO

REDACTED = "[REDACTED]"
# Facts an event may carry (logging's `extra`), in the order a JSON line lists them.
EVENT_FIELDS = ("event", "operation_id", "actor", "environment", "service", "target", "status")
_WEB_SCHEMES = ("http", "https", "postgresql", "postgres", "sqlite", "file", "ws", "wss")

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization / Proxy-Authorization / Cookie headers, as a header line, a dict repr or key=value.
    (re.compile(r"(?i)((?:proxy-)?authorization|cookie|x-api-key)(['\"]?\s*[:=]\s*['\"]?)[^'\"\n,}]+"),
     rf"\1\2{REDACTED}"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=:-]{6,}"), rf"\1 {REDACTED}"),
    # Rancher tokens: the access key names the token (Rancher shows it), the part after the colon is the secret.
    (re.compile(r"\b(token-[a-z0-9]{3,}):[A-Za-z0-9]{8,}"), rf"\1:{REDACTED}"),
    # Fernet tokens (an encrypted API token) and Fernet keys (32 bytes, URL-safe base64: 43 characters and '=').
    (re.compile(r"\bgAAAAA[A-Za-z0-9_=-]{20,}"), REDACTED),
    (re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}=(?![A-Za-z0-9_=-])"), REDACTED),
    # token=…, password=…, secret=…, api_key=… in query strings and key=value text.
    (re.compile(r"(?i)\b((?:access_?|api_?|auth_?)?(?:token|password|passwd|secret|apikey|api_key|key))=([^&\s'\"]+)"),
     rf"\1={REDACTED}"),
)
_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]{1,30})://([^\s'\"<>]+)")


def _redact_url(match: re.Match[str]) -> str:
    scheme, rest = match.group(1), match.group(2)
    base = scheme.lower().split("+", 1)[0]
    if base not in _WEB_SCHEMES:  # an Apprise (or other service) URL: its path may be the secret itself
        return f"{scheme}://{REDACTED}"
    authority, sep, tail = rest.partition("/")
    if "@" in authority:
        authority = f"{REDACTED}@{authority.rpartition('@')[2]}"
    return f"{scheme}://{authority}{sep}{tail}"


def redact(text: str) -> str:
    """The text with every recognised secret replaced by [REDACTED]."""
    text = _URL.sub(_redact_url, text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's message, arguments, exception and stack text and event facts through `redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string: keep what can be shown
            message = f"{record.msg!s} {record.args!r}"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
            record.exc_info = None  # the formatter would format the raw exception again
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name in EVENT_FIELDS:
            value = getattr(record, name, None)
            if isinstance(value, str):
                setattr(record, name, redact(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, event, message and the event's facts."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": getattr(record, "event", None) or "log",
            "message": record.getMessage(),
        }
        for name in EVENT_FIELDS[1:]:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger event [op=… actor=… env=…] message`, for a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(facts)s%(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return dt.datetime.fromtimestamp(record.created, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def format(self, record: logging.LogRecord) -> str:
        facts = [str(getattr(record, "event", "") or "")]
        for label, name in (("op", "operation_id"), ("actor", "actor"), ("env", "environment")):
            value = getattr(record, name, None)
            if value is not None:
                facts.append(f"{label}={value}")
        record.facts = " ".join(f for f in facts if f) + (": " if any(facts) else "")
        return super().format(record)


HANDLER_NAME = "ranchersync"  # the one handler setup_logging installs, found again by name


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (a test's capture, a redirected stream), not the one at set-up."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def setup_logging(
    fmt: str | None = None, level: str | None = None, stream: TextIO | None = None, *, quiet_text: bool = False
) -> logging.Handler:
    """Install the one handler on the root logger (idempotent: a second call returns the handler in place).

    `fmt` defaults to RANCHERSYNC_LOG_FORMAT (`text` or `json`), `level` to RANCHERSYNC_LOG_LEVEL, else INFO.
    `quiet_text`: in text format without an explicit level, log warnings only (the CLI prints its own progress
    for people; the step events are for machines, in JSON).
    """
    root = logging.getLogger()
    for existing in root.handlers:
        if existing.get_name() == HANDLER_NAME:
            return existing
    chosen = (fmt or os.environ.get("RANCHERSYNC_LOG_FORMAT") or "text").strip().lower()
    if chosen not in ("text", "json"):
        chosen = "text"
    handler: logging.Handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.set_name(HANDLER_NAME)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    root.addHandler(handler)
    default = "WARNING" if quiet_text and chosen == "text" else "INFO"
    wanted = (level or os.environ.get("RANCHERSYNC_LOG_LEVEL") or default).upper()
    root.setLevel(wanted if wanted in logging.getLevelNamesMapping() else "INFO")
    return handler


def remove_logging() -> None:
    """Take the handler away again (tests)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == HANDLER_NAME:
            root.removeHandler(handler)
