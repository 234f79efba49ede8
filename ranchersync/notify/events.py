"""The notification events (DESIGN.md, "Notification") and the message each one becomes: a title with the
environments, Markdown-safe lines (who, result, each service previous → new) and a link to the history entry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ranchersync.kernel.textsafe import escape_markdown

EVENTS: Final[dict[str, str]] = {
    "sync.succeeded": "Sync succeeded",
    "sync.failed": "Sync failed",
    "sync.rolled_back": "Sync rolled back",
    "verification.failed": "Verification failed",
    "approval.requested": "Approval requested",
    "approval.decided": "Approval decided",
    "freeze.override": "Freeze overridden",
    "freeze.stop_all": "Stop-all started or lifted",
    "lock.added": "Lock added",
    "schedule.fired": "Scheduled promotion fired",
    "token.expiring": "Token expiring",
    "site.unreachable": "Site unreachable",
    "site.recovered": "Site recovered",
    "image.quarantined": "Image quarantined",
    "test": "Test message",
}
# What a subscriber can choose; "test" is only ever sent by "Send a test".
SUBSCRIBABLE: Final = tuple(name for name in EVENTS if name != "test")
# Apprise's notification types, which colour the message on Slack, Teams, Discord…
_TYPES: Final = {"sync.succeeded": "success", "site.recovered": "success", "sync.failed": "failure",
                 "verification.failed": "failure",
                 "site.unreachable": "failure", "sync.rolled_back": "warning", "token.expiring": "warning",
                 "freeze.override": "warning", "freeze.stop_all": "warning",
                 "image.quarantined": "failure", "lock.added": "warning"}


@dataclass(frozen=True)
class Message:
    """A rendered notification."""

    title: str
    body: str  # Markdown, every value escaped
    kind: str  # Apprise notify type: info, success, warning, failure


def check_events(names: str | list[str] | tuple[str, ...]) -> list[str]:
    """Event names from a comma-separated text or a list, each known; a ValidationError names the valid ones."""
    from ranchersync.kernel.errors import ValidationError

    items = names.split(",") if isinstance(names, str) else list(names)
    chosen = list(dict.fromkeys(n.strip() for n in items if n.strip()))
    unknown = [n for n in chosen if n not in SUBSCRIBABLE]
    if unknown or not chosen:
        what = f"unknown event(s) {', '.join(unknown)}" if unknown else "no event chosen"
        raise ValidationError(f"{what}: use some of {', '.join(SUBSCRIBABLE)}")
    return chosen


def render(event: str, payload: Mapping[str, Any], public_url: str = "") -> Message:
    """The message for one event. Every value from outside (names, images, reasons, errors) is escaped."""
    e = escape_markdown
    title = f"{EVENTS.get(event, event)}"
    lines: list[str] = []
    source, target = payload.get("source"), payload.get("target") or payload.get("environment")
    if source and target and source != target:
        title = f"{title}: {source} → {target}"
    elif target:
        title = f"{title}: {target}"
    elif payload.get("site"):
        title = f"{title}: {payload['site']}"
    if payload.get("operationId"):
        kind = "Rollback" if payload.get("kind") == "rollback" else "Sync"
        lines.append(f"**{kind} #{payload['operationId']}** — result: **{e(payload.get('status', ''))}**")
    if payload.get("actor"):
        lines.append(f"By: {e(payload['actor'])}")
    for service in payload.get("services", ()):
        status = f" ({e(service.get('status', ''))})" if service.get("status") else ""
        lines.append(f"- {e(service.get('name', ''))}: {e(service.get('previous') or '—')} → "
                     f"{e(service.get('new') or '—')}{status}")
        if service.get("changelog"):
            lines.append(f"  - Changelog: {e(service['changelog'])}")
    for key, label in (("detail", ""), ("error", "Error: "), ("reason", "Reason: "), ("decision", "Decision: ")):
        if payload.get(key):
            lines.append(f"{label}{e(payload[key])}")
    link = _link(payload, public_url)
    if link:
        lines.append(f"[Open in Rancher Sync Manager]({link})")
    return Message(escape_plain_title(title), "\n".join(lines) or e(title), _TYPES.get(event, "info"))


def escape_plain_title(title: str) -> str:
    """A title is plain text on most services: only control characters are removed."""
    from ranchersync.kernel.textsafe import printable

    return printable(title).replace("\n", " ")[:250]


def _link(payload: Mapping[str, Any], public_url: str) -> str:
    base = public_url.rstrip("/")
    if not base or not base.startswith(("http://", "https://")):
        return ""
    if payload.get("operationId"):
        return f"{base}/Sync_history?operation={int(payload['operationId'])}"
    if payload.get("requestId"):
        return f"{base}/Approvals"
    if payload.get("site"):
        return f"{base}/Sites"
    return base
