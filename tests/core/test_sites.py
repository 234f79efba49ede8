"""Sites against a simulated Rancher: test before saving, tokens encrypted, clear failures that change nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from ranchersync.catalogue import sites
from ranchersync.context import AppContext
from ranchersync.kernel.errors import RancherAPIError, RancherAuthError, RancherUnavailable, ValidationError
from ranchersync.models import AppInstance, Environment, Site
from ranchersync.simulator import SimulatedRancher
from tests.builders import ADMIN
from tests.conftest import closed_port_url


def add(ctx: AppContext, session: Session, rancher: SimulatedRancher, name: str = "eu") -> Site:
    connection = sites.make_connection(rancher.url, rancher.token)
    info = sites.check_connection(connection)
    return sites.add_site(session, ctx.cipher, name=name, connection=connection, info=info, actor=ADMIN)


def site_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Site)) or 0


def test_adding_a_site_records_the_user_and_stores_the_token_encrypted(ctx: AppContext, rancher: SimulatedRancher):
    with ctx.session() as session:
        site = add(ctx, session, rancher)
        assert site.rancher_user == "Default Admin"
        assert site.last_latency_ms is not None and site.last_contact_at is not None
    with ctx.engine.connect() as conn:
        raw = conn.execute(text("SELECT token_encrypted FROM sites")).scalar_one()
    assert rancher.token.encode() not in raw
    secret = rancher.token.split(":")[1]
    assert secret not in repr(site) and secret not in repr(sites.site_connection(site, ctx.cipher))
    with ctx.session() as session:
        assert sites.site_connection(sites.get_site(session, "eu"), ctx.cipher).token == rancher.token


def test_a_wrong_token_is_refused_before_anything_is_stored(ctx: AppContext, rancher: SimulatedRancher) -> None:
    wrong = "token-zzzzz:" + "b" * 54
    with pytest.raises(RancherAuthError) as caught:
        sites.check_connection(sites.make_connection(rancher.url, wrong))
    assert "b" * 54 not in str(caught.value)
    with ctx.session() as session:
        assert site_count(session) == 0


def test_an_unreachable_host_gets_a_clear_message(ctx: AppContext) -> None:
    with pytest.raises(RancherUnavailable, match="(?i)connect|reach"):
        sites.check_connection(sites.make_connection(closed_port_url(), "token-abcde:secret"))


def test_names_are_unique(ctx: AppContext, rancher: SimulatedRancher) -> None:
    with ctx.session() as session:
        add(ctx, session, rancher)
    with pytest.raises(ValidationError, match="already exists"), ctx.session() as session:
        add(ctx, session, rancher, name="EU")
    with ctx.session() as session:
        assert site_count(session) == 1


def test_testing_a_stored_site_records_success_and_failure(ctx: AppContext, rancher: SimulatedRancher) -> None:
    with ctx.session() as session:
        add(ctx, session, rancher)
    with ctx.session() as session:
        result = sites.test_site(session, ctx.cipher, "eu")
    assert result.success and "Default Admin" in result.message
    rancher.fail_next(r"^/v3", status=500, count=10)
    with ctx.session() as session:
        result = sites.test_site(session, ctx.cipher, "eu")
    assert not result.success and "500" in result.message
    assert isinstance(result.error, RancherAPIError) and result.error.status == 500
    with ctx.session() as session:
        assert sites.get_site(session, "eu").last_error == result.message


def test_a_new_token_replaces_the_old_one(ctx: AppContext, rancher: SimulatedRancher) -> None:
    with ctx.session() as session:
        add(ctx, session, rancher)
    second = rancher.add_token()
    with ctx.session() as session:
        sites.update_site(session, ctx.cipher, "eu", sites.SiteChange(token=second, name="Europe"), actor=ADMIN)
    with ctx.session() as session:
        site = sites.get_site(session, "Europe")
        assert sites.site_connection(site, ctx.cipher).token == second
        assert sites.test_site(session, ctx.cipher, site.id).success


def test_bad_update_changes_nothing(ctx: AppContext, rancher: SimulatedRancher) -> None:
    with ctx.session() as session:
        add(ctx, session, rancher)
    with pytest.raises(ValidationError, match="https"), ctx.session() as session:
        sites.update_site(session, ctx.cipher, "eu", sites.SiteChange(name="renamed",
                                                                      url="http://rancher.example.com"), actor=ADMIN)
    with ctx.session() as session:
        assert sites.get_site(session, "eu").url == rancher.url


def test_clusters_and_namespaces_come_from_rancher(ctx: AppContext, rancher: SimulatedRancher) -> None:
    with ctx.session() as session:
        add(ctx, session, rancher)
        clusters = sites.list_clusters(session, ctx.cipher, "eu")
        assert {c.name for c in clusters} >= {"dev-eu-1", "stage-eu-1", "local"}
        namespaces = [n.name for n in sites.list_namespaces(session, ctx.cipher, "eu", "dev-eu-1")]
        assert {"shop-dev", "payments-dev"} <= set(namespaces)
        with pytest.raises(ValidationError, match="has no cluster 'nope'"):
            sites.list_namespaces(session, ctx.cipher, "eu", "nope")


def test_removing_a_site_in_use_needs_an_explicit_cascade(ctx: AppContext, rancher: SimulatedRancher) -> None:
    with ctx.session() as session:
        site = add(ctx, session, rancher)
        env = Environment(name="Dev")
        session.add(env)
        session.flush()
        session.add(AppInstance(name="shop", site_id=site.id, cluster_id="c-m-8x2kq4vd", namespace="shop-dev",
                                environment_id=env.id))
    with pytest.raises(ValidationError, match="used by 1 app instance"), ctx.session() as session:
        sites.remove_site(session, "eu", actor=ADMIN)
    with pytest.raises(ValidationError, match="changed since this confirmation"), ctx.session() as session:
        sites.remove_site(session, "eu", cascade=True, expected=set(), actor=ADMIN)
    with ctx.session() as session:
        assert site_count(session) == 1
        assert sites.remove_site(session, "eu", cascade=True, actor=ADMIN) == ["shop"]
    with ctx.session() as session:
        assert site_count(session) == 0


def test_key_rotation_keeps_tokens_readable(ctx: AppContext, rancher: SimulatedRancher) -> None:
    from cryptography.fernet import Fernet

    from ranchersync.security import keys
    from ranchersync.security.crypto import TokenCipher

    with ctx.session() as session:
        add(ctx, session, rancher)
    newest = Fernet.generate_key().decode()
    both = TokenCipher([newest, *ctx.settings.secret_keys])
    with ctx.session() as session:
        assert keys.rotate_keys(session, both, actor=ADMIN) == 1
    with ctx.session() as session:
        assert sites.site_connection(sites.get_site(session, "eu"), TokenCipher([newest])).token == rancher.token
