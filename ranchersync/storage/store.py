"""Saving and removing the catalogue (sites, environments, app instances) inside the caller's unit of work.

Use-cases never commit nor roll back: a refusal raises, and the caller's `with ctx.session()` (or
`session.begin()`) rolls the whole unit of work back, so nothing is half-written.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ranchersync.kernel.errors import ValidationError
from ranchersync.kernel.validation import check_cascade
from ranchersync.models import AppInstance, Environment, Site


def save(session: Session, clash: str) -> None:
    """Write pending changes now; a unique constraint broken by a concurrent writer (between our check and the
    write) becomes a ValidationError saying `clash`."""
    try:
        session.flush()
    except IntegrityError:
        raise ValidationError(clash) from None


def remove_with_instances(
    session: Session,
    owner: Site | Environment,
    instances: Sequence[AppInstance],
    *,
    cascade: bool,
    expected: Collection[int] | None,
    refusal: Callable[[int, str], str],
) -> list[str]:
    """Remove a site or an environment and, when `cascade`, the app instances that depend on it; returns their
    names. Refused with `refusal(count, names)` while any exist without `cascade`, and when they are not exactly
    the `expected` ids a confirmation showed."""
    check_cascade({i.id for i in instances}, cascade, expected)
    if instances and not cascade:
        raise ValidationError(refusal(len(instances), ", ".join(sorted(i.name for i in instances))))
    for instance in instances:
        session.delete(instance)
    session.delete(owner)
    session.flush()
    return [i.name for i in instances]
