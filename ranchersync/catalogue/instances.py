"""Use-cases for app instances: a namespace of a cluster of a site, mapped to an environment."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ranchersync.access import audit
from ranchersync.access.identity import Actor, require
from ranchersync.catalogue.environments import get_environment
from ranchersync.catalogue.sites import ClientFactory, get_site, resolve_cluster, site_connection
from ranchersync.kernel.errors import InvalidFields, RancherNotFound, ValidationError
from ranchersync.kernel.validation import check_fields, check_namespace, clean_name
from ranchersync.models import AppInstance, Environment, Site
from ranchersync.rancher import RancherClient
from ranchersync.security.crypto import TokenCipher
from ranchersync.storage import store
from ranchersync.storage.lookup import get_by_ref


@dataclass(frozen=True)
class Placement:
    """Where an app instance lives, as checked against Rancher."""

    cluster_id: str
    cluster_name: str
    namespace: str
    warnings: tuple[str, ...] = ()


CREATED_LATER_HINT = (
    "Pick a namespace that exists (check its spelling), or save the app instance anyway with \"it will be created "
    "later\" (CLI: --created-later): it shows no services until the namespace exists."
)


def check_placement(
    site: Site, cipher: TokenCipher, cluster: str, namespace: str, factory: ClientFactory = RancherClient, *,
    created_later: bool = False,
) -> Placement:
    """Check that the cluster exists on the site and the namespace on the cluster. A namespace that does not exist
    is refused (a typo would map an empty app instance) unless `created_later` says it will be, then a warning."""
    ns = check_namespace(namespace)
    if not site.active:
        raise ValidationError(f"site '{site.name}' is deactivated: activate it before adding app instances")
    with site_connection(site, cipher).client(factory) as client:
        found = resolve_cluster(client.list_clusters(), cluster, site.name)
        warnings: tuple[str, ...] = ()
        try:
            client.get_namespace(found.id, ns)
        except RancherNotFound:
            if not created_later:
                raise InvalidFields(
                    {"namespace": f"namespace '{ns}' does not exist on cluster '{found.name}'"},
                    title="No such namespace", hint=CREATED_LATER_HINT,
                ) from None
            warnings = (f"namespace '{ns}' does not exist on cluster '{found.name}' yet: it will show no services "
                        "until it is created",)
    return Placement(found.id, found.name, ns, warnings)


def add_instance(
    session: Session,
    *,
    actor: Actor,
    name: str,
    site: int | str,
    environment: int | str,
    placement: Placement,
) -> AppInstance:
    """Store an app instance at a checked placement."""
    require(actor, "manage_catalogue")
    site_obj = get_site(session, site)
    env = get_environment(session, environment)
    instance_name = clean_name(name, "app instance")
    _ensure_free(session, site_obj, placement, env, instance_name)
    instance = AppInstance(
        name=instance_name,
        site_id=site_obj.id,
        cluster_id=placement.cluster_id,
        cluster_name=placement.cluster_name,
        namespace=placement.namespace,
        environment_id=env.id,
    )
    session.add(instance)
    _flush(session)
    audit.record(session, actor, "instance.add", object_type="app_instance", object_id=instance.id,
                 object_name=instance.name, after=instance_snapshot(instance, site_obj.name, env.name))
    return instance


def instance_snapshot(instance: AppInstance, site_name: str, environment_name: str) -> dict[str, object]:
    """What the audit log keeps of an app instance."""
    return {"name": instance.name, "site": site_name, "cluster": instance.cluster_id,
            "clusterName": instance.cluster_name, "namespace": instance.namespace, "environment": environment_name}


def list_instances(session: Session, environment: int | str | None = None) -> list[AppInstance]:
    """App instances, in pipeline order of their environment then by name; one environment's if given."""
    query = select(AppInstance).join(Environment).order_by(Environment.position, func.lower(AppInstance.name))
    if environment is not None:
        query = query.where(AppInstance.environment_id == get_environment(session, environment).id)
    return list(session.scalars(query))


def get_instance(session: Session, ref: int | str) -> AppInstance:
    """An app instance by id or name."""
    return get_by_ref(session, AppInstance, ref)


def update_instance(
    session: Session,
    ref: int | str,
    *,
    actor: Actor,
    name: str | None = None,
    environment: int | str | None = None,
) -> AppInstance:
    """Rename an app instance or move it to another environment."""
    require(actor, "manage_catalogue")
    instance = get_instance(session, ref)
    before = instance_snapshot(instance, instance.site.name, instance.environment.name)
    env = get_environment(session, environment) if environment is not None else instance.environment
    new_name = instance.name if name is None else check_fields(name=lambda: clean_name(name, "app instance"))["name"]
    clash = session.scalar(
        select(AppInstance.id).where(
            AppInstance.environment_id == env.id,
            func.lower(AppInstance.name) == new_name.lower(),
            AppInstance.id != instance.id,
        )
    )
    if clash is not None:
        raise InvalidFields({"name": f"environment '{env.name}' already has an app instance named '{new_name}'"})
    instance.name, instance.environment_id = new_name, env.id
    _flush(session)
    session.refresh(instance)
    audit.record(session, actor, "instance.update", object_type="app_instance", object_id=instance.id,
                 object_name=instance.name, before=before,
                 after=instance_snapshot(instance, instance.site.name, env.name))
    return instance


def remove_instance(session: Session, ref: int | str, *, actor: Actor) -> str:
    """Remove an app instance (the workloads on the cluster are not touched); returns its name."""
    require(actor, "manage_catalogue")
    instance = get_instance(session, ref)
    audit.record(session, actor, "instance.remove", object_type="app_instance", object_id=instance.id,
                 object_name=instance.name,
                 before=instance_snapshot(instance, instance.site.name, instance.environment.name))
    session.delete(instance)
    session.flush()
    return instance.name


def _ensure_free(session: Session, site: Site, placement: Placement, env: Environment, name: str) -> None:
    taken = session.scalar(
        select(AppInstance).where(
            AppInstance.site_id == site.id,
            AppInstance.cluster_id == placement.cluster_id,
            AppInstance.namespace == placement.namespace,
        )
    )
    if taken is not None:
        raise ValidationError(
            f"namespace '{placement.namespace}' of cluster '{placement.cluster_name}' is already mapped as "
            f"'{taken.name}' in environment '{taken.environment.name}'"
        )
    clash = session.scalar(
        select(AppInstance.id).where(AppInstance.environment_id == env.id, func.lower(AppInstance.name) == name.lower())
    )
    if clash is not None:
        raise ValidationError(f"environment '{env.name}' already has an app instance named '{name}'")


def _flush(session: Session) -> None:
    store.save(session, "this app instance clashes with one saved at the same moment: reload and retry")
