"""People and sign-in: who may start the dashboard without sign-in, who someone is once signed in, where their role
comes from, and the audited role assignments (People page, `users set-role`).

The dashboard's glue (ui/auth.py) reads the identity from Streamlit; everything it decides is decided here.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ranchersync.access import audit
from ranchersync.access.identity import (
    Actor,
    effective_role,
    note_sign_in,
    require,
)
from ranchersync.kernel.config import Settings
from ranchersync.kernel.errors import PermissionDenied, RefusedByPolicy, ValidationError
from ranchersync.kernel.roles import RolePolicy, check_role
from ranchersync.kernel.timefmt import iso
from ranchersync.kernel.validation import is_loopback
from ranchersync.models import Channel, Role, User, utcnow

__all__ = [
    "AnonymousRefused", "EmailNotVerified", "NotSignedIn", "Person", "ProxyNotTrusted", "auth_mode",
    "check_email_verified", "check_proxy_peer", "cli_identity",
    "identify", "list_people", "parse_groups", "person_payload", "record_sign_in", "record_sign_out", "role_source",
    "set_role",
]

EMAIL_MAX_LENGTH: Final = 320


class AnonymousRefused(RefusedByPolicy):
    """The dashboard would serve every visitor as an admin on an address others can reach."""

    kind = "anonymous_refused"
    default_title = "Sign-in is required on this address"


class NotSignedIn(RefusedByPolicy):
    """Nobody is signed in in this browser session (the dashboard shows the sign-in screen instead)."""

    kind = "not_signed_in"
    default_title = "Sign-in required"
    default_hint = "Sign in to continue."


class ProxyNotTrusted(RefusedByPolicy):
    """Proxy mode would believe identity headers from an address that is not the reverse proxy's."""

    kind = "proxy_not_trusted"
    default_title = "Identity headers are believed only from the proxy"
    default_hint = ("Reach the dashboard through the reverse proxy; an operator lists the proxy's addresses in "
                    "RANCHERSYNC_TRUSTED_PROXIES.")


class EmailNotVerified(RefusedByPolicy):
    """The OpenID provider does not vouch for the e-mail the identity claims, and e-mails are who people are here."""

    kind = "email_not_verified"
    default_title = "The e-mail address is not verified"
    default_hint = ("Verify the address with your identity provider and sign in again. An operator whose provider "
                    "never sends `email_verified` may set RANCHERSYNC_OIDC_ALLOW_UNVERIFIED_EMAIL=1.")


def check_email_verified(settings: Settings, claims: Any) -> None:
    """Refuse an OIDC identity whose `email_verified` claim is not true (roles, the admins list and four eyes all
    go by e-mail: an unverified one could be anybody's), unless RANCHERSYNC_OIDC_ALLOW_UNVERIFIED_EMAIL=1."""
    verified = claims.get("email_verified")
    if verified is True or (isinstance(verified, str) and verified.strip().lower() == "true"):
        return
    if settings.allow_unverified_email:
        return
    said = "does not say it is verified (no email_verified claim)" if verified is None else \
        f"says it is not verified (email_verified={verified!r})"
    raise EmailNotVerified(f"the provider {said} for {str(claims.get('email') or '')[:320]}")


LOOPBACK_NETWORKS: Final = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def listens_beyond_loopback(server_address: str | None) -> bool:
    """Whether Streamlit's `server.address` reaches other machines (empty: every interface)."""
    address = (server_address or "").strip()
    return not address or not is_loopback(address)


def auth_mode(settings: Settings, server_address: str | None) -> str:
    """The sign-in mode in force: RANCHERSYNC_AUTH, else `none`; `none` is refused on a non-loopback address unless
    RANCHERSYNC_ALLOW_ANONYMOUS=1 (every visitor would be an admin)."""
    mode = settings.auth or "none"
    if mode == "none" and listens_beyond_loopback(server_address) and not settings.allow_anonymous:
        where = (server_address or "").strip() or "every network interface"
        raise AnonymousRefused(
            f"the dashboard listens on {where} without sign-in (RANCHERSYNC_AUTH={settings.auth or 'unset'}): "
            "every visitor would act as an admin",
            hint="Set RANCHERSYNC_AUTH=oidc (with [auth] in .streamlit/secrets.toml) or RANCHERSYNC_AUTH=proxy "
                 "(behind oauth2-proxy), or listen on 127.0.0.1 (--server.address 127.0.0.1); only for a trusted "
                 "network, RANCHERSYNC_ALLOW_ANONYMOUS=1 accepts this.",
        )
    if mode == "proxy" and listens_beyond_loopback(server_address) and not settings.trusted_proxies:
        where = (server_address or "").strip() or "every network interface"
        raise ProxyNotTrusted(
            f"proxy mode listens on {where} without RANCHERSYNC_TRUSTED_PROXIES: anyone who reaches the port "
            "could send X-Forwarded-Email and act as anyone",
            title="Proxy mode needs RANCHERSYNC_TRUSTED_PROXIES",
            hint="Set RANCHERSYNC_TRUSTED_PROXIES to the reverse proxy's addresses (CIDRs, e.g. 10.42.0.0/16), or "
                 "listen on 127.0.0.1 with the proxy on the same host.",
        )
    return mode


def trusted_networks(settings: Settings) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Where identity headers may come from: RANCHERSYNC_TRUSTED_PROXIES, else this machine (loopback)."""
    return settings.trusted_proxies or LOOPBACK_NETWORKS


def _inside(address: str, networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip("[]").split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:10.0.0.5 on a dual-stack socket is 10.0.0.5
    return any(ip in network for network in networks)


def check_proxy_peer(settings: Settings, peer: str | None, *, forwarded_for: bool = False,
                     rewritten_from: Sequence[str] = ()) -> None:
    """Refuse identity headers unless the connection comes from a trusted proxy (RANCHERSYNC_TRUSTED_PROXIES).

    `peer` is the connection's address as the server reports it; `rewritten_from` are the addresses whose
    X-Forwarded-For the server (uvicorn's FORWARDED_ALLOW_IPS) puts in place of the peer: when the request carries
    that header, the reported address may be a header's word, not the connection's, so it is not believed.
    """
    networks = trusted_networks(settings)
    allowed = ", ".join(str(n) for n in networks)
    if forwarded_for and any(h.strip() for h in rewritten_from):
        raise ProxyNotTrusted(
            "the request carries X-Forwarded-For and this server takes the client address from it for connections "
            f"from {', '.join(h for h in rewritten_from if h.strip())} (uvicorn's FORWARDED_ALLOW_IPS): the "
            "address it reports is not the connection's",
            hint="Start the dashboard with FORWARDED_ALLOW_IPS= (empty), as `make run` and the image do, so the "
                 "address checked is the connection's own.",
        )
    if not peer:
        raise ProxyNotTrusted("the connection's address is unknown, so it cannot be the trusted proxy's")
    if not _inside(peer, networks):
        raise ProxyNotTrusted(f"the connection comes from {peer}, which is not a trusted proxy ({allowed}; "
                              "RANCHERSYNC_TRUSTED_PROXIES): its identity headers are not believed")


def parse_groups(value: Any) -> tuple[str, ...]:
    """Groups from an ID-token claim (a list, or one string) or a proxy header (comma-separated)."""
    if value is None:
        return ()
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    return tuple(dict.fromkeys(str(g).strip() for g in items if str(g).strip()))


def clean_email(value: str) -> str:
    """An identity's e-mail (or user name), lower-cased; refused when empty, too long or not one line."""
    email = (value or "").strip().lower()
    if not email:
        raise ValidationError("the identity has no e-mail: configure the provider to send the `email` claim")
    if len(email) > EMAIL_MAX_LENGTH or any(ord(c) < 32 or ord(c) == 127 or c.isspace() for c in email):
        raise ValidationError("the identity's e-mail is not a single short word")
    return email


def identify(
    session: Session,
    policy: RolePolicy,
    *,
    email: str,
    name: str = "",
    groups: Sequence[str] = (),
    channel: Channel = "dashboard",
    address: str | None = None,
) -> Actor:
    """The actor a signed-in identity is: an assigned role wins, then the admins list, the groups, the default."""
    who = clean_email(email)
    role = effective_role(session, policy, who, tuple(groups))
    return Actor(who, role, channel, name=(name or "").strip()[:200], address=address)


def cli_identity(session: Session, settings: Settings) -> Actor:
    """The command line's actor: RANCHERSYNC_USER (else the OS user) with its assigned role, else admin — whoever
    holds the database and the key can do anything, so the CLI is the audited break-glass channel."""
    who = clean_email(settings.user)
    user = session.scalar(select(User).where(User.email == who))
    role: Role = user.role if user is not None and user.role else "admin"  # type: ignore[assignment]
    # The claimed name is only a claim: the OS account that ran the command goes beside it, in the event's client
    # address (a CLI event has no network address), so `audit` shows "os:deploy" next to "rita@example.com".
    return Actor(who, role, "cli", address=f"os:{settings.os_user or 'unknown'}"[:100])


def record_sign_in(session: Session, actor: Actor, groups: Sequence[str] = (), now: dt.datetime | None = None) -> None:
    """Remember the identity (People page) and audit `user.sign_in`; once per browser session. The caller commits."""
    note_sign_in(session, actor.email, actor.name, actor.role, now)
    audit.record(session, actor, "user.sign_in", object_type="user", object_id=actor.email,
                 object_name=actor.name or actor.email, after={"role": actor.role, "groups": list(groups)})


def record_sign_out(session: Session, actor: Actor) -> None:
    """Audit `user.sign_out` (the Sign out button). The caller commits."""
    audit.record(session, actor, "user.sign_out", object_type="user", object_id=actor.email,
                 object_name=actor.name or actor.email)


# ---- people and assignments --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """One identity the People page lists: their role now and where it comes from."""

    email: str
    name: str
    role: Role
    source: str  # "assignment", "admins list", "groups at sign-in", "default"
    assigned_by: str | None
    last_seen_at: dt.datetime | None


def role_source(policy: RolePolicy, user: User) -> tuple[Role, str]:
    """A known user's role and its origin, as effective_role decides it (groups as of their last sign-in)."""
    if any(fnmatch.fnmatchcase(user.email, pattern) for pattern in policy.admins):
        return "admin", "admins list"
    if user.role:
        return user.role, "assignment"  # type: ignore[return-value]
    if user.last_role and user.last_role != policy.default_role:
        return user.last_role, "groups at sign-in"  # type: ignore[return-value]
    return policy.default_role, "default"


def list_people(session: Session, policy: RolePolicy) -> list[Person]:
    """Everyone who signed in or was assigned a role, by e-mail."""
    people = []
    for user in session.scalars(select(User).order_by(func.lower(User.email))):
        role, source = role_source(policy, user)
        people.append(Person(user.email, user.name, role, source, user.assigned_by, user.last_seen_at))
    return people


def set_role(session: Session, actor: Actor, email: str, role: str | None) -> User:
    """Assign `role` to `email` (None clears the assignment: groups and defaults decide again); admin only,
    audited as `user.role_set`. Nobody changes their own role: an admin cannot lock everyone out by accident."""
    require(actor, "manage_roles")
    who = clean_email(email)
    new_role = check_role(role) if role else None
    if who == actor.email.lower():
        raise PermissionDenied(f"{actor.email} cannot change their own role: another admin does that",
                               hint="Ask another admin, or use RANCHERSYNC_ADMINS for the bootstrap admins.")
    user = session.scalar(select(User).where(User.email == who))
    if user is None:
        user = User(email=who, name="", first_seen_at=utcnow())
        session.add(user)
    before = {"role": user.role}
    user.role, user.assigned_by = new_role, actor.email if new_role else None
    session.flush()
    audit.record(session, actor, "user.role_set", object_type="user", object_id=who, object_name=user.name or who,
                 before=before, after={"role": new_role},
                 detail=f"assigned {new_role}" if new_role else "assignment cleared: groups and defaults decide")
    return user


def person_payload(person: Person) -> dict[str, Any]:
    """A person as `users list --json` prints them."""
    return {"email": person.email, "name": person.name, "role": person.role, "source": person.source,
            "assignedBy": person.assigned_by, "lastSeenAt": iso(person.last_seen_at)}
