"""API tokens (issue 21): made by an admin, the secret shown once and stored only hashed; a token acts as
`token:NAME` on the api channel with its role, limited to its environments; unknown, expired and revoked tokens are
refused; four eyes holds between a token and a person."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from ranchersync.access.identity import Actor, require
from ranchersync.approvals import requests as approvals
from ranchersync.approvals.promote import Requested, promote
from ranchersync.catalogue import environments
from ranchersync.context import AppContext
from ranchersync.kernel.errors import PermissionDenied, ValidationError
from ranchersync.models import ApiToken, AuditEvent, SyncOperation, utcnow
from ranchersync.people import tokens
from ranchersync.simulator import SimulatedRancher
from ranchersync.sync import Confirmation, SyncOptions, new_request_id, plan_environments
from tests.builders import ADMIN, CliRun, cli_runner

FAST = SyncOptions(timeout_seconds=20, poll_seconds=0.2)
FRONTEND = ("Deployment", "frontend")


@pytest.fixture
def cli(demo: AppContext, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> CliRun:
    return cli_runner(demo, monkeypatch, capsys)


def issue(ctx: AppContext, name: str, role: str = "releaser", envs: tuple[str, ...] = (),
          days: int | None = None) -> tokens.IssuedToken:
    with ctx.session() as session:
        return tokens.create_token(session, ADMIN, name=name, role=role, environments=envs,  # type: ignore[arg-type]
                                   expires_days=days)


def login(ctx: AppContext, secret: str, address: str = "10.1.2.3") -> Actor:
    with ctx.session() as session:
        return tokens.authenticate(session, secret, address=address)


def test_the_cli_prints_the_secret_once_and_stores_only_a_hash(cli: CliRun, demo: AppContext) -> None:
    status, out, err = cli("lead@example.com", "tokens", "create", "--name", "ci-stage", "--role", "operator",
                           "--env", "Stage", "--expires-days", "30", "--json")
    assert status == 0, err
    created = json.loads(out)
    secret = created["secret"]
    assert secret.startswith("rsm_") and len(secret) > 50
    assert created["token"]["environments"] == ["Stage"] and created["token"]["role"] == "operator"
    status, out, err = cli("lead@example.com", "tokens", "list", "--json")
    assert status == 0, err
    assert secret not in out and secret.split("_")[2] not in out
    [listed] = json.loads(out)
    assert (listed["name"], listed["state"], listed["createdBy"], listed["lastUsedAt"]) == \
        ("ci-stage", "active", "lead@example.com", None)
    with demo.session() as session:
        stored = session.scalar(select(ApiToken))
        assert stored is not None and secret not in stored.secret_hash and stored.secret_hash.startswith("pbkdf2_")
        events = session.scalars(select(AuditEvent).where(AuditEvent.action.like("token.%"))).all()
        assert [(e.action, e.actor, e.channel) for e in events] == [("token.create", "lead@example.com", "cli")]
        assert secret not in json.dumps([e.after for e in events])
    status, out, err = cli("lead@example.com", "tokens", "create", "--name", "ci-prod", "--role", "releaser")
    assert status == 0 and out.strip().startswith("rsm_") and "shown this once" in err


def test_only_an_admin_creates_or_revokes_tokens(cli: CliRun) -> None:
    assert cli("lead@example.com", "users", "set-role", "rita@example.com", "releaser")[0] == 0
    status, _, err = cli("rita@example.com", "tokens", "create", "--name", "mine", "--role", "admin")
    assert status == 3 and "rita@example.com is a releaser" in err
    assert cli("lead@example.com", "tokens", "create", "--name", "ci", "--role", "viewer")[0] == 0
    assert cli("rita@example.com", "tokens", "revoke", "ci")[0] == 3
    status, _, err = cli("lead@example.com", "tokens", "create", "--name", "ci", "--role", "viewer")
    assert status == 2 and "exists already" in err
    assert cli("lead@example.com", "tokens", "create", "--name", "Bad Name", "--role", "viewer")[0] == 2
    assert cli("lead@example.com", "tokens", "create", "--name", "x", "--role", "boss")[0] == 2
    assert cli("lead@example.com", "tokens", "create", "--name", "y", "--role", "viewer", "--env", "Nowhere")[0] == 2
    assert cli("lead@example.com", "tokens", "create", "--name", "z", "--role", "viewer",
               "--expires-days", "0")[0] == 2


def test_a_token_acts_as_itself_on_the_api_channel_and_notes_its_last_use(demo: AppContext) -> None:
    issued = issue(demo, "ci-stage", "operator", ("Stage",))
    actor = login(demo, issued.secret)
    assert (actor.email, actor.role, actor.channel, actor.address) == ("token:ci-stage", "operator", "api", "10.1.2.3")
    assert actor.environments == frozenset({"Stage"})
    with demo.session() as session:
        [summary] = tokens.list_tokens(session)
    assert summary.last_used_at is not None and summary.last_used_address == "10.1.2.3"
    assert "secret" not in repr(issued.summary) and issued.secret not in repr(issued)
    assert login(demo, issue(demo, "ci-all").secret).environments is None  # no --env: every environment


@pytest.mark.parametrize("mangle", [
    lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"),  # the right lookup, a wrong secret
    lambda s: s.replace(s.split("_")[1], "0" * 16),  # an unknown lookup
    lambda s: "not-a-token",
    lambda s: "",
])
def test_a_wrong_or_malformed_secret_is_refused(demo: AppContext, mangle) -> None:
    issued = issue(demo, "ci")
    with pytest.raises(tokens.TokenRefused) as refused:
        login(demo, mangle(issued.secret))
    assert issued.secret not in str(refused.value)


def test_revoked_and_expired_tokens_are_refused(demo: AppContext) -> None:
    revoked, expired = issue(demo, "old"), issue(demo, "short", days=1)
    login(demo, revoked.secret)  # good until revoked; the verified secret is remembered, yet revocation wins
    with demo.session() as session:
        assert tokens.revoke_token(session, ADMIN, "old").state() == "revoked"
    with pytest.raises(tokens.TokenRefused, match="'old' was revoked"):
        login(demo, revoked.secret)
    with demo.session() as session:
        with pytest.raises(ValidationError, match="revoked already"):
            tokens.revoke_token(session, ADMIN, "old")
        row = session.scalar(select(ApiToken).where(ApiToken.name == "short"))
        assert row is not None
        row.expires_at = utcnow() - dt.timedelta(seconds=1)
    with pytest.raises(tokens.TokenRefused, match="'short' expired"):
        login(demo, expired.secret)
    with demo.session() as session:
        assert [(e.action, e.object_name) for e in session.scalars(
            select(AuditEvent).where(AuditEvent.action == "token.revoke"))] == [("token.revoke", "old")]


def test_a_token_limited_to_stage_may_change_nothing_else(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    actor = login(demo, issue(demo, "ci-stage", "admin", ("Stage",)).secret)
    require(actor, "sync", environment="Stage")
    require(actor, "read")  # reading stays open: a pipeline compares Stage with Prod
    with pytest.raises(PermissionDenied, match="limited to Stage: it may not sync or roll back in Prod"):
        require(actor, "sync", environment="Prod")
    with pytest.raises(PermissionDenied, match="limited to Stage"):  # a change that names no environment
        require(actor, "manage_catalogue")
    with demo.session() as session:
        plan = plan_environments(session, demo.cipher, "Stage", "Prod", services=["frontend"],
                                 targets={FRONTEND: "all"})
    with pytest.raises(PermissionDenied, match="limited to Stage"):
        promote(demo, actor, plan, request_id=new_request_id(), options=FAST, confirmed=Confirmation())
    with demo.session() as session:
        assert session.scalars(select(SyncOperation)).all() == []


def test_a_token_never_approves_its_own_request(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    with demo.session() as session:
        environments.update_environment(session, "Prod", required_approvals=1, actor=ADMIN)
    actor = login(demo, issue(demo, "ci-prod", "admin").secret)
    with demo.session() as session:
        plan = plan_environments(session, demo.cipher, "Stage", "Prod", services=["frontend"],
                                 targets={FRONTEND: "all"})
    outcome = promote(demo, actor, plan, request_id=new_request_id(), options=FAST, confirmed=Confirmation())
    assert isinstance(outcome, Requested)
    with pytest.raises(PermissionDenied, match="requester can never approve"):
        approvals.decide(demo, actor, outcome.request_id, True)
    stage_only = login(demo, issue(demo, "ci-stage", "admin", ("Stage",)).secret)
    with pytest.raises(PermissionDenied, match="limited to Stage"):
        approvals.decide(demo, stage_only, outcome.request_id, True)
    decided = approvals.decide(demo, Actor("bob@example.com", "releaser"), outcome.request_id, True)
    assert decided.status == "executed"
    with demo.session() as session:
        assert approvals.get_request(session, outcome.request_id).requested_by == "token:ci-prod"
