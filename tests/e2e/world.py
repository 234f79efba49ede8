"""A small simulated Rancher world for the browser tests and the screenshots: two clusters, a shop in three stages."""

from __future__ import annotations

from typing import Any

from ranchersync.catalogue import environments, instances, sites
from ranchersync.context import AppContext
from ranchersync.simulator import SimulatedRancher, World, parse_world
from tests.builders import ADMIN


def _deployment(name: str, namespace: str, image: str, replicas: int = 2) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": name, "image": image}]}},
        },
    }


def _shop(namespace: str, version: str) -> list[dict[str, Any]]:
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        _deployment("web", namespace, f"registry.example.com/shop/web:{version}"),
        _deployment("api", namespace, f"registry.example.com/shop/api:{version}"),
    ]


def e2e_world() -> World:
    """dev-east holds shop-dev and shop-qa; prod-east holds shop-stage and shop-prod."""
    return parse_world(
        {
            "clusters": [
                {
                    "id": "c-m-dev01",
                    "name": "dev-east",
                    "objects": _shop("shop-dev", "1.5.0") + _shop("shop-qa", "1.5.0"),
                },
                {
                    "id": "c-m-prd01",
                    "name": "prod-east",
                    "objects": _shop("shop-stage", "1.4.2") + _shop("shop-prod", "1.4.1"),
                },
            ]
        },
        "e2e",
    )


SHOWCASE_ENVIRONMENTS = (
    ("Dev", "Where every merge lands first", False),
    ("Stage", "Release candidates, tested by QA", False),
    ("Prod", "Customer-facing", True),
)
SHOWCASE_INSTANCES = (
    ("shop-dev", "Dev", "c-m-dev01", "shop-dev"),
    ("shop-qa", "Dev", "c-m-dev01", "shop-qa"),
    ("shop-stage", "Stage", "c-m-prd01", "shop-stage"),
    ("shop-prod", "Prod", "c-m-prd01", "shop-prod"),
)


def seed_showcase(ctx: AppContext, simulator: SimulatedRancher, site_name: str = "rancher-east") -> None:
    """Fill a database through the core use-cases: one tested site, Dev → Stage → Prod, four app instances."""
    connection = sites.make_connection(simulator.url, simulator.token)
    info = sites.check_connection(connection)
    with ctx.session() as session:
        site = sites.add_site(session, ctx.cipher, name=site_name, connection=connection, info=info, actor=ADMIN)
        for name, description, protected in SHOWCASE_ENVIRONMENTS:
            environments.add_environment(session, name=name, description=description, protected=protected, actor=ADMIN)
        for name, env, cluster_id, namespace in SHOWCASE_INSTANCES:
            placement = instances.check_placement(site, ctx.cipher, cluster_id, namespace)
            instances.add_instance(session, name=name, site=site.id, environment=env, placement=placement, actor=ADMIN)
