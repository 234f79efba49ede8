"""`services list --json` of a large environment streams: the array is written service by service, so what the
command holds at once does not grow with the environment (a pipeline listing 2,000 services)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from ranchersync.cli.services import cmd_services_list
from ranchersync.inventory import reading as inventory
from ranchersync.inventory.payloads import service_payload
from ranchersync.inventory.reading import Inventory
from tests.builders import service

SERVICES = 2000
# The streamed output holds one service's JSON (~700 bytes) at a time; the old code held every payload dict and
# the whole indented document (measured with tracemalloc: a peak of 9.0 MB before, 19 KB streamed).
PEAK_BOUND = 512 * 1024


def big_inventory() -> Inventory:
    """2,000 services over 100 app instances, built before any measurement starts."""
    services = tuple(
        service(1, f"app-{n // 20:03d}", f"svc-{n % 20:02d}", f"registry.example.com:5000/bench/svc-{n % 20:02d}:1.0.0",
                instance_id=n // 20)
        for n in range(SERVICES)
    )
    return Inventory(1, services, (), dt.datetime(2026, 12, 1, tzinfo=dt.UTC))


class FakeContext:
    """What the handler asks of the application context: a session (the inventory is stubbed) and a cipher."""

    cipher = None

    @contextmanager
    def session(self) -> Iterator[None]:
        yield None


@pytest.fixture
def listed(monkeypatch: pytest.MonkeyPatch) -> Inventory:
    found = big_inventory()
    monkeypatch.setattr(inventory, "list_services", lambda *args, **kwargs: found)
    return found


def run_list(as_json: bool = True) -> int:
    return cmd_services_list(FakeContext(), argparse.Namespace(env="Bench", json=as_json))  # type: ignore[arg-type]


def test_the_json_list_is_every_service_s_payload_in_order(listed: Inventory,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert run_list() == 0
    out = capsys.readouterr().out
    document: list[dict[str, Any]] = json.loads(out)
    assert len(document) == SERVICES
    assert document == [service_payload(s) for s in listed.services]
    assert out.count("\n") == SERVICES + 2  # "[", one line per service, "]": grep-able, one service per line


def test_an_empty_environment_is_an_empty_array(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(inventory, "list_services",
                        lambda *a, **k: Inventory(1, (), (), dt.datetime(2026, 12, 1, tzinfo=dt.UTC)))
    assert run_list() == 0
    assert json.loads(capsys.readouterr().out) == []


def test_listing_2000_services_as_json_holds_one_service_at_a_time(listed: Inventory,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    with open("/dev/null", "w") as sink:  # noqa: PTH123 - a real file, so the output itself is not kept
        monkeypatch.setattr(sys, "stdout", sink)
        run_list()  # warm-up: first-call caches (json's encoder, the image parser) are not the output's memory
        tracemalloc.start()
        try:
            run_list()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < PEAK_BOUND, f"peak {peak / 1024:.0f} KiB while writing {SERVICES} services"
