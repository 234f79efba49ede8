"""Find stored objects by id or by name, as users reference them in the CLI and the pages."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from ranchersync.kernel.errors import NotFoundError
from ranchersync.models import AppInstance, Environment, Site

Named = TypeVar("Named", Site, Environment, AppInstance)

_WHAT = {Site: "site", Environment: "environment", AppInstance: "app instance"}


def get_by_ref(session: Session, model: type[Named], ref: int | str) -> Named:
    """The object whose id or name is `ref`; a name wins over an id only when no id matches."""
    what = _WHAT[model]
    # An id is decimal digits (isdecimal: what int() reads; "¹" is a digit it does not) that fit a 64-bit column.
    if isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdecimal() and len(ref.strip()) <= 18):
        found = session.get(model, int(ref))
        if found is not None:
            return found
    matches = list(session.scalars(select(model).where(model.name == str(ref).strip())))
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:  # app instance names are unique per environment only
        raise NotFoundError(f"several {what}s are named '{ref}': use the id")
    raise NotFoundError(f"no {what} '{ref}'")
