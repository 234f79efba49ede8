"""Schemathesis against the live API server (issue 21): every operation of the OpenAPI document, property-based,
positive and negative examples; no 500, every answer matches the document (status, content type, body schema),
bad input gets a 4xx problem. Bounded (examples per operation and mode) so it runs in well under a minute.

Schemathesis' own pytest plugin (`from_fixture`) does not run under pytest 9, so each operation's strategy is driven
by Hypothesis here; the checks are Schemathesis' (`call_and_validate`: all of its default checks)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from ranchersync.api.app import ENDPOINTS
from ranchersync.security import host_policy
from tests.api.conftest import ApiWorld, serve_world

MAX_EXAMPLES = 25
# Schema-valid input may still be refused with a 422 for what a JSON Schema made from the types does not say ("name
# the services or allDifferent, not both", a rollout timeout's range); the document promises 422 for it.
EXCLUDED = [schemathesis.checks.positive_data_acceptance]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiWorld]:
    """A server of its own: generated input creates, changes and removes things (gates, quarantines, locks…) that
    other tests must not meet; and it may name any registry or Prometheus host, so only loopback is allowed."""
    with serve_world(tmp_path_factory.mktemp("schemathesis"), allowed_hosts=("127.0.0.1", "localhost")) as world:
        yield world


def operations(api: ApiWorld) -> list[Any]:
    schema = schemathesis.openapi.from_url(api.url + "/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def _checker(strategy: Any, figures: dict[str, int], label: str, root: str, headers: dict[str, str]) -> Any:
    @given(case=strategy)
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        figures[label] += 1
        case.call_and_validate(base_url=root, headers=headers, excluded_checks=EXCLUDED)

    return check


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_keeps_to_its_document(api: ApiWorld, mode: GenerationMode,
                                               capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    looked_up: list[str] = []  # names the host policy resolved (generated registry hosts…): loopback ones only

    def resolve(host: str) -> list[str]:
        looked_up.append(host)
        return ["127.0.0.1"] if host == "localhost" else []

    monkeypatch.setattr(host_policy, "system_resolve", resolve)
    root = api.url.removesuffix("/api/v1")
    headers = {"Authorization": f"Bearer {api.secrets['admin']}"}
    figures: dict[str, int] = {}
    for operation in operations(api):
        label = f"{operation.method.upper()} {operation.path}"
        figures[label] = 0

        check = _checker(operation.as_strategy(generation_mode=mode), figures, label, root, headers)
        try:
            check()
        except Unsatisfiable:  # negative mode: an operation with no parameter and no body has no wrong input
            assert mode is GenerationMode.NEGATIVE and not operation.query and not operation.body \
                and not operation.path_parameters, label
            figures[label] = 0
    with capsys.disabled():
        print(f"\nschemathesis {mode.value}: {len(figures)} operations, {sum(figures.values())} examples, 0 failures")
    assert set(looked_up) <= {"localhost"}, looked_up
    # Every operation but the document's own address, which Schemathesis leaves out.
    assert sorted(figures) == sorted(f"{e.method} /api/v1{e.path}" for e in ENDPOINTS
                                     if e.path != "/openapi.json"), figures
