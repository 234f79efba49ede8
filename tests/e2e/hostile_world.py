"""A simulated Rancher whose every free text is hostile Markdown: the user's display name, cluster display names,
and the bodies of a cluster's 403 and 500 answers. Each string tries an image that would load from a local
listener, a link that would send the user elsewhere, and Streamlit's coloured text."""

from __future__ import annotations

from typing import Any

from ranchersync.catalogue import environments, instances, sites
from ranchersync.catalogue.instances import Placement
from ranchersync.context import AppContext
from ranchersync.simulator import SimulatedRancher, World, parse_world
from tests.builders import ADMIN


def hostile(listener: str, who: str) -> str:
    """`who` followed by an image from the listener, a link to it, coloured text and a bare URL to it."""
    return (f"{who} ![x]({listener}/pixel) [re-enter token]({listener}/login) :red[pwned] "
            f"<img src='{listener}/pixel'> {listener}/pixel")


def _deployment(name: str, namespace: str, image: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": name, "image": image}]}}},
    }


def hostile_world(listener: str) -> World:
    """Three clusters: one that serves (under a hostile name), one that answers 403 and one 500, both hostile."""
    return parse_world({
        "user": {"username": "admin", "displayName": hostile(listener, "USERNAME")},
        "clusters": [
            {"id": "c-m-good0001", "name": hostile(listener, "CLUSTERNAME"), "objects": [
                _deployment("web", "shop-dev", "registry.example.com/shop/web:1.5.0"),
                _deployment("api", "shop-dev", "registry.example.com/shop/api:1.5.0"),
                _deployment("web", "shop-stage", "registry.example.com/shop/web:1.4.0"),
                # An image Kubernetes stores but no runtime can pull: its text reaches the review's skip details.
                _deployment("api", "shop-stage", f"registry.example.com/shop/api:`x`|![x]({listener}/pixel)"),
            ]},
            {"id": "c-m-deny0001", "name": "denied", "error": {"status": 403,
                                                                "message": hostile(listener, "FORBIDDEN")}},
            {"id": "c-m-fail0001", "name": "failing", "error": {"status": 500,
                                                                 "message": hostile(listener, "SERVERERROR")}},
        ],
    }, "hostile")


def seed_hostile(ctx: AppContext, simulator: SimulatedRancher) -> None:
    """One tested site; Dev → Stage on the serving cluster, then Broken on the two refusing ones."""
    connection = sites.make_connection(simulator.url, simulator.token)
    info = sites.check_connection(connection)
    good = simulator.world.cluster("c-m-good0001").name
    with ctx.session() as session:
        site = sites.add_site(session, ctx.cipher, name="rancher-hostile", connection=connection, info=info,
                              actor=ADMIN)
        environments.add_environment(session, name="Dev", description="", protected=False, actor=ADMIN)
        environments.add_environment(session, name="Stage", description="", protected=False, actor=ADMIN)
        environments.add_environment(session, name="Broken", description="", protected=False, actor=ADMIN)
        placements = (
            ("shop-dev", "Dev", Placement("c-m-good0001", good, "shop-dev")),
            ("shop-denied", "Broken", Placement("c-m-deny0001", "denied", "shop")),
            ("shop-failing", "Broken", Placement("c-m-fail0001", "failing", "shop")),
            ("shop-stage", "Stage", Placement("c-m-good0001", good, "shop-stage")),
        )
        for name, env, placement in placements:
            instances.add_instance(session, name=name, site=site.id, environment=env, placement=placement, actor=ADMIN)
