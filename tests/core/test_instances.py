"""App instances: placements checked against Rancher, one mapping per namespace, rename and move."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from ranchersync.catalogue import environments, instances, sites
from ranchersync.context import AppContext
from ranchersync.kernel.errors import InvalidFields, ValidationError
from ranchersync.models import AppInstance
from ranchersync.simulator import SimulatedRancher
from tests.builders import ADMIN


@pytest.fixture
def catalogue(ctx: AppContext, rancher: SimulatedRancher) -> AppContext:
    with ctx.session() as session:
        connection = sites.make_connection(rancher.url, rancher.token)
        sites.add_site(session, ctx.cipher, name="eu", connection=connection, actor=ADMIN)
        for name in ("Dev", "Stage"):
            environments.add_environment(session, name=name, actor=ADMIN)
    return ctx


def place(ctx: AppContext, cluster: str, namespace: str) -> instances.Placement:
    with ctx.session() as session:
        return instances.check_placement(sites.get_site(session, "eu"), ctx.cipher, cluster, namespace)


def count(ctx: AppContext) -> int:
    with ctx.session() as session:
        return session.scalar(select(func.count()).select_from(AppInstance)) or 0


def test_add_by_cluster_name_stores_the_cluster_id(catalogue: AppContext) -> None:
    placement = place(catalogue, "dev-eu-1", "shop-dev")
    assert (placement.cluster_id, placement.cluster_name, placement.warnings) == ("c-m-8x2kq4vd", "dev-eu-1", ())
    with catalogue.session() as session:
        inst = instances.add_instance(session, name="shop", site="eu", environment="Dev", placement=placement,
                                      actor=ADMIN)
        assert (inst.cluster_id, inst.namespace, inst.environment.name) == ("c-m-8x2kq4vd", "shop-dev", "Dev")


def test_a_cluster_the_site_does_not_have_is_refused(catalogue: AppContext) -> None:
    with pytest.raises(ValidationError, match="has no cluster 'prod-eu-9'.*dev-eu-1"):
        place(catalogue, "prod-eu-9", "shop-dev")


def test_a_missing_namespace_is_refused_unless_it_will_be_created_later(catalogue: AppContext) -> None:
    with pytest.raises(InvalidFields) as refused:
        place(catalogue, "c-m-8x2kq4vd", "shop-qa")
    assert refused.value.fields == {"namespace": "namespace 'shop-qa' does not exist on cluster 'dev-eu-1'"}
    assert "created later" in refused.value.hint

    with catalogue.session() as session:
        placement = instances.check_placement(sites.get_site(session, "eu"), catalogue.cipher, "c-m-8x2kq4vd",
                                              "shop-qa", created_later=True)
    assert placement.namespace == "shop-qa"
    assert len(placement.warnings) == 1 and "does not exist on cluster 'dev-eu-1' yet" in placement.warnings[0]


def test_an_invalid_namespace_is_refused_before_asking_rancher(catalogue: AppContext) -> None:
    before = 0
    with pytest.raises(ValidationError, match="not a valid namespace"):
        place(catalogue, "dev-eu-1", "Shop_Dev")
    assert count(catalogue) == before


def test_one_namespace_is_mapped_once_and_names_are_unique_per_environment(catalogue: AppContext) -> None:
    placement = place(catalogue, "dev-eu-1", "shop-dev")
    with catalogue.session() as session:
        instances.add_instance(session, name="shop", site="eu", environment="Dev", placement=placement, actor=ADMIN)
    with pytest.raises(ValidationError, match="already mapped as 'shop'"), catalogue.session() as session:
        instances.add_instance(session, name="shop again", site="eu", environment="Stage", placement=placement,
                               actor=ADMIN)
    other = place(catalogue, "dev-eu-1", "payments-dev")
    with pytest.raises(ValidationError, match="already has an app instance named"), catalogue.session() as session:
        instances.add_instance(session, name="SHOP", site="eu", environment="Dev", placement=other, actor=ADMIN)
    assert count(catalogue) == 1


def test_rename_and_move_to_another_environment(catalogue: AppContext) -> None:
    with catalogue.session() as session:
        instances.add_instance(session, name="shop", site="eu", environment="Dev",
                               placement=place(catalogue, "dev-eu-1", "shop-dev"), actor=ADMIN)
    with catalogue.session() as session:
        moved = instances.update_instance(session, "shop", name="shop-eu", environment="Stage", actor=ADMIN)
        assert (moved.name, moved.environment.name) == ("shop-eu", "Stage")
        assert [i.name for i in instances.list_instances(session, "Stage")] == ["shop-eu"]
        assert instances.list_instances(session, "Dev") == []


def test_a_deactivated_site_takes_no_new_instances(catalogue: AppContext) -> None:
    with catalogue.session() as session:
        sites.update_site(session, catalogue.cipher, "eu", sites.SiteChange(active=False), actor=ADMIN)
    with pytest.raises(ValidationError, match="deactivated"):
        place(catalogue, "dev-eu-1", "shop-dev")


def test_removing_an_instance_leaves_the_cluster_alone(catalogue: AppContext, rancher: SimulatedRancher) -> None:
    with catalogue.session() as session:
        instances.add_instance(session, name="shop", site="eu", environment="Dev",
                               placement=place(catalogue, "dev-eu-1", "shop-dev"), actor=ADMIN)
    with catalogue.session() as session:
        assert instances.remove_instance(session, "shop", actor=ADMIN) == "shop"
    assert count(catalogue) == 0
    assert rancher.get_object("c-m-8x2kq4vd", "Deployment", "shop-dev", "cart") is not None
