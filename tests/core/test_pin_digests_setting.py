"""The per-environment "pin digests" setting: migration 0019 keeps what existing environments did (pin while
protected), the setting is stored, audited, listed and decides a plan's default; the dialog keeps an unset one
following its protection. Plans against a real registry are in test_registry_sync.py."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import inspect, text

from ranchersync.catalogue import environments as envs
from ranchersync.catalogue.payloads import environment_payload
from ranchersync.context import AppContext
from ranchersync.storage import db
from tests.builders import ADMIN, cli_runner


def pins(ctx: AppContext) -> dict[str, tuple[bool | None, bool]]:
    """Each environment's stored setting and what a plan into it does by default."""
    with ctx.session() as session:
        return {e.name: (e.pin_digests, e.pins_digests) for e in envs.list_environments(session)}


def test_migration_0019_keeps_existing_environments_pinning_while_protected_and_goes_down_again(
        ctx: AppContext) -> None:
    db.downgrade(ctx.engine, "0018")
    assert "pin_digests" not in {c["name"] for c in inspect(ctx.engine).get_columns("environments")}
    with ctx.engine.begin() as conn:  # rows written by the code of before: the model has the new column
        for position, (name, protected) in enumerate((("Stage", False), ("Prod", True))):
            conn.execute(text("INSERT INTO environments (name, description, color, position, protected, "
                              "required_approvals, created_at, updated_at) VALUES (:name, '', '#000000', :position, "
                              ":protected, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                         {"name": name, "position": position, "protected": protected})
    db.upgrade(ctx.engine)
    assert pins(ctx) == {"Stage": (None, False), "Prod": (None, True)}
    with ctx.session() as session:  # nobody chose: it follows protection, also when that changes later
        envs.update_environment(session, "Stage", protected=True, actor=ADMIN)
        assert environment_payload(envs.get_environment(session, "Stage"))["pinDigests"] is True
        envs.update_environment(session, "Prod", pin_digests=False, actor=ADMIN)
    assert pins(ctx) == {"Stage": (None, True), "Prod": (False, False)}
    db.downgrade(ctx.engine, "0018")
    assert "pin_digests" not in {c["name"] for c in inspect(ctx.engine).get_columns("environments")}
    with ctx.engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM environments ORDER BY position")).scalars().all() == \
            ["Stage", "Prod"]
    db.upgrade(ctx.engine)
    assert pins(ctx) == {"Stage": (None, True), "Prod": (None, True)}  # the choice went with the column


def test_the_setting_is_stored_listed_and_audited_from_the_command_line(
        ctx: AppContext, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    cli = cli_runner(ctx, monkeypatch, capsys)
    assert cli("admin@corp.test", "envs", "add", "--name", "Dev")[0] == 0
    status, out, err = cli("admin@corp.test", "envs", "add", "--name", "Prod", "--protected", "--no-pin-digests",
                           "--json")
    assert status == 0, err
    assert json.loads(out)["pinDigests"] is False
    status, out, err = cli("admin@corp.test", "envs", "update", "Dev", "--pin-digests", "--json")
    assert status == 0 and json.loads(out)["pinDigests"] is True, err
    assert pins(ctx) == {"Dev": (True, True), "Prod": (False, False)}
    status, out, _ = cli("admin@corp.test", "envs", "list")
    header, *rows = out.splitlines()
    assert "PIN DIGESTS" in header
    column = header.index("PIN DIGESTS")
    assert {r.split()[2]: r[column:].split()[0] for r in rows if r.strip()} == {"Dev": "yes", "Prod": "no"}
    status, out, _ = cli("admin@corp.test", "audit", "--action", "environment.update", "--json")
    event = json.loads(out)[0]
    assert (event["before"]["pinDigests"], event["after"]["pinDigests"]) == (None, True)


@pytest.mark.parametrize(("stored", "shown", "wanted", "protected", "kept"), [
    (None, False, False, True, None),   # left alone while protecting it: still follows protection, so pins
    (None, True, True, False, None),    # left alone while unprotecting it: follows, so stops pinning
    (True, True, True, False, None),    # left alone: a choice made before stays
    (None, False, True, False, True),   # turned on for an unprotected one: a choice of its own
    (None, True, False, True, False),   # turned off for a protected one: a choice of its own
    (None, False, True, True, None),    # turned on while protecting it: protection gives it, still follows
    (False, False, True, False, True),  # once set, stored as wanted
])
def test_the_dialog_stores_a_choice_only_when_the_toggle_was_changed_and_protection_would_not_give_it(
        stored: bool | None, shown: bool, wanted: bool, protected: bool, kept: bool | None) -> None:
    assert envs.pin_setting(stored, shown, wanted, protected) is kept
