"""`registries …`, `images inspect` and `quarantine …` through the remote CLI (RANCHERSYNC_SERVER) beside the local CLI
on the same database (issue 22): the same standard output, the same errors, the same exit statuses; against the real
registry (Debian's docker-registry on 127.0.0.1)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ranchersync.people import tokens
from tests.api import test_remote_cli as remote_cli
from tests.api.test_api_images import BAD, lift_what_is_left, pinned_in_stage
from tests.api.test_remote_cli import World, same
from tests.builders import ADMIN
from tests.core.registry_fixtures import PASSWORD, USER, Registries

pytest_plugins = ["tests.core.registry_fixtures"]

# The remote CLI's fixtures: a server of this module's own on the demo catalogue, and `both` to run a command locally
# (on the server's database) or remotely (through its API).
world = remote_cli.world
both = remote_cli.both



def twice(both, *argv: str) -> tuple[tuple[int, str, str], tuple[int, str, str]]:  # noqa: ANN001
    """A command that changes something, run locally then remotely: both answers."""
    return both(False, *argv), both(True, *argv)


def test_registries_add_list_test_and_remove_print_the_same_through_the_api(
        both, registries: Registries, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    anonymous, basic = registries.anonymous, registries.basic
    local, remote = twice(both, "registries", "add", "--host", anonymous, "--allow-http")
    assert local == remote == (0, f"Registry {anonymous} registered (anonymous).\n", ""), (local, remote)
    local, remote = twice(both, "registries", "add", "--host", anonymous, "--allow-http", "--json")
    assert (remote[0], json.loads(remote[1])) == (local[0], json.loads(local[1])) and local[0] == 0

    monkeypatch.setenv("REGISTRY_PASSWORD", PASSWORD)
    local, remote = twice(both, "registries", "add", "--host", basic, "--allow-http", "--username", USER,
                          "--password-env", "REGISTRY_PASSWORD")
    assert local == remote == (0, f"Registry {basic} registered (with credentials).\n", ""), (local, remote)
    assert twice(both, "registries", "add", "--host", basic, "--username", USER)[1][0] == 2  # no password: usage

    for host in (anonymous, basic):
        local, remote = twice(both, "registries", "test", host)
        assert local[0] == remote[0] == 0 and _timeless(local) == _timeless(remote), (local, remote)
        local, remote = twice(both, "registries", "test", host, "--json")
        assert _timeless_json(local) == _timeless_json(remote)
    same(both, "registries", "list")
    assert PASSWORD not in both(True, "registries", "list", "--json")[1]

    monkeypatch.setenv("REGISTRY_PASSWORD", "not-the-password")
    assert both(False, "registries", "add", "--host", basic, "--allow-http", "--username", USER,
                "--password-env", "REGISTRY_PASSWORD")[0] == 0
    local, remote = twice(both, "registries", "test", basic)
    assert local[0] == remote[0] == 1 and _timeless(local) == _timeless(remote), (local, remote)
    same(both, "registries", "list")  # the last error, as each test kept it

    assert both(False, "registries", "remove", basic) == (0, f"Registry {basic} removed.\n", "")
    assert both(False, "registries", "add", "--host", basic, "--allow-http")[0] == 0
    assert both(True, "registries", "remove", basic) == (0, f"Registry {basic} removed.\n", "")
    local, remote = twice(both, "registries", "remove", basic)
    assert local[0] == remote[0] == 2 and local[1:] == remote[1:] and "no registry" in remote[2]
    for argv in (("test", "https://x/y"), ("remove", "https://x/y"), ("remove", "shop")):
        local, remote = twice(both, "registries", *argv)
        assert local[0] == remote[0] == 2 and local[1:] == remote[1:], (local, remote)


def test_a_ca_file_is_read_on_the_runner_and_stored_by_the_server(both, registries: Registries,  # noqa: ANN001
                                                                  tmp_path: Path) -> None:
    bundle = str(registries.token_server.bundle)  # a PEM certificate
    local, remote = twice(both, "registries", "add", "--host", registries.token, "--ca-file", bundle, "--json")
    assert local[0] == remote[0] == 0 and json.loads(local[1]) == json.loads(remote[1])
    assert json.loads(remote[1])["caBundle"] is True
    missing = str(tmp_path / "missing.pem")
    local, remote = twice(both, "registries", "add", "--host", registries.token, "--ca-file", missing)
    assert local[0] == remote[0] == 2 and local[1:] == remote[1:] and "cannot read the CA file" in remote[2]
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    local, remote = twice(both, "registries", "add", "--host", registries.token, "--ca-file", str(junk))
    assert local[0] == remote[0] == 2 and local[1:] == remote[1:], (local, remote)
    assert both(True, "registries", "remove", registries.token)[0] == 0


def test_a_token_below_admin_cannot_change_registries(both, world: World, registries: Registries) -> None:  # noqa: ANN001
    with world.ctx.session() as session:
        viewer = tokens.create_token(session, ADMIN, name="registry-viewer", role="viewer", expires_days=1).secret
    status, out, err = both(True, "registries", "add", "--host", registries.token, "--allow-http", token=viewer)
    assert (status, out) == (3, "") and "only an admin or higher" in err, err
    assert registries.token not in both(False, "registries", "list")[1]


@pytest.fixture
def inspected(both, registries: Registries) -> Iterator[str]:  # noqa: ANN001
    """The anonymous registry, registered for one test."""
    assert both(False, "registries", "add", "--host", registries.anonymous, "--allow-http")[0] == 0
    yield registries.anonymous
    both(False, "registries", "remove", registries.anonymous)


@pytest.mark.parametrize("argv", [
    ("{reg}/shop/web:2.4.0",),
    ("{reg}/shop/plain:1.0",),
    ("{reg}/shop/multi:3.0", "--platform", "linux/arm64"),
], ids=["labels", "no-labels", "index"])
def test_images_inspect_prints_the_same_through_the_api(both, inspected: str, argv: tuple[str, ...]) -> None:  # noqa: ANN001
    status, out = same(both, "images", "inspect", *(a.format(reg=inspected) for a in argv))  # text, then JSON
    assert status == 0 and json.loads(out)["digest"].startswith("sha256:")


@pytest.mark.parametrize("argv", [
    ("{reg}/shop/armonly:1.0",),
    ("{reg}/shop/web:9.9.9",),
    ("{reg}/shop/web:2.4.0", "--platform", "amd64"),
    ("127.0.0.2:5999/shop/web:1",),
    ("redis",),
], ids=["no-such-platform", "no-such-tag", "bad-platform", "unregistered", "docker-hub-unregistered"])
def test_an_image_that_cannot_be_inspected_fails_the_same_way(both, inspected: str,  # noqa: ANN001
                                                              argv: tuple[str, ...]) -> None:
    local, remote = twice(both, "images", "inspect", *(a.format(reg=inspected) for a in argv))
    assert local[0] == remote[0] == 2 and local[1:] == remote[1:], (local, remote)


@pytest.fixture
def quarantined_in_stage(world: World) -> Iterator[str]:
    """Stage's redis runs the BAD digest; no quarantine is left active afterwards, whatever the test did."""
    with pinned_in_stage(world.eu) as image:
        yield image
    lift_what_is_left(world.ctx)


def test_quarantine_add_list_and_lift_print_the_same_through_the_api(both, world: World,  # noqa: ANN001
                                                                     quarantined_in_stage: str) -> None:
    pinned_in_stage = quarantined_in_stage
    reason = ("--reason", "CVE-2026-0001 in libfoo")
    status, added, _ = both(False, "quarantine", "add", pinned_in_stage, *reason)
    assert status == 0 and added.startswith("Quarantine #")
    local, remote = twice(both, "quarantine", "add", pinned_in_stage, *reason)  # already quarantined
    assert local[0] == remote[0] == 2 and local[1:] == remote[1:] and "already quarantined" in remote[2]

    for extra in ((), ("--lifted",), ("--no-running",)):
        status, out = same(both, "quarantine", "list", *extra)  # text, then JSON
        running = [(r["environment"], r["appInstance"], r["service"]) for r in json.loads(out)[0]["running"]]
        assert status == 0 and running == ([] if extra == ("--no-running",) else [("Stage", "shop-stage", "redis")])

    first = int(re.findall(r"#(\d+)", added)[0])
    lifted_locally = both(False, "quarantine", "lift", str(first), "--reason", "rebuilt")
    assert lifted_locally[0] == 0
    status, out, err = both(True, "quarantine", "add", pinned_in_stage, *reason)
    second = int(re.findall(r"#(\d+)", out)[0])
    assert (status, _numbered(out, second), err) == (0, _numbered(added, first), "")
    same(both, "quarantine", "list", "--lifted")
    status, out, err = both(True, "quarantine", "lift", str(second), "--reason", "rebuilt")
    assert (status, _numbered(out, second), err) == (0, _numbered(lifted_locally[1], first), "")
    same(both, "quarantine", "list", "--lifted", "--json")
    entries = json.loads(both(False, "quarantine", "list", "--lifted", "--json")[1])
    assert [(q["id"], q["addedBy"], q["liftedBy"]) for q in entries] == [
        (second, "token:pipeline", "token:pipeline"), (first, "ops-lead", "ops-lead")]

    for argv in (("quarantine", "lift", "4242", "--reason", "r"), ("quarantine", "add", "shop/web:1", *reason),
                 ("quarantine", "lift", str(second), "--reason", "again")):
        local, remote = twice(both, *argv)
        assert local[0] == remote[0] == 2 and local[1:] == remote[1:], (argv, local, remote)


def test_a_token_limited_to_an_environment_cannot_quarantine(both, world: World) -> None:  # noqa: ANN001
    with world.ctx.session() as session:
        limited = tokens.create_token(session, ADMIN, name="stage-only", role="admin", environments=("Stage",),
                                      expires_days=1).secret
    try:
        status, out, err = both(True, "quarantine", "add", f"shop/web@{BAD}", "--reason", "r", token=limited)
        assert (status, out) == (3, "") and "limited to Stage" in err, err
        assert both(False, "quarantine", "list", "--no-running")[1] == "No image is quarantined.\n"
    finally:
        lift_what_is_left(world.ctx)


def _timeless(answer: tuple[int, str, str]) -> tuple[int, str, str]:
    return answer[0], re.sub(r"\(\d+ ms\)", "(N ms)", answer[1]), answer[2]


def _timeless_json(answer: tuple[int, str, str]) -> tuple[int, Any]:
    return answer[0], {k: v for k, v in json.loads(answer[1]).items() if k != "latencyMs"}


def _numbered(text: str, number: int) -> str:
    return text.replace(f"#{number}", "#N")
