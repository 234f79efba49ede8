"""When a change made outside the tool was first seen, kept per app instance, workload and the images it runs.

`inventory.list_inventories` notices such changes on every read; without a record, "noticed" would be the time of
that read. The first sighting of each (app instance, workload, images) is stored — insert-or-ignore, so two
readers at once keep the earlier one — and the comparison and the drift report show it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from ranchersync.models import OutsideChangeSighting

SightingKey = tuple[int, str, str, str]  # app instance id, workload kind, workload name, images key


def images_text(images: dict[str, str]) -> str:
    """A workload's images as stored: "container=image" lines, sorted by container."""
    return "\n".join(f"{name}={image}" for name, image in sorted(images.items()))


def sighting_key(instance_id: int, kind: str, name: str, images: dict[str, str]) -> SightingKey:
    """The unique key of a sighting (the images by their SHA-256)."""
    return (instance_id, kind, name, hashlib.sha256(images_text(images).encode()).hexdigest())


def first_sightings(
    session: Session, seen: Sequence[tuple[int, str, str, dict[str, str]]], now: dt.datetime
) -> dict[SightingKey, dt.datetime]:
    """Record `seen` changes (app instance id, kind, name, images it runs now) not seen before as seen `now`, and
    return when each was first seen."""
    if not seen:
        return {}
    rows = {sighting_key(i, k, n, images): images_text(images) for i, k, n, images in seen}
    session.execute(_insert_or_ignore(session, [
        {"app_instance_id": key[0], "workload_kind": key[1], "workload_name": key[2], "images": text,
         "images_key": key[3], "first_seen_at": now} for key, text in rows.items()
    ]))
    s = OutsideChangeSighting
    found = session.execute(
        select(s.app_instance_id, s.workload_kind, s.workload_name, s.images_key, s.first_seen_at)
        .where(tuple_(s.app_instance_id, s.workload_kind, s.workload_name, s.images_key).in_(list(rows)))
    ).all()
    return {(i, k, n, key): at for i, k, n, key, at in found}


def _insert_or_ignore(session: Session, values: list[dict[str, Any]]) -> Any:
    index = ["app_instance_id", "workload_kind", "workload_name", "images_key"]
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(OutsideChangeSighting).values(values).on_conflict_do_nothing(index_elements=index)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(OutsideChangeSighting).values(values).on_conflict_do_nothing(index_elements=index)
