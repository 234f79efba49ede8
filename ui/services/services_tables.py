"""The Services screen's tables, built from the core's inventories and comparison: pure pandas, no Streamlit.

Every table is indexed by a stable id (a service's "instance/kind/name", a comparison row's "kind/name"), so a
dataframe selection, which Streamlit reports by row position, is mapped back to ids at once (`ids_at`). The
comparison's own table is ui/shell/comparison_table.py (the cached reads build it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence

import pandas as pd
from pandas.io.formats.style import Styler

from ranchersync.inventory.compare import STATUS_SEVERITY, ComparisonRow
from ranchersync.inventory.compare import status_counts as status_counts_of
from ranchersync.inventory.reading import InstanceFailure, Service, display_tag
from ranchersync.kernel.textsafe import escape_markdown
from ui.shell import format as fmt
from ui.shell.comparison_table import contains

# The images last: they are long, and the short columns should not scroll out of view behind them.
SERVICE_COLUMNS = ("Status", "Service", "Kind", "App instance", "Tag", "Replicas", "Last synced", "Images")
# The colours of ui/shell/comparison_table.py's CELL_CSS, in words.
LEGEND = (
    "Amber: differs from the environment before it (a promotion is pending) · ≠: the shown tag is the same, the "
    "difference is in a sidecar or init container (select the row for every container) · red ⚠: the app instances "
    "of one environment run different versions · —: not deployed there · ?: its app instance could not be read"
)


# ---- one environment's services ---------------------------------------------------------------------------------


def services_frame(services: Iterable[Service], tz: dt.tzinfo) -> pd.DataFrame:
    """One row per service per app instance, sorted by name, indexed by the service's stable id."""
    ordered = sorted(services, key=lambda s: (s.name, s.kind, s.instance.name))
    frame = pd.DataFrame(
        {
            "Status": [fmt.status_text(s.status) for s in ordered],
            "Service": [s.name for s in ordered],
            "Kind": [s.kind for s in ordered],
            "App instance": [s.instance.name for s in ordered],
            "Tag": [s.image_tag for s in ordered],
            "Images": [_images(s.images) for s in ordered],
            "Replicas": [fmt.replicas(s.workload.available_replicas, s.workload.replicas) for s in ordered],
            "Last synced": [fmt.when(s.last_synced, tz, empty="never") for s in ordered],
        },
        index=pd.Index([s.id for s in ordered], name="id"),
        columns=list(SERVICE_COLUMNS),
    )
    return frame


def _images(images: Mapping[str, str]) -> str:
    if len(images) == 1:
        return next(iter(images.values()))
    return " · ".join(f"{name}: {image}" for name, image in images.items())


def filter_services(
    frame: pd.DataFrame,
    *,
    statuses: Collection[str] = (),
    kinds: Collection[str] = (),
    instances: Collection[str] = (),
    text: str = "",
) -> pd.DataFrame:
    """The rows matching every given filter; an empty filter matches all. Text searches name and images."""
    mask = pd.Series(True, index=frame.index)
    if statuses:
        mask &= frame["Status"].isin([fmt.status_text(s) for s in statuses])
    if kinds:
        mask &= frame["Kind"].isin(list(kinds))
    if instances:
        mask &= frame["App instance"].isin(list(instances))
    if needle := text.strip().lower():
        mask &= contains(frame["Service"], needle) | contains(frame["Images"], needle)
    return frame[mask]


_STATUS_OF_TEXT = {fmt.status_text(s): s for s in STATUS_SEVERITY}


def status_counts(frame: pd.DataFrame) -> dict[str, int]:
    """How many rows of a services frame are in each status: the core's count (worst first, zeros left out)."""
    return status_counts_of(_STATUS_OF_TEXT[text] for text in frame["Status"] if text in _STATUS_OF_TEXT)


def style_services(frame: pd.DataFrame) -> Styler:
    """Colour the status dots; the words stay, so colour is never the only signal."""
    colours = {fmt.status_text(s): f"color: {hex_}" for s, hex_ in fmt.STATUS_HEX.items()}
    return frame.style.apply(lambda column: column.map(colours).fillna(""), subset=["Status"])


def failures_text(failures: Sequence[InstanceFailure]) -> str:
    """The unreadable app instances as a Markdown list, each with its error's title, its reason (Rancher's words,
    escaped) and the hint of what to do."""
    md = escape_markdown
    return "\n".join(
        f"- **{md(f.instance.name)}** ({md(f.instance.site_name)} · "
        f"{md(f.instance.cluster_name)}/{md(f.instance.namespace)}): {md(f.title)}: {md(f.message)}"
        + (f" — {md(f.hint)}" if f.hint else "")
        for f in failures
    )


def ids_at(frame: pd.DataFrame, positions: Iterable[int]) -> list[str]:
    """The stable ids of the selected row positions (positions past the end are ignored)."""
    return [str(frame.index[p]) for p in positions if 0 <= p < len(frame)]


def service_keys(ids: Iterable[str]) -> list[tuple[str, str]]:
    """(kind, name) of service ids "instance/kind/name" (or comparison ids "kind/name"), deduplicated, in order."""
    keys = []
    for sid in ids:
        kind, name = sid.split("/")[-2:]
        keys.append((kind, name))
    return list(dict.fromkeys(keys))


# ---- the comparison -------------------------------------------------------------------------------------------


def container_detail(row: ComparisonRow) -> pd.DataFrame:
    """One line per container (primary, sidecars, init containers), one column per environment: the images its
    copies run there ("—" where it has no such container or the service is absent)."""
    envs = [c.environment.name for c in row.cells]
    records = [
        {"Container": name, "Role": role, **{env: " | ".join(found) or "—" for env, found in zip(envs, images,
                                                                                               strict=True)}}
        for name, role, images in row.container_images()
    ]
    return pd.DataFrame(records, columns=["Container", "Role", *envs])


def digest_detail(row: ComparisonRow) -> pd.DataFrame:
    """Per environment and container: the image our last sync set, the digests running now, and the digest the
    same tag runs in the environment before it (the source of a promotion)."""
    records = []
    for j, cell in enumerate(row.cells):
        before = row.cells[j - 1] if j else None
        before_digests = dict(before.digests or ()) if before is not None else {}
        for service in cell.services:
            running = service.running.by_container if service.running else {}
            ours = service.last_sync.images if service.last_sync else {}
            promoted = service.last_sync.digests if service.last_sync else {}
            for container, image in service.images.items():
                source = ""
                if before is not None and any(display_tag(s.images.get(container, "")) == display_tag(image)
                                              for s in before.services):
                    source = ", ".join(before_digests.get(container, ())) or "not read"
                records.append({
                    "Environment": cell.environment.name, "App instance": service.instance.name,
                    "Container": container, "Tag": display_tag(image),
                    "Last promoted": promoted.get(container) or (
                        f"{display_tag(ours[container])} (digest not recorded)" if container in ours
                        else "never by this tool"),
                    "Running now": ", ".join(running.get(container, ())) or "not read",
                    "Same tag in source": source or "other tag",
                })
    return pd.DataFrame(records)


