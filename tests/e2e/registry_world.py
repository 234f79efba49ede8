"""Stage and Prod on two simulated Rancher servers whose images live in the tests' real registry
(tests/core/registry_fixtures.py): web 2.3.0 → 2.4.0 with OCI labels (a changelog), a tag nobody pushed, and Stage's
pods running the registry's very bits. For the browser test of the review and for scripts/screenshots.py."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from ranchersync import registry
from ranchersync.catalogue import environments, instances, sites
from ranchersync.context import AppContext
from ranchersync.simulator import SimulatedRancher, parse_world
from tests.builders import ADMIN
from tests.core.registry_fixtures import Registries

STAGE_CLUSTER, PROD_CLUSTER = "c-m-stage001", "c-m-prod0001"


def _world(registries: Registries, cluster: str, namespace: str, side: int) -> Any:
    reg = registries.anonymous
    images = {"web": (f"{reg}/shop/web:2.4.0", f"{reg}/shop/web:2.3.0"),
              "typo": (f"{reg}/shop/web:2.4.1", f"{reg}/shop/web:2.3.0"),
              "plain": (f"{reg}/shop/plain:1.0", f"{reg}/shop/web:2.3.0")}
    return parse_world({"name": namespace, "clusters": [{"id": cluster, "name": namespace, "objects": [
        {"kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
         "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "app", "image": pair[side]}]}}}}
        for name, pair in images.items()]}]})


@contextlib.contextmanager
def registry_shop(ctx: AppContext, registries: Registries) -> Iterator[tuple[SimulatedRancher, SimulatedRancher]]:
    """Both servers running, and in `ctx`'s catalogue: their sites, Stage → Prod (protected), one app instance
    each, and the registry (anonymous, http)."""
    with SimulatedRancher(_world(registries, STAGE_CLUSTER, "shop-stage", 0), rollout_seconds=1) as stage, \
            SimulatedRancher(_world(registries, PROD_CLUSTER, "shop-prod", 1), rollout_seconds=1) as prod:
        stage.repush_image(f"{registries.anonymous}/shop/web:2.4.0", registries.images["shop/web:2.4.0"])
        with ctx.session() as session:
            for name, server in (("stage-site", stage), ("prod-site", prod)):
                sites.add_site(session, ctx.cipher, name=name,
                               connection=sites.make_connection(server.url, server.token), actor=ADMIN)
            environments.add_environment(session, name="Stage", actor=ADMIN)
            environments.add_environment(session, name="Prod", protected=True, actor=ADMIN)
            registry.add_registry(session, ctx.cipher, actor=ADMIN, host=registries.anonymous, allow_http=True)
        for name, site, cluster, env in (("shop-stage", "stage-site", STAGE_CLUSTER, "Stage"),
                                         ("shop-prod", "prod-site", PROD_CLUSTER, "Prod")):
            with ctx.session() as session:
                placement = instances.check_placement(sites.get_site(session, site), ctx.cipher, cluster, name)
                instances.add_instance(session, name=name, site=site, environment=env, placement=placement,
                                       actor=ADMIN)
        yield stage, prod
