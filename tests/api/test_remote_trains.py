"""Release trains through the remote CLI (RANCHERSYNC_SERVER + RANCHERSYNC_API_TOKEN) beside the local CLI on the
same database (issue 24): snapshots, promote, restore, locks, schedules and `sync --at` print the same standard
output and end with the same exit status either way."""

from __future__ import annotations

import json
import re

from ranchersync.catalogue import environments
from tests.api import test_remote_cli as remote_cli
from tests.api.test_remote_cli import World, same
from tests.builders import ADMIN

world = remote_cli.world  # a server and a database of this module's own (module-scoped)
both = remote_cli.both

REG = "registry.example.com:5000/shop"
MESSAGE = "DB migration running — do not promote"


def _ids(text: str) -> str:
    """Output with its ids (#12, "id": 12) blanked: two runs make two objects."""
    return re.sub(r'("id": |#)\d+', r"\1N", text)


def test_snapshots_are_made_listed_shown_and_compared_alike(both) -> None:  # noqa: ANN001
    local = both(False, "snapshots", "create", "--env", "Stage", "--name", "stage-local")
    remote = both(True, "snapshots", "create", "--env", "Stage", "--name", "stage-remote")
    assert local[0] == remote[0] == 0, remote
    assert remote[1].replace("stage-remote", "stage-local") == local[1]
    assert remote[1].startswith("Snapshot stage-remote of Stage: ") and "service(s) recorded" in remote[1]
    assert both(True, "snapshots", "create", "--env", "Prod", "--name", "prod-before")[0] == 0
    for argv in (("snapshots", "list"), ("snapshots", "list", "--env", "Stage", "--manual"),
                 ("snapshots", "show", "stage-remote"), ("snapshots", "diff", "stage-remote", "prod-before"),
                 ("snapshots", "diff", "stage-remote", "--env", "Stage", "--only-differences"),
                 ("snapshots", "promote", "stage-remote", "--to", "Prod", "--dry-run")):
        assert same(both, *argv)[0] == 0, argv
    for argv in (("snapshots", "show", "nope"), ("snapshots", "diff", "stage-remote"),
                 ("snapshots", "create", "--env", "Stage", "--name", "stage-remote"),
                 ("restore", "--env", "Stage", "--snapshot", "prod-before", "--yes")):
        local, remote = both(False, *argv), both(True, *argv)
        assert local[0] == remote[0] == 2 and remote[1] == local[1] == "", (argv, local, remote)


def test_a_lock_refuses_a_sync_alike_and_is_removed_alike(both) -> None:  # noqa: ANN001
    status, out, err = both(True, "locks", "add", "--env", "Stage", "--service", "search", "--message", MESSAGE)
    assert status == 0, err
    lock_id = re.match(r"Lock #(\d+): ", out)
    assert lock_id and out.endswith(f"search in Stage is locked by token:pipeline (lock #{lock_id[1]}): {MESSAGE}.\n")
    same(both, "locks", "list")
    same(both, "locks", "list", "--env", "Stage")
    sync = ("sync", "--from", "Dev", "--to", "Stage", "--service", "search", "--yes")
    local, remote = both(False, *sync), both(True, *sync)
    assert local[0] == remote[0] == 3 and local[1] == remote[1]
    assert MESSAGE in remote[2] and "token:pipeline" in remote[2]
    status, out, err = both(True, "locks", "remove", lock_id[1])
    assert (status, out) == (0, f"Removed lock #{lock_id[1]} of search in Stage.\n"), err
    local, remote = both(False, "locks", "remove", lock_id[1]), both(True, "locks", "remove", lock_id[1])
    assert local[0] == remote[0] == 2 and local[1:] == remote[1:]


def test_a_snapshot_is_promoted_and_restored_through_the_api_as_locally(both, world: World) -> None:  # noqa: ANN001
    if both(False, "snapshots", "show", "rel-1")[0] != 0:
        assert both(False, "snapshots", "create", "--env", "Stage", "--name", "rel-1")[0] == 0
        assert both(False, "snapshots", "create", "--env", "Prod", "--name", "prod-good")[0] == 0
    with world.ctx.session() as session:
        environments.update_environment(session, "Prod", protected=True, actor=ADMIN)
    try:
        promote = ("snapshots", "promote", "rel-1", "--to", "Prod")
        local, remote = both(False, *promote, "--yes"), both(True, *promote, "--yes")
        assert local[0] == remote[0] == 2 and local[1] == remote[1]
        assert remote[2] == "error: Prod is protected: add --confirm-env Prod\n"
        status, out, err = both(True, *promote, "--confirm-env", "Prod", "--timeout", "60", "--json")
        assert status == 0, err
        operation = json.loads(out)
        assert operation["status"] == "complete" and operation["initiatedBy"] == "token:pipeline"
        assert json.loads(both(False, "history", "show", str(operation["id"]), "--json")[1]) == operation
        again = ((*promote, "--confirm-env", "Prod"), (*promote, "--confirm-env", "Prod", "--json"))
        outs = []
        for argv in again:  # nothing to change now: the plan (none with --json), exit 0
            local, remote = both(False, *argv), both(True, *argv)
            assert local[:2] == remote[:2] and local[0] == 0, (argv, local, remote)
            assert "Nothing to change" in remote[2]
            outs.append(remote[1])
        assert "snapshot rel-1" in outs[0] and outs[1] == ""

        restore = ("restore", "--env", "Prod", "--snapshot", "prod-good", "--confirm-env", "Prod")
        same(both, *restore, "--dry-run")
        status, out, err = both(True, *restore)
        assert status == 0, err
        assert out.rstrip().endswith("complete.") and "frontend" in out and f"{REG}/frontend:3.8.0" in out
        restored = int(re.findall(r"Operation #(\d+): complete", out)[0])
        history = json.loads(both(False, "history", "show", str(restored), "--json")[1])
        assert history["initiatedBy"] == "token:pipeline" and history["status"] == "complete"
    finally:
        with world.ctx.session() as session:
            environments.update_environment(session, "Prod", protected=False, actor=ADMIN)


def test_scheduled_syncs_and_promotions_are_made_listed_and_cancelled_alike(both) -> None:  # noqa: ANN001
    at = ("--at", "2099-01-01 10:00", "--tz", "Europe/Berlin")
    sync = ("sync", "--from", "Dev", "--to", "Stage", "--service", "search", *at)
    local, remote = both(False, *sync), both(True, *sync)
    assert local[0] == remote[0] == 0, remote
    assert _ids(local[1]) == _ids(remote[1])
    assert "(Dev → Stage: search) fires Thu 01 Jan 2099 10:00 CET (09:00 UTC)" in remote[1]
    local, remote = both(False, *sync, "--json"), both(True, *sync, "--json")
    strip = ("id", "createdAt", "requestedBy")
    assert {k: v for k, v in json.loads(local[1]).items() if k not in strip} == \
        {k: v for k, v in json.loads(remote[1]).items() if k not in strip}
    assert json.loads(remote[1])["requestedBy"] == "token:pipeline"
    for wrong in ((*sync, "--dry-run"), ("sync", "--from", "Dev", "--to", "Stage", "--service", "search",
                                         "--at", "2001-01-01 10:00"), (*sync[:-2], "--tz", "Mars/Olympus")):
        local, remote = both(False, *wrong), both(True, *wrong)
        assert local[0] == remote[0] == 2 and local[1] == remote[1] == "", (wrong, local, remote)
    if both(False, "snapshots", "show", "rel-2")[0] != 0:
        assert both(False, "snapshots", "create", "--env", "Stage", "--name", "rel-2")[0] == 0
    promote = ("snapshots", "promote", "rel-2", "--to", "Prod", *at)
    local, remote = both(False, *promote), both(True, *promote)
    assert local[0] == remote[0] == 0 and _ids(local[1]) == _ids(remote[1]), remote
    assert "(snapshot of Stage → Prod)" in remote[1]
    same(both, "schedules", "list")
    same(both, "schedules", "list", "--pending")

    mine = re.search(r"Scheduled request #(\d+)", remote[1])
    assert mine
    status, out, err = both(True, "schedules", "cancel", mine[1])
    assert (status, out) == (0, f"Cancelled scheduled request #{mine[1]}.\n"), err
    for argv in (("schedules", "cancel", mine[1]), ("schedules", "cancel", "4242")):
        local, remote = both(False, *argv), both(True, *argv)
        assert local[0] == remote[0] == 2 and local[1:] == remote[1:], (argv, local, remote)


def test_a_promotion_into_a_target_that_needs_approvals_is_requested_alike(both, world: World) -> None:  # noqa: ANN001
    if both(False, "snapshots", "show", "rel-3")[0] != 0:
        assert both(False, "snapshots", "create", "--env", "Dev", "--name", "rel-3")[0] == 0
    with world.ctx.session() as session:
        environments.update_environment(session, "Stage", required_approvals=1, actor=ADMIN)
    try:
        promote = ("snapshots", "promote", "rel-3", "--to", "Stage", "--yes")
        local, remote = both(False, *promote), both(True, *promote)
        assert local[0] == remote[0] == 3 and local[1] == remote[1], (local, remote)
        assert "the sync into Stage needs" in remote[2] and "approvals approve" in remote[2]
        pending = json.loads(both(False, "approvals", "list", "--pending", "--json")[1])
        assert {r["requestedBy"] for r in pending} >= {"ops-lead", "token:pipeline"}
    finally:
        with world.ctx.session() as session:
            environments.update_environment(session, "Stage", required_approvals=0, actor=ADMIN)
