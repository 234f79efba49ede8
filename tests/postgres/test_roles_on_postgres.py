"""Roles and their audit on PostgreSQL: a refused change writes nothing, an allowed one commits with its event, and
role assignments (case-folded e-mails) decide the effective role, as on SQLite."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ranchersync.access import audit
from ranchersync.access.identity import Actor, effective_role
from ranchersync.catalogue import environments
from ranchersync.context import AppContext
from ranchersync.kernel.errors import PermissionDenied
from ranchersync.kernel.roles import RolePolicy
from ranchersync.models import AuditEvent, Environment
from ranchersync.people import directory as people

ADMIN = Actor("ada@example.com", "admin", "dashboard", address="203.0.113.9")
VIEWER = Actor("vera@example.com", "viewer", "dashboard")
POLICY = RolePolicy.parse(role_map='{"rsm-ops": "operator"}')


def test_refused_writes_nothing_and_allowed_commits_with_its_event(ctx: AppContext) -> None:
    with pytest.raises(PermissionDenied), ctx.session() as session:
        environments.add_environment(session, actor=VIEWER, name="Prod")
    with ctx.session() as session:
        assert session.scalar(select(Environment.id)) is None and session.scalar(select(AuditEvent.id)) is None
        environments.add_environment(session, actor=ADMIN, name="Prod", protected=True)
        people.set_role(session, ADMIN, "Otto@Example.com", "releaser")
    with ctx.session() as session:
        events = [(e.action, e.actor, e.role, e.channel, e.client_address) for e in
                  session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        assert events == [("environment.add", "ada@example.com", "admin", "dashboard", "203.0.113.9"),
                          ("user.role_set", "ada@example.com", "admin", "dashboard", "203.0.113.9")]
        assert audit.verify(session).ok
        assert effective_role(session, POLICY, "otto@example.com", ("rsm-ops",)) == "releaser"
        assert effective_role(session, POLICY, "olga@example.com", ("rsm-ops",)) == "operator"
