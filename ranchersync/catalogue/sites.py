"""Use-cases for Rancher sites: register, test, update, deactivate, remove; and what Rancher lists for pickers."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ranchersync.access import audit
from ranchersync.access.identity import Actor, require
from ranchersync.kernel.errors import InvalidFields, RancherAPIError, ValidationError
from ranchersync.kernel.validation import (
    check_ca_bundle,
    check_fields,
    check_token,
    clean_name,
    name_key,
    normalize_rancher_url,
)
from ranchersync.models import AppInstance, Site, utcnow
from ranchersync.rancher import Cluster, ConnectionInfo, Namespace, RancherClient
from ranchersync.security.crypto import TokenCipher
from ranchersync.security.host_policy import HostPolicy, HostRefused, default_policy
from ranchersync.storage import store
from ranchersync.storage.lookup import get_by_ref

# Tests and the demo swap in their own factory; production uses the real client.
ClientFactory = Callable[..., RancherClient]


@dataclass(frozen=True)
class Connection:
    """How to reach one Rancher server; the token is held only as long as the action that needs it."""

    url: str
    token: str
    ca_bundle: str | None = None
    insecure: bool = False

    def __repr__(self) -> str:  # the token stays out of logs and tracebacks
        return f"Connection(url={self.url!r}, insecure={self.insecure!r})"

    def client(self, factory: ClientFactory = RancherClient, **options: Any) -> RancherClient:
        """A client for this server (options such as `retries` go to the client)."""
        return factory(self.url, self.token, ca_bundle=self.ca_bundle, insecure=self.insecure, **options)


def make_connection(
    url: str,
    token: str,
    *,
    ca_bundle: str | bytes | None = None,
    insecure: bool = False,
    allow_http: bool = False,
    policy: HostPolicy | None = None,
) -> Connection:
    """Validate what a user typed for a site into a Connection; the host rule is checked before any connection.
    Every wrong field is reported at once (InvalidFields: url, token, ca_bundle)."""

    def ca() -> str | None:
        checked = check_ca_bundle(ca_bundle)
        if checked and insecure:
            raise ValidationError("choose either a CA bundle or skipping TLS verification, not both")
        return checked

    def base_url() -> str:
        normalized = normalize_rancher_url(url, allow_http=allow_http)
        check_site_host(normalized, policy)
        return normalized

    fields = check_fields(url=base_url, token=lambda: check_token(token), ca_bundle=ca)
    return Connection(fields["url"], fields["token"], fields["ca_bundle"], insecure)


def check_new_site(
    name: str,
    url: str,
    token: str,
    *,
    taken: Collection[str],
    ca_bundle: str | bytes | None = None,
    insecure: bool = False,
    allow_http: bool = False,
    policy: HostPolicy | None = None,
) -> tuple[str, Connection]:
    """A new site's name (not one of the `taken` names) and connection, every wrong field reported at once
    (InvalidFields: name, url, token, ca_bundle); nothing is contacted."""

    def free_name() -> str:
        cleaned = clean_name(name, "site")
        if any(name_key(other) == name_key(cleaned) for other in taken):
            raise ValidationError(f"a site named '{cleaned}' already exists")
        return cleaned

    fields = check_fields(
        name=free_name,
        connection=lambda: make_connection(url, token, ca_bundle=ca_bundle, insecure=insecure,
                                           allow_http=allow_http, policy=policy),
    )
    return fields["name"], fields["connection"]


def check_site_host(url: str, policy: HostPolicy | None = None) -> None:
    """Refuse a site URL whose host the policy denies (metadata and link-local addresses, the allow-list)."""
    host = urlsplit(url).hostname or ""
    try:
        (policy or default_policy()).check_host(host)
    except HostRefused as refused:
        raise ValidationError(str(refused)) from None


@dataclass(frozen=True)
class Reach:
    """Where a site's token goes and how it is protected on the way: what a stored token is bound to."""

    url: str
    ca_bundle: str | None = None
    insecure: bool = False
    allow_http: bool = False

    @property
    def origin(self) -> tuple[str, str, int]:
        """(scheme, host, port) with the scheme's default port filled in."""
        parts = urlsplit(self.url)
        return parts.scheme, (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80)

    @property
    def origin_text(self) -> str:
        """scheme://host[:port], never a path (which a user might have pasted anything into)."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"


def token_rebind_reason(old: Reach, new: Reach) -> str | None:
    """Why moving a site from `old` to `new` needs a new token in the same change, or None when it does not.

    The stored token may only go where it went before, as protected as before: another scheme, host or port, other
    trust (CA bundle, skipping verification) or newly allowed plain HTTP all need the new server's own token. Changes
    that can only narrow who could read the token pass: turning off "skip verification" (any TLS choice checks more
    than none) and turning off plain HTTP.
    """
    if old.origin != new.origin:
        return f"the address changes from {old.origin_text} to {new.origin_text}"
    if new.insecure and not old.insecure:
        return "TLS verification would be skipped"
    if not old.insecure and (old.ca_bundle or None) != (new.ca_bundle or None):
        return "the CA bundle that decides which certificate is trusted changes"
    if new.allow_http and not old.allow_http:
        return "plain HTTP would be allowed"
    return None


def token_rebind_message(reason: str) -> str:
    """The refusal shown when a change needs a new token (the CLI and the dashboard say the same)."""
    return (
        f"{reason}: give the API token for the new setting in the same change. The stored token is only ever sent "
        "where, and as protected as, it was when it was given; nothing was changed."
    )


def site_connection(site: Site, cipher: TokenCipher) -> Connection:
    """The stored connection of a site, its token decrypted just in time."""
    return Connection(site.url, cipher.decrypt(site.token_encrypted), site.ca_bundle, site.insecure)


def check_connection(connection: Connection, factory: ClientFactory = RancherClient) -> ConnectionInfo:
    """Test a connection before anything is stored (the first-visit dialog, `sites add`).

    One retry only: someone is waiting for the answer, and a refused connection should say so in a second, not
    after the full backoff a background read can afford.
    """
    with connection.client(factory, retries=1) as client:
        return client.test_connection()


def add_site(
    session: Session,
    cipher: TokenCipher,
    *,
    actor: Actor,
    name: str,
    connection: Connection,
    allow_http: bool = False,
    info: ConnectionInfo | None = None,
) -> Site:
    """Store a new site; `info` is the result of a connection test made just before, if any."""
    require(actor, "manage_catalogue")
    site_name = clean_name(name, "site")
    _ensure_unique_name(session, site_name)
    site = Site(
        name=site_name,
        url=connection.url,
        token_encrypted=cipher.encrypt(connection.token),
        ca_bundle=connection.ca_bundle,
        insecure=connection.insecure,
        allow_http=allow_http,
        active=True,
    )
    if info is not None:
        _record_contact(site, info)
    session.add(site)
    _flush(session, site_name)
    audit.record(session, actor, "site.add", object_type="site", object_id=site.id, object_name=site.name,
                 after=site_snapshot(site))
    return site


def site_snapshot(site: Site) -> dict[str, object]:
    """What the audit log keeps of a site: never its token, not even encrypted."""
    return {"name": site.name, "url": site.url, "active": site.active, "insecure": site.insecure,
            "allowHttp": site.allow_http, "hasCaBundle": bool(site.ca_bundle),
            "usePullSecrets": bool(site.use_pull_secrets)}


def list_sites(session: Session) -> list[Site]:
    """Every site, by name."""
    return list(session.scalars(select(Site).order_by(func.lower(Site.name))))


def get_site(session: Session, ref: int | str) -> Site:
    """A site by id or name."""
    return get_by_ref(session, Site, ref)


@dataclass(frozen=True)
class SiteChange:
    """What to change in a site; None leaves a field as it is. The token is never shown (not even in a repr)."""

    name: str | None = None
    url: str | None = None
    token: str | None = field(default=None, repr=False)
    ca_bundle: str | bytes | None = None
    clear_ca_bundle: bool = False
    insecure: bool | None = None
    allow_http: bool | None = None
    active: bool | None = None
    use_pull_secrets: bool | None = None  # read the target workloads' imagePullSecrets in the registry preflight


def update_site(
    session: Session,
    cipher: TokenCipher,
    ref: int | str,
    change: SiteChange,
    *,
    actor: Actor,
    policy: HostPolicy | None = None,
) -> Site:
    """Change a site; a new token replaces the old one, which is never shown again.

    Raises:
        ValidationError: bad input; or the address or the TLS settings change without a new token
            (`token_rebind_reason`); or the new host is refused by the host policy. Nothing is changed then.
    """
    require(actor, "manage_catalogue")
    site = get_site(session, ref)
    before = site_snapshot(site)
    new_allow_http = site.allow_http if change.allow_http is None else change.allow_http
    new_insecure = site.insecure if change.insecure is None else change.insecure
    old_reach = Reach(site.url, site.ca_bundle, site.insecure, site.allow_http)

    def ca() -> str | None:
        checked = (None if change.clear_ca_bundle
                   else check_ca_bundle(change.ca_bundle) if change.ca_bundle is not None else site.ca_bundle)
        if checked and new_insecure:
            raise ValidationError("choose either a CA bundle or skipping TLS verification, not both")
        return checked

    def url() -> str:
        normalized = normalize_rancher_url(change.url if change.url is not None else site.url,
                                           allow_http=new_allow_http)
        if Reach(normalized).origin != old_reach.origin:
            check_site_host(normalized, policy)
        return normalized

    def name() -> str:
        if change.name is None:
            return site.name
        cleaned = clean_name(change.name, "site")
        if cleaned != site.name:
            _ensure_unique_name(session, cleaned)
        return cleaned

    checked = check_fields(  # every wrong field at once
        name=name, url=url, token=lambda: check_token(change.token) if change.token is not None else None,
        ca_bundle=ca,
    )
    new_url, new_ca, new_token = checked["url"], checked["ca_bundle"], checked["token"]
    reason = token_rebind_reason(old_reach, Reach(new_url, new_ca, new_insecure, new_allow_http))
    if reason is not None and new_token is None:
        raise InvalidFields({"token": token_rebind_message(reason)})
    site.name = checked["name"]
    site.url, site.ca_bundle, site.insecure, site.allow_http = new_url, new_ca, new_insecure, new_allow_http
    if new_token is not None:
        site.token_encrypted = cipher.encrypt(new_token)
        site.token_expires_at = None  # learnt again at the next test
    if change.active is not None:
        site.active = change.active
    if change.use_pull_secrets is not None:
        site.use_pull_secrets = change.use_pull_secrets
    _flush(session, site.name)
    after: dict[str, object] = {**site_snapshot(site), "tokenReplaced": new_token is not None}
    action = "site.update"
    unchanged = {**after, "active": None, "tokenReplaced": None} == {**before, "active": None, "tokenReplaced": None}
    if change.active is not None and new_token is None and unchanged:
        action = "site.activate" if site.active else "site.deactivate"  # nothing else changed
    audit.record(session, actor, action, object_type="site", object_id=site.id, object_name=site.name,
                 before=before, after=after)
    return site


def remove_site(
    session: Session, ref: int | str, *, actor: Actor, cascade: bool = False, expected: Collection[int] | None = None
) -> list[str]:
    """Remove a site; refused while app instances use it unless `cascade`, which removes them too. Returns them.

    `expected` holds the app instance ids a confirmation showed: when they changed since, nothing is removed.
    """
    require(actor, "manage_catalogue")
    site = get_site(session, ref)
    instances = list(session.scalars(select(AppInstance).where(AppInstance.site_id == site.id)))
    audit.record(session, actor, "site.remove", object_type="site", object_id=site.id, object_name=site.name,
                 before=site_snapshot(site), detail=_removed_with(instances))
    return store.remove_with_instances(
        session, site, instances, cascade=cascade, expected=expected,
        refusal=lambda count, names: (f"site '{site.name}' is used by {count} app instance(s) ({names}): remove "
                                      "them first, or confirm removing them with the site"),
    )


@dataclass(frozen=True)
class ConnectionTest:
    """The outcome of testing a stored site: `success` and a message a user can act on."""

    success: bool
    message: str
    info: ConnectionInfo | None = None
    error: RancherAPIError | None = None  # the typed failure, so a UI can explain it by kind


def test_site(
    session: Session, cipher: TokenCipher, ref: int | str, factory: ClientFactory = RancherClient
) -> ConnectionTest:
    """Test a stored site and record the outcome on it (user, token expiry and latency, or the error)."""
    site = get_site(session, ref)
    try:
        info = check_connection(site_connection(site, cipher), factory)
    except RancherAPIError as error:
        site.last_error = str(error)
        session.flush()
        return ConnectionTest(False, str(error), error=error)
    _record_contact(site, info)
    session.flush()
    return ConnectionTest(True, f"Connection successful: signed in as {info.user_name}", info)


def list_clusters(
    session: Session, cipher: TokenCipher, ref: int | str, factory: ClientFactory = RancherClient
) -> list[Cluster]:
    """The clusters the site's token can see, by name."""
    with site_connection(get_site(session, ref), cipher).client(factory) as client:
        return sorted(client.list_clusters(), key=lambda c: c.name.lower())


def list_namespaces(
    session: Session, cipher: TokenCipher, ref: int | str, cluster: str, factory: ClientFactory = RancherClient
) -> list[Namespace]:
    """The namespaces of one cluster (by id or display name) of a site, by name."""
    site = get_site(session, ref)
    with site_connection(site, cipher).client(factory) as client:
        cluster_id = resolve_cluster(client.list_clusters(), cluster, site.name).id
        return sorted(client.list_namespaces(cluster_id), key=lambda n: n.name)


def resolve_cluster(clusters: list[Cluster], ref: str, site_name: str) -> Cluster:
    """The cluster whose id or display name is `ref`."""
    for cluster in clusters:
        if ref in (cluster.id, cluster.name):
            return cluster
    known = ", ".join(f"{c.name} ({c.id})" for c in clusters) or "none"
    raise ValidationError(f"site '{site_name}' has no cluster '{ref}' (its clusters: {known})")


def _record_contact(site: Site, info: ConnectionInfo) -> None:
    site.rancher_user = info.user_name
    site.token_expires_at = info.token_expires_at
    site.last_contact_at = utcnow()
    site.last_latency_ms = round(info.latency_ms)
    site.last_error = None


def _removed_with(instances: list[AppInstance]) -> str:
    names = ", ".join(sorted(i.name for i in instances))
    return f"with its app instances: {names}" if names else ""


def _ensure_unique_name(session: Session, name: str) -> None:
    wanted = name_key(name)
    if any(name_key(existing) == wanted for existing in session.scalars(select(Site.name))):
        raise ValidationError(f"a site named '{name}' already exists (names are compared as they read)")


def _flush(session: Session, name: str) -> None:
    store.save(session, f"a site named '{name}' already exists")
