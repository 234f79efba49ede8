"""The drift report: for each pair of neighbouring environments, the services waiting for promotion and since when
the source has been ahead (from history), and the services whose copies inside one environment disagree.

`drift_report` is pure (a comparison and a lookup of "when did this environment get this version" in, the report
out); `build_drift_report` reads Rancher and the history.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ranchersync.catalogue.sites import ClientFactory
from ranchersync.inventory.compare import Cell, CompareBy, Comparison, compare_environments
from ranchersync.kernel.csvexport import defuse_formula as safe_cell
from ranchersync.kernel.textsafe import escape_markdown, markdown_cell
from ranchersync.models import SyncOperation, SyncResult
from ranchersync.rancher import RancherClient
from ranchersync.security.crypto import TokenCipher

Format = Literal["md", "csv", "json"]
# (environment id, kind, name, image) → when that environment got that image by a successful sync, or None.
SinceLookup = Callable[[int, str, str, str], dt.datetime | None]


@dataclass(frozen=True)
class Pending:
    """A service the source environment runs in another version than the target (or the target lacks)."""

    source: str
    target: str
    kind: str
    service: str
    source_version: str
    target_version: str  # "" when the target does not run it
    ahead_since: dt.datetime | None  # when the source got its version (None: before the recorded history)

    def sentence(self) -> str:
        """"Stage has been ahead of Prod for cart since 2026-11-20"."""
        since = f"since {self.ahead_since:%Y-%m-%d}" if self.ahead_since else "since before the recorded history"
        return f"{self.source} has been ahead of {self.target} for {self.service} {since}"


@dataclass(frozen=True)
class Inconsistency:
    """A service whose app instances inside one environment run different versions."""

    environment: str
    kind: str
    service: str
    versions: tuple[str, ...]


@dataclass(frozen=True)
class DriftReport:
    """Pending promotions per neighbouring pair, and inconsistencies inside environments."""

    pairs: tuple[tuple[str, str], ...]
    pending: tuple[Pending, ...]
    inconsistent: tuple[Inconsistency, ...]
    generated_at: dt.datetime

    def payload(self) -> dict[str, Any]:
        """The JSON shape (camelCase)."""
        return {
            "generatedAt": self.generated_at.isoformat(),
            "pairs": [{"source": s, "target": t} for s, t in self.pairs],
            "pending": [{"source": p.source, "target": p.target, "kind": p.kind, "service": p.service,
                         "sourceVersion": p.source_version, "targetVersion": p.target_version or None,
                         "aheadSince": p.ahead_since.isoformat() if p.ahead_since else None,
                         "sentence": p.sentence()} for p in self.pending],
            "inconsistent": [{"environment": i.environment, "kind": i.kind, "service": i.service,
                              "versions": list(i.versions)} for i in self.inconsistent],
        }


def _tags(cell: Cell) -> str:
    return cell.image_tag


def drift_report(comparison: Comparison, since: SinceLookup, now: dt.datetime) -> DriftReport:
    """The report of a comparison (environments in pipeline order)."""
    envs = comparison.environments
    pending: list[Pending] = []
    for j in range(1, len(envs)):
        for row in comparison.rows:
            before, cell = row.cells[j - 1], row.cells[j]
            if not before.services or (not cell.services and cell.unreadable) or not row.promotable:
                continue  # nothing to promote, unknown, or a kind no sync promotes (a CronJob)
            if cell.services and cell.versions == before.versions:
                continue
            got = [since(envs[j - 1].id, row.kind, row.name, image)
                   for s in before.services for image in s.images.values()]
            known = [g for g in got if g is not None]
            pending.append(Pending(envs[j - 1].name, envs[j].name, row.kind, row.name, _tags(before), _tags(cell),
                                   max(known) if known and len(known) == len(got) else None))
    inconsistent = [
        Inconsistency(cell.environment.name, row.kind, row.name,
                      tuple(dict.fromkeys(s.image_tag for s in cell.services)))
        for row in comparison.rows for cell in row.cells if cell.inconsistent
    ]
    pairs = tuple((envs[j - 1].name, envs[j].name) for j in range(1, len(envs)))
    order = {pair: k for k, pair in enumerate(pairs)}
    pending.sort(key=lambda p: (order[(p.source, p.target)], p.ahead_since or dt.datetime.min.replace(tzinfo=dt.UTC),
                                p.service))
    return DriftReport(pairs, tuple(pending), tuple(inconsistent), now)


def history_since(session: Session) -> SinceLookup:
    """The lookup from history: the newest successful sync that brought this image into this environment."""
    cache: dict[tuple[int, str, str, str], dt.datetime | None] = {}

    def lookup(env_id: int, kind: str, name: str, image: str) -> dt.datetime | None:
        key = (env_id, kind, name, image)
        if key not in cache:
            cache[key] = session.scalar(
                select(SyncResult.finished_at)
                .join(SyncOperation, SyncOperation.id == SyncResult.operation_id)
                .where(SyncOperation.target_environment_id == env_id, SyncResult.workload_kind == kind,
                       SyncResult.service == name, SyncResult.new_image == image, SyncResult.status == "success")
                .order_by(SyncResult.finished_at.desc()).limit(1)
            )
        return cache[key]

    return lookup


def build_drift_report(
    session: Session, cipher: TokenCipher, environments: Sequence[int | str] | None = None, *,
    compare_by: CompareBy = "image", factory: ClientFactory = RancherClient, now: dt.datetime | None = None,
) -> DriftReport:
    """Read the environments from Rancher (all of them, or the ones named) and report their drift."""
    comparison = compare_environments(session, cipher, environments, compare_by=compare_by, factory=factory)
    return drift_report(comparison, history_since(session), now or dt.datetime.now(dt.UTC))


def render_drift(report: DriftReport, form: Format) -> str:
    """The report as Markdown, CSV or JSON."""
    if form == "json":
        return json.dumps(report.payload(), indent=2, ensure_ascii=False)
    if form == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["type", "source", "target", "environment", "kind", "service", "source_version",
                         "target_version", "ahead_since"])
        for p in report.pending:
            writer.writerow([safe_cell(v) for v in ("pending", p.source, p.target, "", p.kind, p.service,
                                                    p.source_version, p.target_version,
                                                    p.ahead_since.isoformat() if p.ahead_since else "")])
        for i in report.inconsistent:
            writer.writerow([safe_cell(v) for v in ("inconsistent", "", "", i.environment, i.kind, i.service,
                                                    " | ".join(i.versions), "", "")])
        return out.getvalue()
    return _markdown(report)


def _markdown(report: DriftReport) -> str:
    e, c = escape_markdown, markdown_cell
    lines = [f"# Drift report — {report.generated_at:%Y-%m-%d %H:%M} UTC", ""]
    for source, target in report.pairs:
        items = [p for p in report.pending if (p.source, p.target) == (source, target)]
        lines.append(f"## {e(source)} → {e(target)}: {len(items)} waiting for promotion")
        lines.append("")
        if not items:
            lines += ["Nothing waits: both run the same versions.", ""]
            continue
        lines += ["| Service | Kind | " + c(e(source)) + " | " + c(e(target)) + " | Ahead since |",
                  "|---|---|---|---|---|"]
        for p in items:
            since = f"{p.ahead_since:%Y-%m-%d}" if p.ahead_since else "before the history"
            lines.append(f"| {c(e(p.service))} | {c(e(p.kind))} | {c(e(p.source_version))} | "
                         f"{c(e(p.target_version or 'missing'))} | {since} |")
        lines.append("")
        lines += [f"- {e(p.sentence())}" for p in items]
        lines.append("")
    lines.append(f"## Different versions inside one environment: {len(report.inconsistent)}")
    lines.append("")
    lines += [f"- {e(i.environment)}: {e(i.service)} runs {e(' | '.join(i.versions))}" for i in report.inconsistent]
    if not report.inconsistent:
        lines.append("None: every environment runs one version of each service.")
    return "\n".join(lines) + "\n"
