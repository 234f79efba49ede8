"""The wall Display's figures for today: its failure count follows the recorded reason of a rollback (a person's
decision to undo a good sync is not a failure; a rollback after a failed check is)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import streamlit as st
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from ranchersync.context import AppContext
from ranchersync.models import Environment, SyncOperation
from tests.core.test_history import change, pipeline, record
from tests.ui.conftest import assert_ok

PAGE = "pages/6_Display.py"


def figures(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def reopen(open_app: Callable[..., AppTest]) -> AppTest:
    """The Display as a TV shows it once its caches have run out (they live 15 s)."""
    st.cache_data.clear()
    return open_app(PAGE)


def test_the_display_counts_failed_rollbacks_and_not_decided_ones(open_app: Callable[..., AppTest],
                                                                   ctx: AppContext) -> None:
    now = dt.datetime.now(dt.UTC)
    start = max(now - dt.timedelta(minutes=10), now.replace(hour=0, minute=0, second=0, microsecond=0))
    with ctx.session() as session:
        envs = pipeline(session)
        stage, prod = envs["Stage"], envs["Prod"]
        good = record(session, stage, prod, "complete", start=start, seconds=1, changes=[change("web", "reg/web:2")])
        session.flush()
        first_id = good.id
    at = open_app(PAGE)
    assert_ok(at)
    assert (figures(at)["Syncs"], figures(at)["Failed"]) == ("1", "0")

    with ctx.session() as session:  # its operator rolls the good sync back: a decision
        good = session.get(SyncOperation, first_id)
        assert good is not None
        good.status, good.rollback_reason = "rolled_back", "decided"
        record(session, prod, prod, kind="rollback", start=start + dt.timedelta(seconds=2), seconds=1,
               rollback_of=good, changes=[change("web", "reg/web:1")])
    at = reopen(open_app)
    assert figures(at)["Failed"] == "0", "a person's rollback of a good sync is not a failure"

    with ctx.session() as session:  # a second sync whose rollout check failed, rolled back for it
        envs = {e.name: e for e in session.scalars(select(Environment))}
        bad = record(session, envs["Stage"], envs["Prod"], "rolled_back", start=start + dt.timedelta(seconds=4),
                     seconds=1, changes=[change("web", "reg/web:3", status="failed")])
        bad.rollback_reason = "failed"
    at = reopen(open_app)
    assert figures(at)["Failed"] == "1"
