"""Environments: the pipeline order, unique names, colours, and the explicit cascade on removal."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ranchersync.catalogue import environments as envs
from ranchersync.context import AppContext
from ranchersync.kernel.errors import NotFoundError, ValidationError
from ranchersync.models import AppInstance, Environment, Site
from tests.builders import ADMIN


def names(session: Session) -> list[str]:
    return [e.name for e in envs.list_environments(session)]


def test_environments_are_appended_in_pipeline_order_with_default_colours(session: Session) -> None:
    for name in ("Dev", "Stage", "Prod"):
        envs.add_environment(session, name=name, actor=ADMIN)
    listed = envs.list_environments(session)
    assert [(e.name, e.position) for e in listed] == [("Dev", 0), ("Stage", 1), ("Prod", 2)]
    assert len({e.color for e in listed}) == 3


def test_insert_at_a_position_and_reorder(session: Session) -> None:
    for name in ("Dev", "Prod"):
        envs.add_environment(session, name=name, actor=ADMIN)
    envs.add_environment(session, name="Stage", position=1, color="#0072b2", protected=False, actor=ADMIN)
    assert names(session) == ["Dev", "Stage", "Prod"]
    envs.move_environment(session, "Prod", 0, actor=ADMIN)
    assert names(session) == ["Prod", "Dev", "Stage"]
    assert [e.position for e in envs.list_environments(session)] == [0, 1, 2]
    envs.move_environment(session, "Prod", 99, actor=ADMIN)  # past the end means last
    assert names(session) == ["Dev", "Stage", "Prod"]


def test_names_are_unique_ignoring_case(session: Session) -> None:
    envs.add_environment(session, name="Prod", actor=ADMIN)
    with pytest.raises(ValidationError, match="already exists"):
        envs.add_environment(session, name="prod", actor=ADMIN)
    envs.add_environment(session, name="Stage", actor=ADMIN)
    with pytest.raises(ValidationError, match="already exists"):
        envs.update_environment(session, "Stage", name="PROD", actor=ADMIN)
    assert names(session) == ["Prod", "Stage"]


def test_bad_colour_changes_nothing(session: Session) -> None:
    env = envs.add_environment(session, name="Prod", color="#D55E00", actor=ADMIN)
    with pytest.raises(ValidationError, match="#RRGGBB"):
        envs.update_environment(session, "Prod", color="red", description="changed", actor=ADMIN)
    assert (env.color, env.description) == ("#D55E00", "")


def test_update_fields_and_lookup_by_id_or_name(session: Session) -> None:
    env = envs.add_environment(session, name="Prod", actor=ADMIN)
    envs.update_environment(session, str(env.id), description=" Live ", protected=True, color="#112233", actor=ADMIN)
    found = envs.get_environment(session, "Prod")
    assert (found.description, found.protected, found.color) == ("Live", True, "#112233")
    with pytest.raises(NotFoundError, match="no environment 'Nope'"):
        envs.get_environment(session, "Nope")


@pytest.mark.parametrize("ref", ["\x1e¹", "²", "99999999999999999999999", "-1"])
def test_a_reference_that_only_looks_like_an_id_is_not_found_rather_than_a_crash(session: Session, ref: str) -> None:
    """Found by Schemathesis through the API: "¹" is a digit to str.isdigit() but not to int(); a number past a
    64-bit column overflows SQLite. Both are names nobody has (not found), never an error of the server."""
    envs.add_environment(session, name="Prod", actor=ADMIN)
    with pytest.raises(NotFoundError):
        envs.get_environment(session, ref)


def test_removing_an_environment_with_instances_needs_an_explicit_cascade(session: Session) -> None:
    dev = envs.add_environment(session, name="Dev", actor=ADMIN)
    prod = envs.add_environment(session, name="Prod", actor=ADMIN)
    site = Site(name="eu", url="https://r.example.com", token_encrypted=b"x")
    session.add(site)
    session.flush()
    session.add(AppInstance(name="shop", site_id=site.id, cluster_id="c-1", namespace="shop", environment_id=dev.id))
    session.flush()
    with pytest.raises(ValidationError, match="still has 1 app instance"):
        envs.remove_environment(session, "Dev", actor=ADMIN)
    assert names(session) == ["Dev", "Prod"]
    assert envs.remove_environment(session, "Dev", cascade=True, actor=ADMIN) == ["shop"]
    assert names(session) == ["Prod"]
    assert prod.position == 0
    assert session.scalar(select(func.count()).select_from(AppInstance)) == 0
    assert session.scalar(select(func.count()).select_from(Environment)) == 1


def test_a_cascade_removes_exactly_what_its_confirmation_showed(session: Session) -> None:
    dev = envs.add_environment(session, name="Dev", actor=ADMIN)
    site = Site(name="eu", url="https://r.example.com", token_encrypted=b"x")
    session.add(site)
    session.flush()
    shop = AppInstance(name="shop", site_id=site.id, cluster_id="c-1", namespace="shop", environment_id=dev.id)
    session.add(shop)
    session.flush()
    shown = {shop.id}
    session.add(AppInstance(name="late", site_id=site.id, cluster_id="c-1", namespace="late", environment_id=dev.id))
    session.flush()  # added after the confirmation opened
    with pytest.raises(ValidationError, match="changed since this confirmation"):
        envs.remove_environment(session, "Dev", cascade=True, expected=shown, actor=ADMIN)
    assert names(session) == ["Dev"]


def test_a_name_clash_found_on_write_leaves_the_callers_unit_of_work_to_the_caller(
    ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A concurrent writer took the name between the check and the insert: only the database notices.
    monkeypatch.setattr(envs, "_ensure_unique_name", lambda session, name: None)
    with ctx.session() as session:
        envs.add_environment(session, name="Dev", actor=ADMIN)
        with session.begin_nested(), pytest.raises(ValidationError, match="already exists"):
            envs.add_environment(session, name="Dev", actor=ADMIN)
        envs.add_environment(session, name="Stage", actor=ADMIN)  # the use-case did not end the caller's transaction
    with ctx.session() as session:
        assert names(session) == ["Dev", "Stage"]


def test_a_failed_add_leaves_nothing_behind(ctx: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(envs, "_ensure_unique_name", lambda session, name: None)
    with ctx.session() as session:
        envs.add_environment(session, name="Dev", actor=ADMIN)
    with pytest.raises(ValidationError, match="already exists"), ctx.session() as session:
        envs.add_environment(session, name="Stage", actor=ADMIN)
        envs.add_environment(session, name="Dev", actor=ADMIN)
    with ctx.session() as session:
        assert names(session) == ["Dev"]  # Stage, added in the same unit of work, was rolled back with it
