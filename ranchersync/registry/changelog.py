"""What changes between two images, from their OCI labels: "commits a1b2c3d → e4f5a6b", a compare link, the dates.

The compare link follows the GitHub/Gitea style (``/compare/a...b``) or GitLab's (``/-/compare/a...b``); a source
that is not an http(s) URL gets none. No labels at all is said as such ("no labels").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypedDict
from urllib.parse import urlsplit

from ranchersync.registry.media import CREATED, REVISION, SOURCE, VERSION

SHORT = 7


class ChangelogPayload(TypedDict):
    """A changelog as the plan's JSON rows and `images inspect --json` carry it."""

    fromRevision: str | None
    toRevision: str | None
    source: str | None
    compareUrl: str | None
    fromVersion: str | None
    toVersion: str | None
    fromCreated: str | None
    toCreated: str | None
    summary: str


@dataclass(frozen=True)
class Changelog:
    """From one image to the next, as their labels tell it."""

    from_revision: str | None
    to_revision: str | None
    source: str | None
    compare_url: str | None
    from_version: str | None = None
    to_version: str | None = None
    from_created: str | None = None
    to_created: str | None = None

    @property
    def labelled(self) -> bool:
        return any((self.from_revision, self.to_revision, self.source, self.to_version, self.to_created))

    def sentence(self, link: bool = True) -> str:
        """One line for a review, a ticket or a notification (without the compare link or source: `link=False`)."""
        if not self.labelled:
            return "no labels"
        parts = []
        if self.from_revision or self.to_revision:
            parts.append(f"commits {_short(self.from_revision)} → {_short(self.to_revision)}")
        if self.from_version or self.to_version:
            parts.append(f"version {self.from_version or '?'} → {self.to_version or '?'}")
        if self.to_created:
            parts.append(f"built {self.to_created}" + (f" (was {self.from_created})" if self.from_created else ""))
        if link and (self.compare_url or self.source):
            parts.append(self.compare_url or self.source or "")
        return "; ".join(parts)

    def payload(self) -> ChangelogPayload:
        return {"fromRevision": self.from_revision, "toRevision": self.to_revision, "source": self.source,
                "compareUrl": self.compare_url, "fromVersion": self.from_version, "toVersion": self.to_version,
                "fromCreated": self.from_created, "toCreated": self.to_created, "summary": self.sentence()}


def changelog(previous: Mapping[str, str] | None, new: Mapping[str, str]) -> Changelog:
    """The changelog from `previous`'s labels (None when unknown) to `new`'s."""
    old = previous or {}
    source = new.get(SOURCE) or old.get(SOURCE)
    start, end = old.get(REVISION), new.get(REVISION)
    return Changelog(start, end, source, compare_url(source, start, end), old.get(VERSION), new.get(VERSION),
                     old.get(CREATED), new.get(CREATED))


def compare_url(source: str | None, start: str | None, end: str | None) -> str | None:
    """The forge's page comparing two revisions of `source`, or None."""
    if not source or not start or not end or start == end:
        return None
    parts = urlsplit(source.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/').removesuffix('.git')}"
    marker = "/-/compare/" if "gitlab" in parts.netloc.lower() else "/compare/"
    return f"{base}{marker}{start}...{end}"


def _short(revision: str | None) -> str:
    return revision[:SHORT] if revision else "?"
