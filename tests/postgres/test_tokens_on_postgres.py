"""API tokens and Idempotency-Key on PostgreSQL: a token authenticates and notes its use, a revoked one is refused,
and two concurrent first calls with one key claim it once (the unique constraint, as on SQLite)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from ranchersync.access.identity import Actor
from ranchersync.api import idempotency
from ranchersync.context import AppContext
from ranchersync.kernel.errors import RancherSyncError
from ranchersync.models import IdempotentAnswer
from ranchersync.people import tokens

ADMIN = Actor("ada@example.com", "admin", "dashboard")


def test_tokens_and_one_claim_per_idempotency_key(ctx: AppContext) -> None:
    with ctx.session() as session:
        issued = tokens.create_token(session, ADMIN, name="ci", role="operator")
    with ctx.session() as session:
        actor = tokens.authenticate(session, issued.secret, address="10.0.0.7")
    assert (actor.email, actor.channel, actor.environments) == ("token:ci", "api", None)

    outcomes: list[object] = []
    start = threading.Barrier(4)

    def claim() -> None:
        start.wait()
        try:
            outcomes.append(idempotency.begin(ctx, "ci", "run-1", "f" * 64))
        except RancherSyncError as error:
            outcomes.append(error.kind)

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count(None) == 1 and outcomes.count("idempotency_key_in_use") == 3  # one claim, others wait
    idempotency.finish(ctx, "ci", "run-1", 200, '{"id": 7}', {"content-type": "application/json"})
    replay = idempotency.begin(ctx, "ci", "run-1", "f" * 64)
    assert replay is not None and (replay.status, replay.body) == (200, '{"id": 7}')

    with ctx.session() as session:
        tokens.revoke_token(session, ADMIN, "ci")
    with ctx.session() as session:
        assert session.scalar(select(IdempotentAnswer.id)) is None  # its answers went with it
    with pytest.raises(tokens.TokenRefused, match="revoked"), ctx.session() as session:
        tokens.authenticate(session, issued.secret)
