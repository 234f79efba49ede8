"""Roles in the core: each use-case refuses a role below its minimum (PermissionDenied, exit 3) whatever a screen
shows, writes one audit event with the actor, role and channel (and never a token), and roles come from an
assignment, the admins list, the groups and the default, in that order."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ranchersync.access import audit
from ranchersync.access.identity import Actor, effective_role, refusal
from ranchersync.approvals.promote import Requested, promote
from ranchersync.catalogue import environments, instances, sites
from ranchersync.catalogue.instances import Placement
from ranchersync.context import AppContext
from ranchersync.kernel.config import Settings
from ranchersync.kernel.errors import PermissionDenied, ValidationError
from ranchersync.kernel.roles import ROLES as ROLE_ORDER
from ranchersync.kernel.roles import RolePolicy
from ranchersync.models import AuditEvent, SyncOperation, User
from ranchersync.people import directory as people
from ranchersync.security import keys
from ranchersync.security.crypto import TokenCipher
from ranchersync.simulator import SimulatedRancher
from ranchersync.sync import (
    Confirmation,
    SyncOptions,
    apply_plan,
    new_request_id,
    plan_environments,
    rollback_operation,
)
from tests.builders import ADMIN

VIEWER = Actor("vera@example.com", "viewer", "dashboard", address="10.1.2.3")
OPERATOR = Actor("otto@example.com", "operator", "dashboard")
RELEASER = Actor("rita@example.com", "releaser", "cli")
ROLES = {"viewer": VIEWER, "operator": OPERATOR, "releaser": RELEASER, "admin": ADMIN}
ARTICLES = {"viewer": "a viewer", "operator": "an operator", "releaser": "a releaser", "admin": "an admin"}
TOKEN = "token-abcde:" + "s" * 54
FAST = SyncOptions(timeout_seconds=20, poll_seconds=0.2)


def _catalogue(session: Session, cipher: TokenCipher) -> None:
    sites.add_site(session, cipher, actor=ADMIN, name="eu",
                   connection=sites.Connection("https://rancher.example.com", TOKEN))
    environments.add_environment(session, actor=ADMIN, name="Dev")
    instances.add_instance(session, actor=ADMIN, name="shop", site="eu", environment="Dev",
                           placement=Placement("c-1", "east", "shop-dev"))


# Each catalogue use-case, as one call taking the actor; all need admin.
CATALOGUE: dict[str, Callable[[Session, TokenCipher, Actor], Any]] = {
    "site.add": lambda s, c, a: sites.add_site(s, c, actor=a, name="us",
                                               connection=sites.Connection("https://us.example.com", TOKEN)),
    "site.update": lambda s, c, a: sites.update_site(s, c, "eu", sites.SiteChange(token=TOKEN.replace("s", "t")),
                                                     actor=a),
    "site.deactivate": lambda s, c, a: sites.update_site(s, c, "eu", sites.SiteChange(active=False), actor=a),
    "site.remove": lambda s, c, a: sites.remove_site(s, "eu", actor=a, cascade=True),
    "environment.add": lambda s, c, a: environments.add_environment(s, actor=a, name="Prod", protected=True),
    "environment.update": lambda s, c, a: environments.update_environment(s, "Dev", actor=a, description="x"),
    "environment.move": lambda s, c, a: environments.move_environment(s, "Dev", 0, actor=a),
    "environment.remove": lambda s, c, a: environments.remove_environment(s, "Dev", actor=a, cascade=True),
    "instance.add": lambda s, c, a: instances.add_instance(s, actor=a, name="shop2", site="eu", environment="Dev",
                                                           placement=Placement("c-1", "east", "other")),
    "instance.update": lambda s, c, a: instances.update_instance(s, "shop", actor=a, name="shop-eu"),
    "instance.remove": lambda s, c, a: instances.remove_instance(s, "shop", actor=a),
    "user.role_set": lambda s, c, a: people.set_role(s, a, "newcomer@example.com", "operator"),
}


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize("action", list(CATALOGUE))
def test_the_catalogue_and_roles_are_admin_only_and_audited(ctx: AppContext, action: str, role: str) -> None:
    actor = ROLES[role]
    with ctx.session() as session:
        _catalogue(session, ctx.cipher)
    with ctx.session() as session:
        before = session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))
    if role != "admin":
        with pytest.raises(PermissionDenied) as refused, ctx.session() as session:
            CATALOGUE[action](session, ctx.cipher, actor)
        assert refused.value.exit_code == 3 and f"{actor.email} is {ARTICLES[role]}:" in str(refused.value)
        with ctx.session() as session:  # nothing written, not even the event
            assert session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1)) == before
        return
    with ctx.session() as session:
        CATALOGUE[action](session, ctx.cipher, actor)
    with ctx.session() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.id > before)).one()
        assert (event.action, event.actor, event.role, event.channel) == (action, ADMIN.email, "admin", "cli")
        assert audit.verify(session).ok
        stored = json.dumps([event.before, event.after, event.detail])
        assert "token-" not in stored and TOKEN[12:] not in stored


def test_a_replaced_token_is_a_flag_in_the_audit_never_a_value(ctx: AppContext) -> None:
    with ctx.session() as session:
        _catalogue(session, ctx.cipher)
        ann = Actor("ann@example.com", "admin", "dashboard", address="192.0.2.7")
        sites.update_site(session, ctx.cipher, "eu", sites.SiteChange(token="token-zzzzz:" + "z" * 54, name="europe"),
                          actor=ann)
    with ctx.session() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "site.update")).one()
        assert event.before is not None and event.after is not None
        assert event.before["name"] == "eu" and event.after["name"] == "europe"
        assert event.after["tokenReplaced"] is True and event.client_address == "192.0.2.7"
        assert "zzzz" not in json.dumps([event.before, event.after])


def test_key_rotation_is_admin_only(ctx: AppContext, settings: Settings) -> None:
    with pytest.raises(PermissionDenied), ctx.session() as session:
        keys.rotate_keys(session, ctx.cipher, actor=RELEASER)


def test_every_role_reads_with_its_article_in_a_refusal() -> None:
    order = ROLE_ORDER  # lowest first
    assert set(ARTICLES) == set(order), "a new role needs its phrase here"
    for role, higher in zip(order, order[1:], strict=False):
        action = {"operator": "sync", "releaser": "approve", "admin": "manage_catalogue"}[higher]
        words = refusal(Actor("x@example.com", role), action)  # type: ignore[arg-type]
        assert words is not None and words.startswith(f"x@example.com is {ARTICLES[role]}: "), words
        assert f"only {ARTICLES[higher]} or higher may " in words, words


# ---- syncs: the core refuses whatever the UI shows ---------------------------------------------------------------


def _frontend_plan(ctx: AppContext) -> Any:
    with ctx.session() as session:
        return plan_environments(session, ctx.cipher, "Stage", "Prod", services=["frontend"],
                                 targets={("Deployment", "frontend"): "all"})


def test_a_viewer_calling_the_sync_use_case_is_refused_and_nothing_runs(
        demo: AppContext, rancher_us: SimulatedRancher) -> None:
    with pytest.raises(PermissionDenied) as refused:
        apply_plan(demo, _frontend_plan(demo), actor=VIEWER, request_id=new_request_id(), options=FAST)
    assert refused.value.exit_code == 3 and "only an operator or higher may sync" in str(refused.value)
    with demo.session() as session:
        assert session.scalar(select(SyncOperation.id)) is None


def test_an_operator_syncs_unprotected_and_only_requests_protected(
        demo: AppContext, rancher_us: SimulatedRancher) -> None:
    with demo.session() as session:
        environments.update_environment(session, "Prod", actor=ADMIN, protected=True)
    # Below releaser, a protected target turns the sync into a request…
    requested = promote(demo, OPERATOR, _frontend_plan(demo), request_id=new_request_id(), options=FAST,
                        confirmed=Confirmation(confirm_env="Prod"))
    assert isinstance(requested, Requested)
    # …and the apply use-case called directly refuses it rather than skipping the four eyes.
    with pytest.raises(PermissionDenied):
        apply_plan(demo, _frontend_plan(demo), actor=OPERATOR, request_id=new_request_id(), options=FAST,
                   confirmed=Confirmation(confirm_env="Prod"))
    with demo.session() as session:
        assert session.scalar(select(SyncOperation.id)) is None
        environments.update_environment(session, "Prod", actor=ADMIN, protected=False)
    operation_id = apply_plan(demo, _frontend_plan(demo), actor=OPERATOR, request_id=new_request_id(), options=FAST)
    with demo.session() as session:
        operation = session.get_one(SyncOperation, operation_id)
        assert operation.status == "complete" and operation.initiated_by == OPERATOR.email
        started = session.scalars(select(AuditEvent).where(AuditEvent.action == "sync.start")).one()
        assert (started.actor, started.role, started.channel, started.object_id) == (
            OPERATOR.email, "operator", "dashboard", str(operation_id))
        environments.update_environment(session, "Prod", actor=ADMIN, protected=True)
    # A rollback into what is now protected needs a releaser.
    with pytest.raises(PermissionDenied, match="releaser"):
        rollback_operation(demo, operation_id, actor=OPERATOR, request_id=new_request_id(), confirm_env="Prod")
    back = rollback_operation(demo, operation_id, actor=RELEASER, request_id=new_request_id(), confirm_env="Prod",
                              options=FAST)
    with demo.session() as session:
        assert session.get_one(SyncOperation, back).initiated_by == RELEASER.email
        assert session.scalars(select(AuditEvent.actor).where(AuditEvent.action == "rollback.start")).all() == [
            RELEASER.email]


# ---- where a role comes from -------------------------------------------------------------------------------------


POLICY = RolePolicy.parse(admins="boss@example.com,*@root.example.com",
                          role_map='{"rsm-viewers": "viewer", "rsm-releasers": "releaser", "rsm-ops": "operator"}',
                          default_role="viewer")


@pytest.mark.parametrize(("email", "groups", "assigned", "expected"), [
    ("new@example.com", (), None, "viewer"),  # the default
    ("new@example.com", ("rsm-ops",), None, "operator"),  # a mapped group
    ("new@example.com", ("rsm-ops", "rsm-releasers", "rsm-viewers"), None, "releaser"),  # the highest mapped group
    ("new@example.com", ("rsm-releasers",), "viewer", "viewer"),  # an assignment beats the groups (down)
    ("new@example.com", (), "admin", "admin"),  # … and up
    ("boss@example.com", (), "viewer", "admin"),  # the admins list beats an assignment: nobody locks the boss out
    ("Someone@Root.Example.com", (), None, "admin"),  # globs, case-insensitive
])
def test_effective_role_precedence(session: Session, email: str, groups: tuple[str, ...], assigned: str | None,
                                   expected: str) -> None:
    if assigned:
        session.add(User(email=email.lower(), name="", role=assigned))
        session.flush()
    assert effective_role(session, POLICY, email.lower(), groups) == expected


def test_people_list_says_where_each_role_comes_from(session: Session) -> None:
    admin = people.identify(session, POLICY, email="boss@example.com")
    people.record_sign_in(session, people.identify(session, POLICY, email="op@example.com", groups=["rsm-ops"]),
                          ["rsm-ops"])
    people.record_sign_in(session, people.identify(session, POLICY, email="v@example.com"))
    people.set_role(session, admin, "r@example.com", "releaser")
    found = {p.email: (p.role, p.source) for p in people.list_people(session, POLICY)}
    assert found == {"op@example.com": ("operator", "groups at sign-in"), "v@example.com": ("viewer", "default"),
                     "r@example.com": ("releaser", "assignment")}
    people.set_role(session, admin, "r@example.com", None)
    assert {p.email: p.source for p in people.list_people(session, POLICY)}["r@example.com"] == "default"
    actions = [e.action for e in audit.list_events(session).items]
    assert actions == ["user.role_set", "user.role_set", "user.sign_in", "user.sign_in"]
    with pytest.raises(PermissionDenied, match="own role"):
        people.set_role(session, admin, "boss@example.com", "viewer")
    with pytest.raises(ValidationError, match="unknown role"):
        people.set_role(session, admin, "r@example.com", "superuser")


@pytest.mark.parametrize(("auth", "address", "allow", "refused"), [
    ("", "127.0.0.1", "", False),
    ("", "localhost", "", False),
    ("", "::1", "", False),
    ("", "0.0.0.0", "", True),
    ("", "", "", True),  # Streamlit's default: every interface
    ("none", "10.0.0.5", "", True),
    ("none", "0.0.0.0", "1", False),
    ("oidc", "0.0.0.0", "", False),
    ("proxy", "127.0.0.1", "", False),  # beyond loopback it needs RANCHERSYNC_TRUSTED_PROXIES (test_proxy_trust)
])
def test_anonymous_mode_is_refused_off_loopback(auth: str, address: str, allow: str, refused: bool) -> None:
    settings = Settings.from_env({"RANCHERSYNC_AUTH": auth, "RANCHERSYNC_ALLOW_ANONYMOUS": allow})
    if refused:
        with pytest.raises(people.AnonymousRefused) as error:
            people.auth_mode(settings, address)
        assert "RANCHERSYNC_AUTH=oidc" in error.value.hint and error.value.exit_code == 3
    else:
        assert people.auth_mode(settings, address) == (auth or "none")


@pytest.mark.parametrize(("variable", "value", "complaint"), [
    ("RANCHERSYNC_AUTH", "ldap", "one of none, oidc, proxy"),
    ("RANCHERSYNC_ROLE_MAP", "{not json", "must be JSON"),
    ("RANCHERSYNC_ROLE_MAP", '{"g": "superuser"}', "unknown role"),
    ("RANCHERSYNC_DEFAULT_ROLE", "boss", "unknown role"),
    ("RANCHERSYNC_ALLOW_ANONYMOUS", "maybe", "1 or 0"),
    ("RANCHERSYNC_USER_HEADER", "X Email", "header name"),
])
def test_bad_auth_settings_are_a_clear_error_at_start(variable: str, value: str, complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        Settings.from_env({variable: value})
