"""One error model: an error knows its family's exit code, its title and its hint; the CLI prints them in one place."""

from __future__ import annotations

import pickle

import pytest

from ranchersync.cli.common import UsageError
from ranchersync.cli.output import report_error
from ranchersync.cli.sync import NothingToSync
from ranchersync.kernel.errors import (
    ApprovalRequired,
    BadInput,
    ConflictError,
    EnvironmentFrozen,
    MalformedResponse,
    NotFoundError,
    OperationFailed,
    PermissionDenied,
    RancherAPIError,
    RancherAuthError,
    RancherNotFound,
    RancherSyncError,
    RancherUnavailable,
    RefusedByPolicy,
    ValidationError,
)
from ranchersync.security.crypto import SecretKeyError
from ranchersync.sync import ConfirmationRequired, SyncBusy, UnreadableInstances

# Every class users can meet, and the exit status DESIGN.md gives its family.
EXIT_CODES: list[tuple[type[RancherSyncError], int]] = [
    (ValidationError, 2),
    (NotFoundError, 2),
    (UsageError, 2),
    (ConfirmationRequired, 2),
    (SecretKeyError, 2),
    (RancherAPIError, 1),
    (RancherAuthError, 1),
    (RancherNotFound, 1),  # Rancher's 404 during an operation is a failure, not bad input
    (ConflictError, 1),
    (RancherUnavailable, 1),
    (MalformedResponse, 1),
    (UnreadableInstances, 1),
    (NothingToSync, 1),
    (PermissionDenied, 3),
    (EnvironmentFrozen, 3),
    (ApprovalRequired, 3),
]


@pytest.mark.parametrize(("cls", "code"), EXIT_CODES, ids=[c.__name__ for c, _ in EXIT_CODES])
def test_each_error_exits_with_its_familys_code(
    cls: type[RancherSyncError], code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    error = cls("something precise happened")
    assert report_error(error) == code
    err = capsys.readouterr().err
    assert err.startswith("error: something precise happened\n")
    assert (f"hint: {error.hint}\n" in err) == bool(error.hint)
    family = {2: BadInput, 1: OperationFailed, 3: RefusedByPolicy}[code]
    assert isinstance(error, family)


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
