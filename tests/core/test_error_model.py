"""One error model: an error knows its family's exit code, its title and its hint; the CLI prints them in one place.

The table of classes is generated: every subclass of RancherSyncError found after importing every module of
ranchersync, so a class added anywhere is checked without anyone remembering to list it here."""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil
from collections.abc import Callable, Iterator

import pytest

import ranchersync
from ranchersync.cli.output import report_error
from ranchersync.kernel.errors import (
    BadInput,
    OperationFailed,
    RancherAPIError,
    RancherAuthError,
    RancherSyncError,
    RancherUnavailable,
    RefusedByPolicy,
    ValidationError,
)
from ranchersync.sync import SyncBusy

FAMILIES: dict[type[RancherSyncError], int] = {BadInput: 2, OperationFailed: 1, RefusedByPolicy: 3}

# What DESIGN.md and the README say of the classes users meet most, pinned (the walk below covers the rest).
DOCUMENTED: dict[str, int] = {
    "ValidationError": 2, "NotFoundError": 2, "UsageError": 2, "ConfirmationRequired": 2, "SecretKeyError": 2,
    "RancherAPIError": 1, "RancherAuthError": 1, "ConflictError": 1, "RancherUnavailable": 1, "MalformedResponse": 1,
    "RancherNotFound": 1,  # Rancher's 404 during an operation is a failure, not bad input
    "UnreadableInstances": 1, "NothingToSync": 1, "SiteDeactivated": 1,
    "PermissionDenied": 3, "EnvironmentFrozen": 3, "ApprovalRequired": 3, "SyncBusy": 3, "NotSignedIn": 3,
}

# Exceptions of ours outside the tree, each with the reason it may stay there: none reaches a user as it is.
OUTSIDE_THE_TREE: dict[str, str] = {
    "ranchersync.security.host_policy.HostRefused":
        "an internal signal: sites turn it into a ValidationError, the transport into a RancherUnavailable",
    "ranchersync.security.egress.EgressRefused":
        "raised inside Apprise's network calls as a refused connection; the sender records one fixed sentence",
    "ranchersync.verification.prometheus.QueryFailed":
        "a gate's measurement that gave no number: recorded as an `inconclusive` verdict, never raised to a user",
    "ranchersync.registry.dockerconfig.UnreadablePullSecret":
        "a workload's pull secret that holds no registry credentials: the preflight makes it a warning on the row",
    "ranchersync.rancher.transport._Transient":
        "the transport's retry signal: once the tries or the deadline run out it becomes the typed error it carries",
    "ranchersync.approvals.requests._FiredMeanwhile":
        "decide()'s signal to roll back an approval read as given ahead of a schedule that fired meanwhile: it is "
        "then decided as the last approval, never raised to a user",
}

# Classes whose constructor needs more than a message: how to make one (keyed by qualified name).
BUILDERS: dict[str, Callable[[type[RancherSyncError]], RancherSyncError]] = {
    "ranchersync.kernel.errors.InvalidFields": lambda cls: cls({"url": "something precise happened"}),  # type: ignore[arg-type]
    "ranchersync.sync.records.SyncBusy": lambda cls: cls("something precise happened", reason="target_busy"),
    "ranchersync.sync.records.RecordIncomplete": lambda cls: cls(7, ["web (eu · prod-east · shop): app:2"], budget=60),  # type: ignore[call-arg]
}


def _all_modules() -> Iterator[str]:
    """Every module of the package except the simulator (it imports nothing of ours and keeps its own errors) and
    the `__main__` entry points (importing one runs the command)."""
    for info in pkgutil.walk_packages(ranchersync.__path__, "ranchersync."):
        if info.name.startswith("ranchersync.simulator") or info.name.rsplit(".", 1)[-1] == "__main__":
            continue
        yield info.name


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _ours() -> list[type[BaseException]]:
    """Every exception class defined in a module of ranchersync (the simulator apart)."""
    found: dict[str, type[BaseException]] = {}
    for name in _all_modules():
        module = importlib.import_module(name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == name:
                found[_qualified(obj)] = obj
    return [found[key] for key in sorted(found)]


OURS = _ours()
ERRORS = [cls for cls in OURS if issubclass(cls, RancherSyncError) and cls is not RancherSyncError]


def test_the_walk_finds_the_classes_of_every_layer() -> None:
    names = {cls.__name__ for cls in ERRORS}
    # From the kernel, the CLI, sync, approvals, people, ops, security and inventory: the walk reaches them all.
    assert set(DOCUMENTED) | {"RequestClosed", "BackupFailed"} <= names, names


def test_every_exception_of_ours_is_in_the_tree_or_says_why_not() -> None:
    outside = {_qualified(cls) for cls in OURS if not issubclass(cls, RancherSyncError)}
    assert outside == set(OUTSIDE_THE_TREE), "a new exception class joins a family (kernel/errors.py) or says why not"


def _family(cls: type[RancherSyncError]) -> type[RancherSyncError]:
    """The family whose exit code the class carries; a class under two families must name its code in its body."""
    families = [family for family in FAMILIES if issubclass(cls, family)]
    assert families, f"{cls.__name__} belongs to no family: derive it from BadInput, OperationFailed or RefusedByPolicy"
    if len(families) > 1:
        assert "exit_code" in vars(cls), f"{cls.__name__} is under {families}: set its exit_code in its body"
    chosen = [family for family in families if FAMILIES[family] == cls.exit_code]
    assert len(chosen) == 1, f"{cls.__name__} exits {cls.exit_code}, the code of none of its families {families}"
    return chosen[0]


@pytest.mark.parametrize("cls", ERRORS, ids=lambda cls: cls.__name__)
def test_each_error_exits_with_its_familys_code(
    cls: type[RancherSyncError], capsys: pytest.CaptureFixture[str]
) -> None:
    family = _family(cls)
    builder = BUILDERS.get(_qualified(cls), lambda cls: cls("something precise happened"))
    error = builder(cls)
    assert report_error(error) == FAMILIES[family] == error.exit_code == DOCUMENTED.get(cls.__name__, error.exit_code)
    err = capsys.readouterr().err
    assert err.startswith(f"error: {error}\n")
    assert (f"hint: {error.hint}\n" in err) == bool(error.hint)
    assert error.title and error.kind, "every error has a headline and a kind of its own or its family's"
    copy = pickle.loads(pickle.dumps(error)) if _qualified(cls) not in BUILDERS else error
    assert (type(copy), str(copy)) == (cls, str(error)), "a worker's error crosses to the page intact"


def test_a_family_is_not_itself_under_another() -> None:
    for family in FAMILIES:
        assert [f for f in FAMILIES if issubclass(family, f)] == [family]


def test_a_busy_target_is_refused_by_policy_and_says_which_target() -> None:
    busy = SyncBusy("operation #7 by ana is changing Prod right now", reason="target_busy", target="Prod")
    assert busy.exit_code == 3 and busy.title == "Another sync is changing Prod"
    applied = SyncBusy("this confirmation was already applied as operation #7", reason="already_applied")
    assert applied.exit_code == 3 and applied.title == "This confirmation was already applied"
    assert applied.hint.startswith("Nothing was applied twice.")


def test_the_plain_message_form_still_works_and_a_classifier_can_be_precise() -> None:
    plain = ValidationError("'green' is not a colour")
    assert (str(plain), plain.title, plain.hint) == ("'green' is not a colour", "Please check the form", "")
    precise = RancherUnavailable("Cannot reach Rancher", title="A title", hint="A hint", status=503, url="u")
    assert (precise.title, precise.hint, precise.status, precise.url) == ("A title", "A hint", 503, "u")


def test_an_error_keeps_its_words_when_copied_between_processes() -> None:
    error = RancherAuthError("refused", status=401, url="https://r/v3", title="T", hint="H")
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.title, copy.hint, copy.status) == (RancherAuthError, "refused", "T", "H", 401)


def test_terminal_control_characters_never_reach_the_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    # Rancher's messages are quoted in ours: an escape sequence in one must not repaint the user's terminal.
    report_error(RancherAPIError("Rancher reported an error: \x1b[2J\x1b[31mcleared\r\u202eevil"))
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\r" not in err and "\u202e" not in err
    assert err.startswith("error: Rancher reported an error: [2J[31mclearedevil")
