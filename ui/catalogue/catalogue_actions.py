"""Write use-cases for the catalogue screens (sites, environments, app instances): one database session per action,
the core call, then the caches cleared. Each returns an Outcome instead of raising. Nothing here draws on the page.
"""

from __future__ import annotations

from ranchersync.access.identity import Actor
from ranchersync.catalogue import environments as env_cases
from ranchersync.catalogue import instances as instance_cases
from ranchersync.catalogue import sites as site_cases
from ranchersync.kernel.validation import check_fields, clean_name
from ranchersync.rancher import ConnectionInfo
from ui.shell import deps, queries
from ui.shell.outcome import Outcome, attempt


def _user(info: ConnectionInfo | None) -> str:
    return (info.user_display_name or info.user_id) if info is not None else ""


def _connected(info: ConnectionInfo) -> str:
    who = _user(info)
    signed = f"signed in as {who}" if who else "the token works"
    return f"{signed} ({round(info.latency_ms)} ms)"


# ---- sites -----------------------------------------------------------------------------------------------------


def add_site(
    actor: Actor,
    *,
    name: str,
    url: str,
    token: str,
    ca_bundle: str | bytes | None = None,
    insecure: bool = False,
    allow_http: bool = False,
) -> Outcome:
    """Check the input, test the connection, and store the site only if the test passed."""

    def work() -> Outcome:
        site_name, connection = site_cases.check_new_site(
            name, url, token, taken=[s.name for s in queries.sites()], ca_bundle=ca_bundle, insecure=insecure,
            allow_http=allow_http,
        )
        info = site_cases.check_connection(connection, deps.client_factory())  # nothing is stored when this fails
        ctx = deps.get_context()
        with ctx.session() as session:
            site_cases.add_site(
                session, ctx.cipher, name=site_name, connection=connection, allow_http=allow_http, info=info,
                actor=actor
            )
        return Outcome.done(f"Site '{site_name}' added: {_connected(info)}.", info.warnings)

    return attempt(work)


def update_site(
    actor: Actor,
    site_id: int,
    *,
    name: str,
    url: str,
    token: str | None,
    ca_bundle: str | bytes | None,
    clear_ca_bundle: bool,
    insecure: bool,
    allow_http: bool,
) -> Outcome:
    """Save a site's changes (an empty token keeps the stored one), then test the connection again."""

    def work() -> Outcome:
        ctx = deps.get_context()
        with ctx.session() as session:
            change = site_cases.SiteChange(name=name, url=url, token=token or None, ca_bundle=ca_bundle,
                                           clear_ca_bundle=clear_ca_bundle, insecure=insecure, allow_http=allow_http)
            site = site_cases.update_site(session, ctx.cipher, site_id, change, actor=actor)
            saved_name, active = site.name, site.active
        if not active:
            return Outcome.done(f"Site '{saved_name}' saved (deactivated, so not tested).")
        # A second unit of work: the save is committed before the Rancher call, so no write lock is held while
        # a slow or unreachable server keeps us waiting.
        with ctx.session() as session:
            result = site_cases.test_site(session, ctx.cipher, site_id, deps.client_factory())
        if not result.success or result.info is None:
            problem = f"The connection test failed: {result.message} {_hint(result)}"
            return Outcome.done(f"Site '{saved_name}' saved.", (problem,))
        return Outcome.done(f"Site '{saved_name}' saved: {_connected(result.info)}.", result.info.warnings)

    return attempt(work)


def test_site(site_id: int) -> Outcome:
    """Test a stored site and record what was learnt (user, token expiry, latency) or the error."""

    def work() -> Outcome:
        ctx = deps.get_context()
        with ctx.session() as session:
            name = site_cases.get_site(session, site_id).name
            result = site_cases.test_site(session, ctx.cipher, site_id, deps.client_factory())
        if result.success and result.info is not None:
            return Outcome.done(f"Connection to '{name}' works: {_connected(result.info)}.", result.info.warnings)
        return Outcome(
            False, result.message, title=f"Connection to '{name}' failed", hint=_hint(result)
        )

    return attempt(work)


def set_site_active(actor: Actor, site_id: int, active: bool) -> Outcome:
    """Activate or deactivate a site (a deactivated site is skipped by every Rancher read)."""

    def work() -> Outcome:
        ctx = deps.get_context()
        with ctx.session() as session:
            site = site_cases.update_site(session, ctx.cipher, site_id, site_cases.SiteChange(active=active),
                                          actor=actor)
            return Outcome.done(f"Site '{site.name}' {'activated' if active else 'deactivated'}.")

    return attempt(work)


def remove_site(actor: Actor, site_id: int, *, cascade: bool, shown: frozenset[int]) -> Outcome:
    """Remove a site; with `cascade`, also the app instances that use it, which must be those `shown` (by id)."""

    def work() -> Outcome:
        ctx = deps.get_context()
        with ctx.session() as session:
            name = site_cases.get_site(session, site_id).name
            removed = site_cases.remove_site(session, site_id, cascade=cascade, expected=shown,
                                             actor=actor)
        also = f" with its app instances {', '.join(sorted(removed))}" if removed else ""
        return Outcome.done(f"Site '{name}' removed{also}.")

    return attempt(work)


def _hint(result: site_cases.ConnectionTest) -> str:
    """What the user can do about a failed connection test."""
    return result.error.hint if result.error is not None else ""


# ---- environments ----------------------------------------------------------------------------------------------


def add_environment(
    actor: Actor, *, name: str, description: str, color: str | None, protected: bool, position: int | None
) -> Outcome:
    """Add an environment to the pipeline (at the end unless a position is given)."""

    def work() -> Outcome:
        with deps.get_context().session() as session:
            env = env_cases.add_environment(
                session, name=name, description=description, color=color, protected=protected, position=position,
                actor=actor
            )
            return Outcome.done(f"Environment '{env.name}' added.")

    return attempt(work)


def update_environment(actor: Actor, env_id: int, *, name: str, description: str, color: str, protected: bool,
                       required_approvals: int | None = None, pin_digests: bool | None = None) -> Outcome:
    """Save an environment's name, description, colour, protection, required approvals and digest pinning (None
    leaves the pinning as it is)."""

    def work() -> Outcome:
        with deps.get_context().session() as session:
            env = env_cases.update_environment(
                session, env_id, name=name, description=description, color=color, protected=protected,
                required_approvals=required_approvals, pin_digests=pin_digests, actor=actor,
            )
            return Outcome.done(f"Environment '{env.name}' saved.")

    return attempt(work)


def move_environment(actor: Actor, env_id: int, position: int) -> Outcome:
    """Move an environment to `position` in the pipeline."""

    def work() -> Outcome:
        with deps.get_context().session() as session:
            order = env_cases.move_environment(session, env_id, position, actor=actor)
            return Outcome.done("Pipeline order: " + " → ".join(e.name for e in order) + ".")

    return attempt(work)


def remove_environment(actor: Actor, env_id: int, *, cascade: bool, shown: frozenset[int]) -> Outcome:
    """Remove an environment; with `cascade`, also its app instances, which must be those `shown` (by id)."""

    def work() -> Outcome:
        with deps.get_context().session() as session:
            name = env_cases.get_environment(session, env_id).name
            removed = env_cases.remove_environment(session, env_id, cascade=cascade, expected=shown,
                                                   actor=actor)
        also = f" with its app instances {', '.join(sorted(removed))}" if removed else ""
        return Outcome.done(f"Environment '{name}' removed{also}.")

    return attempt(work)


# ---- app instances ---------------------------------------------------------------------------------------------


def add_instance(
    actor: Actor, *, name: str, site_id: int, environment_id: int, cluster_id: str, namespace: str,
    created_later: bool = False,
) -> Outcome:
    """Check the name and the placement against Rancher (a missing namespace only with `created_later`), then
    store the app instance."""

    def work() -> Outcome:
        ctx = deps.get_context()
        with ctx.session() as session:
            site = site_cases.get_site(session, site_id)
            checked = check_fields(
                name=lambda: clean_name(name, "app instance"),
                namespace=lambda: instance_cases.check_placement(
                    site, ctx.cipher, cluster_id, namespace, deps.client_factory(), created_later=created_later
                ),
            )
            instance_name, placement = checked["name"], checked["namespace"]
            instance = instance_cases.add_instance(
                session, name=instance_name, site=site_id, environment=environment_id, placement=placement,
                actor=actor
            )
            where = f"{placement.cluster_name}/{placement.namespace}"
            return Outcome.done(
                f"App instance '{instance.name}' added ({where} in {instance.environment.name}).", placement.warnings
            )

    return attempt(work)


def update_instance(actor: Actor, instance_id: int, *, name: str, environment_id: int) -> Outcome:
    """Rename an app instance and/or move it to another environment."""

    def work() -> Outcome:
        with deps.get_context().session() as session:
            before = instance_cases.get_instance(session, instance_id).environment.name
            instance = instance_cases.update_instance(session, instance_id, name=name, environment=environment_id,
                                                      actor=actor)
            after = instance.environment.name
        moved = f", moved from {before} to {after}" if before != after else ""
        return Outcome.done(f"App instance '{instance.name}' saved{moved}.")

    return attempt(work)


def remove_instance(actor: Actor, instance_id: int) -> Outcome:
    """Forget an app instance; its workloads on the cluster are not touched."""

    def work() -> Outcome:
        with deps.get_context().session() as session:
            name = instance_cases.remove_instance(session, instance_id, actor=actor)
        return Outcome.done(f"App instance '{name}' removed (its workloads on the cluster were not touched).")

    return attempt(work)
