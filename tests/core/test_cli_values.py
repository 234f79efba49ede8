"""Out-of-range values on the command line exit 2 with a sentence, before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from ranchersync.cli import main


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANCHERSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("RANCHERSYNC_SECRET_KEY", Fernet.generate_key().decode())


@pytest.mark.parametrize(("args", "says"), [
    (["metrics", "--until", "9999-12-31"], "between 1970-01-01 and 9998-12-31"),
    (["history", "--since", "2026-13-01"], "YYYY-MM-DD"),
    (["metrics", "--failure-window-hours", "nan"], "more than 0 and at most 8760 hours"),
    (["metrics", "--failure-window-hours", "-1"], "more than 0"),
    (["sync", "--from", "Dev", "--to", "Stage", "--all-different", "--timeout", "nan"], "at most 86400 seconds"),
    (["sync", "--from", "Dev", "--to", "Stage", "--all-different", "--timeout", "inf"], "at most 86400 seconds"),
    (["rollback", "1", "--timeout", "0"], "more than 0"),
    (["history", "--limit", "0"], "at least 1"),
    (["history", "--page", "x"], "not a number"),
])
def test_out_of_range_values_exit_2_with_a_sentence(args: list[str], says: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err


def test_the_widest_valid_period_still_answers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["metrics", "--since", "1970-01-01", "--until", "9998-12-31"]) == 0
