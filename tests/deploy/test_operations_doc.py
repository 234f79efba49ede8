"""docs/operations.md: its troubleshooting table names every headline the user can see, and the commands it gives
exist in the CLI's grammar (DESIGN.md)."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator

import ranchersync
from ranchersync.kernel.errors import RancherSyncError
from ranchersync.rancher.failures import EXPLAINED
from tests.deploy.tools import ROOT

DOC = ROOT / "docs" / "operations.md"


def error_classes() -> Iterator[type[RancherSyncError]]:
    for module in pkgutil.walk_packages(ranchersync.__path__, "ranchersync."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)

    def below(cls: type[RancherSyncError]) -> Iterator[type[RancherSyncError]]:
        for sub in cls.__subclasses__():
            yield sub
            yield from below(sub)

    yield RancherSyncError
    yield from below(RancherSyncError)


def headlines() -> set[str]:
    """The first cell of every table row in the Troubleshooting section, split on ' / '."""
    section = DOC.read_text().split("## Troubleshooting", 1)[1]
    cells = re.findall(r"^\| ([^|]+) \|", section, flags=re.M)
    return {part.strip() for cell in cells for part in cell.split(" / ")}


def test_every_classified_rancher_failure_is_in_the_troubleshooting_table() -> None:
    missing = {title for title, _hint in EXPLAINED.values()} - headlines()
    assert not missing


def test_every_error_class_headline_is_in_the_troubleshooting_table() -> None:
    missing = {cls.default_title for cls in error_classes()} - headlines()
    assert not missing


def test_the_backup_restore_and_recovery_commands_are_the_designed_ones() -> None:
    text = DOC.read_text()
    for command in ("db backup --to FILE", "db restore --from FILE", "keys rotate", "keys generate", "keys check",
                    "db upgrade"):
        assert command in text
    assert "--force" in text and "resume ID" in text and "rollback ID" in text
    assert "recoveryTarget" in text and "targetTime" in text
