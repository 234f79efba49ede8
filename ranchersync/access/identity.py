"""Actors and roles: who is acting, through which channel, and what their role lets them do.

The rule lives here once and every use-case asks it (`require`): a button the UI hides is not a check.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass
from typing import Final, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ranchersync.kernel.errors import PermissionDenied
from ranchersync.kernel.roles import ROLE_RANK, RolePolicy
from ranchersync.models import Channel, Role, User, utcnow

Action = Literal[
    "read",  # everything visible: catalogue, services, history, audit
    "sync",  # run a sync or a rollback into an environment (protected ones: releaser)
    "request_sync",  # ask for a sync that others approve
    "approve",  # decide on someone else's request
    "manage_catalogue",  # sites and tokens, environments, app instances
    "manage_quarantine",  # quarantine an image digest, lift it
    "override_quarantine",  # roll back to a quarantined digest, with a reason
    "manage_freeze",  # freeze windows and stop-all
    "override_freeze",  # sync into a frozen environment, with a reason
    "override_policy",  # promote despite a promotion policy (an unhealthy source), with a reason
    "manage_roles",  # assign roles
    "manage_notifications",
    "restore_database",  # replace the database's content with a backup (rolls the audit log back)
]

# The lowest role allowed each action; `sync` into a protected environment is raised to releaser below.
_MINIMUM: Final[dict[Action, Role]] = {
    "read": "viewer",
    "sync": "operator",
    "request_sync": "operator",
    "approve": "releaser",
    "manage_catalogue": "admin",
    "manage_quarantine": "releaser",
    "override_quarantine": "admin",
    "manage_freeze": "admin",
    "override_freeze": "admin",
    "override_policy": "releaser",
    "manage_roles": "admin",
    "manage_notifications": "admin",
    "restore_database": "admin",
}

_WHAT: Final[dict[Action, str]] = {
    "read": "see this",
    "sync": "sync or roll back",
    "request_sync": "request a sync",
    "approve": "approve or reject sync requests",
    "manage_catalogue": "change sites, tokens, environments or app instances",
    "manage_quarantine": "quarantine an image or lift a quarantine",
    "override_quarantine": "roll back to a quarantined image",
    "manage_freeze": "add or lift freeze windows",
    "override_freeze": "override a freeze window",
    "override_policy": "override a promotion policy",
    "manage_roles": "assign roles",
    "manage_notifications": "change notification settings",
    "restore_database": "replace the database with a backup",
}


@dataclass(frozen=True)
class Actor:
    """Who acts: an e-mail (or the CLI's user name, or `token:NAME` for an API token), their role, the channel and,
    where known, the client address. `environments`, when given, limits every change to those environments (an API
    token bound to some): a change elsewhere, or one that names no environment, is refused (`require`)."""

    email: str
    role: Role
    channel: Channel = "dashboard"
    name: str = ""
    address: str | None = None
    environments: frozenset[str] | None = None  # None: not limited

    @property
    def label(self) -> str:
        """How history and audit name this actor."""
        return self.email

    def at_least(self, role: Role) -> bool:
        """Whether this actor's role is `role` or higher."""
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


SYSTEM: Final = Actor("system", "admin", "system")  # the process itself: marking interrupted operations, expiry


def with_article(role: str) -> str:
    """A role as a sentence reads it: "an admin", "an operator", "a viewer", "a releaser"."""
    return f"{'an' if role[:1] in 'aeiou' else 'a'} {role}"


def minimum_role(action: Action, *, protected: bool = False) -> Role:
    """The lowest role that may do `action` (a sync into a protected environment needs a releaser)."""
    if action == "sync" and protected:
        return "releaser"
    return _MINIMUM[action]


def refusal(actor: Actor, action: Action, *, protected: bool = False, environment: str = "") -> str | None:
    """Why `actor` may not do `action`, in words for them; None when they may."""
    limit = scope_refusal(actor, action, environment)
    if limit is not None:
        return limit
    needed = minimum_role(action, protected=protected)
    if actor.at_least(needed):
        return None
    where = f" into the protected environment {environment}" if protected and environment else ""
    who, least = with_article(actor.role), with_article(needed)
    return f"{actor.email} is {who}: only {least} or higher may {_WHAT[action]}{where}"


def scope_refusal(actor: Actor, action: Action, environment: str = "") -> str | None:
    """Why an actor limited to some environments may not do `action` (on `environment`); None when it may.

    Reading stays open (a Stage token may compare Stage with Prod); a change must name an environment of the scope.
    """
    if actor.environments is None or action == "read":
        return None
    allowed = ", ".join(sorted(actor.environments)) or "no environment"
    if not environment:
        return f"{actor.email} is limited to {allowed}: it may not {_WHAT[action]} outside an environment"
    if environment not in actor.environments:
        return f"{actor.email} is limited to {allowed}: it may not {_WHAT[action]} in {environment}"
    return None


def require(actor: Actor, action: Action, *, protected: bool = False, environment: str = "") -> None:
    """Raise PermissionDenied (exit 3) unless `actor` may do `action`."""
    reason = refusal(actor, action, protected=protected, environment=environment)
    if reason is not None:
        raise PermissionDenied(reason)


# --- where a role comes from ---------------------------------------------------------------------------------------


def effective_role(session: Session, policy: RolePolicy, email: str, groups: tuple[str, ...] = ()) -> Role:
    """An explicit assignment (People page, `users set-role`) wins; else the admins list, the groups, the default.

    The admins list is the bootstrap and always wins, so an admin cannot lock everybody out by demoting themselves.
    """
    from_claims = policy.from_claims(email, groups)
    if from_claims == "admin" and any(fnmatch.fnmatchcase(email.lower(), p) for p in policy.admins):
        return "admin"
    user = session.scalar(select(User).where(User.email == email.lower()))
    if user is not None and user.role:
        return user.role  # type: ignore[return-value]
    return from_claims


def note_sign_in(session: Session, email: str, name: str, role: Role, now: dt.datetime | None = None) -> User:
    """Remember a signed-in identity (the People page lists them); the caller commits."""
    user = session.scalar(select(User).where(User.email == email.lower()))
    if user is None:
        user = User(email=email.lower(), name=name)
        session.add(user)
    user.name = name or user.name
    user.last_seen_at = now or utcnow()
    user.last_role = role
    session.flush()
    return user
