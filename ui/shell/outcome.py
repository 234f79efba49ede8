"""What a screen's action did: `Outcome`, the UI's one result type, and `attempt`, which turns a RancherSyncError
into one, once. The error already knows its title and hint (set where the core classified it)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ranchersync.kernel.errors import InvalidFields, RancherSyncError
from ui.shell import queries


@dataclass(frozen=True)
class Outcome:
    """What an action did: `ok`, a sentence, what to do about a failure, and any warnings."""

    ok: bool
    message: str
    title: str = ""
    hint: str = ""
    warnings: tuple[str, ...] = ()
    fields: Mapping[str, str] = field(default_factory=dict)  # what is wrong with each field of a form, by name

    @classmethod
    def done(cls, message: str, warnings: tuple[str, ...] = ()) -> Outcome:
        """A success."""
        return cls(True, message, warnings=warnings)

    @classmethod
    def failed(cls, error: RancherSyncError) -> Outcome:
        """A failure, shown as the error shows itself: its title, its message and its hint."""
        fields = error.fields if isinstance(error, InvalidFields) else {}
        return cls(False, str(error), title=error.title, hint=error.hint, fields=fields)


def attempt(work: Callable[[], Outcome]) -> Outcome:
    """Run an action's work; a RancherSyncError becomes a failed Outcome. The stored data is read anew after.
    """
    try:
        return work()
    except RancherSyncError as error:
        return Outcome.failed(error)
    finally:
        queries.clear_stored()  # also after a failure: a test records its error on the site
