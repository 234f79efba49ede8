"""The review in the dashboard runs the same preflight as the CLI (issue 22), against a real registry
(docker-registry on 127.0.0.1) and two simulated Rancher servers: per changed container what the source runs, what
the tag names now, a tag moved since the source was tested, the changelog with its compare link (also in the
Markdown ticket); a missing tag skipped, an unreachable registry a warning, a quarantined digest refused."""

from __future__ import annotations

import pandas as pd
import pytest
import streamlit as st
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from ranchersync import registry
from ranchersync.context import AppContext
from ranchersync.governance import quarantine
from ranchersync.models import SyncResult
from ranchersync.simulator import SimulatedRancher
from tests.builders import ADMIN
from tests.core.registry_fixtures import REV_NEW, REV_OLD, SOURCE, Registries
from tests.core.test_registry_sync import patches, prod_architecture, prod_image, shop, worlds  # noqa: F401 - fixtures
from tests.ui.conftest import ROOT, assert_ok
from tests.ui.fakes import shown
from tests.ui.test_services_page import select as select_rows
from tests.ui.test_sync_dialog import env_id, finished

pytest_plugins = ["tests.core.registry_fixtures"]

PAGE = "pages/4_Services.py"
Worlds = tuple[str, SimulatedRancher, SimulatedRancher]


@pytest.fixture
def app(app_env: AppContext, shop: AppContext) -> AppContext:  # noqa: F811 - the fixture imported above
    """The app on Stage and Prod, whose images live in the test registry (registered, anonymous)."""
    return shop


def review(ctx: AppContext, *services: str) -> AppTest:
    """The comparison of Stage and Prod, these Deployments selected, the review open."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page(PAGE).run()
    at.segmented_control(key="svc_view").set_value("compare").run()
    at.selectbox(key="cmp_source").select(env_id(ctx, "Stage")).run()
    at = select_rows(at, 0, [f"Deployment/{name}" for name in services])
    at.button(key="cmp_review").click().run()
    assert_ok(at)
    assert at.get("dialog"), "the review is open"
    return at


def plan_table(at: AppTest) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "New image" in d.value.columns)


def markdown(at: AppTest) -> str:
    return "\n".join(shown(m.value) for m in at.markdown)


def test_the_review_shows_digests_and_the_changelog(app: AppContext, registries: Registries) -> None:
    at = review(app, "web")

    rows = plan_table(at)
    digest = registries.images["shop/web:2.4.0"]
    short = digest[:len("sha256:") + 12]
    web = rows[rows["Service"] == "web"].iloc[0]
    assert web["Stage runs"] == short and web["Tag names now"] == short and web["Tag moved"] == ""
    assert web["Changelog"].startswith("commits a1b2c3d → e4f5a6b")
    assert web["Compare"] == f"{SOURCE}/compare/{REV_OLD}...{REV_NEW}"
    text = markdown(at)
    assert "commits a1b2c3d → e4f5a6b" in text and f"[compare]({SOURCE}/compare/{REV_OLD}...{REV_NEW})" in text
    ticket = at.code[0].value  # "Copy as Markdown"
    assert "commits a1b2c3d → e4f5a6b" in ticket and f"`{SOURCE}/compare/{REV_OLD}...{REV_NEW}`" in ticket
    assert f"digest `{digest}`" in ticket
    assert not at.warning, [w.value for w in at.warning]  # the tag did not move


def test_the_pin_toggle_starts_at_the_targets_setting(app: AppContext, registries: Registries) -> None:
    from ranchersync.catalogue import environments

    with app.session() as session:  # unprotected, yet set to pin: the review starts pinned
        environments.update_environment(session, "Prod", pin_digests=True, actor=ADMIN)
    at = review(app, "web")
    assert at.toggle(key="sync_pin").value is True
    assert plan_table(at).iloc[0]["New image"].endswith(f"/shop/web:2.4.0@{registries.images['shop/web:2.4.0']}")


def test_pinning_follows_the_toggle_without_asking_the_registry_again(app: AppContext, registries: Registries,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    at = review(app, "web")
    assert at.toggle(key="sync_pin").value is False  # Prod is not protected here: off by default
    digest = registries.images["shop/web:2.4.0"]
    asked: list[str] = []
    real = registry.resolve_images

    def counting(images, *args, **kwargs):  # type: ignore[no-untyped-def]
        asked.extend(images)
        return real(images, *args, **kwargs)

    monkeypatch.setattr("ranchersync.sync.preflight.resolve_images", counting)
    at.toggle(key="sync_pin").set_value(True).run()
    assert_ok(at)
    assert plan_table(at).iloc[0]["New image"].endswith(f"/shop/web:2.4.0@{digest}")
    asked_when_pinned = len(asked)
    at.toggle(key="sync_pin").set_value(False).run()  # back: the dialog kept the first check
    at.run()  # any rerun of the open dialog (typing, a click) re-plans from what it kept
    assert len(asked) == asked_when_pinned
    assert plan_table(at).iloc[0]["New image"].endswith("/shop/web:2.4.0")


def test_a_moved_tag_is_flagged(app: AppContext, registries: Registries, worlds: Worlds) -> None:  # noqa: F811
    _, stage, _ = worlds
    reg = registries.anonymous
    stage.repush_image(f"{reg}/shop/web:2.4.0", "sha256:" + "e" * 64)  # Stage runs other bits than 2.4.0 names now
    at = review(app, "web")

    assert plan_table(at).iloc[0]["Tag moved"] == "⚠ moved"
    flags = [shown(w.value) for w in at.warning]
    assert any("the tag moved since Stage was tested" in w and "sha256:eeeeeeeeeeee" in w for w in flags), flags
    assert "the tag moved since Stage was tested" in at.code[0].value


def test_missing_tags_and_platforms_are_skipped_and_an_unreachable_registry_warned(
        app: AppContext, worlds: Worlds) -> None:  # noqa: F811
    _, _, prod = worlds
    at = review(app, "web", "typo", "arm", "far")

    skipped = next(d.value for d in at.dataframe if "Why" in d.value.columns)
    why = dict(zip(skipped["Service"], skipped["Why"], strict=True))
    assert why["typo"].startswith("not in the registry") and "2.4.1" in why["typo"]
    assert why["arm"].startswith("no image for the target's platform") and "linux/arm64" in why["arm"]
    assert set(plan_table(at)["Service"]) == {"web", "far"}
    assert any("could not be checked in its registry" in shown(w.value) for w in at.warning)
    at.button(key="sync_apply").click().run()
    assert finished(app, at) in ("complete", "partial")
    assert patches(prod, "typo") == [] and prod_image(prod, "typo").endswith("/shop/web:2.3.0")
    assert prod_image(prod, "web").endswith("/shop/web:2.4.0")


def test_a_quarantined_digest_is_refused_with_its_reason(app: AppContext, registries: Registries,
                                                         worlds: Worlds) -> None:  # noqa: F811
    _, _, prod = worlds
    digest = registries.images["shop/web:2.4.0"]
    with app.session() as session:
        quarantine.add(session, f"{registries.anonymous}/shop/web@{digest}", reason="CVE-2026-0001 in libfoo",
                       actor=ADMIN)
    at = review(app, "web")

    errors = [shown(e.value) for e in at.error]
    assert any("quarantined" in e and "CVE-2026-0001 in libfoo" in e for e in errors), errors
    assert not [b for b in at.button if b.key == "sync_apply"], "nothing to apply"
    assert patches(prod, "web") == [] and prod_image(prod, "web").endswith("/shop/web:2.3.0")


def test_the_history_detail_shows_the_recorded_changelog(app: AppContext, registries: Registries) -> None:
    at = review(app, "web")
    at.button(key="sync_apply").click().run()
    assert finished(app, at) == "complete"
    with app.session() as session:
        result = session.scalars(select(SyncResult).where(SyncResult.service == "web")).one()
        container = dict(result.containers[0])
        if "changelog" not in container:  # an operation recorded before the core kept the preflight's facts
            container.update(newDigest=registries.images["shop/web:2.4.0"],
                             changelog=registry.Changelog(REV_OLD, REV_NEW, SOURCE,
                                                          registry.compare_url(SOURCE, REV_OLD, REV_NEW)).payload())
            result.containers = [container, *result.containers[1:]]
    st.cache_data.clear()
    at.run()
    assert_ok(at)
    text = markdown(at)
    assert "commits a1b2c3d → e4f5a6b" in text and f"[compare]({SOURCE}/compare/{REV_OLD}...{REV_NEW})" in text
    assert f"digest `{registries.images['shop/web:2.4.0']}`" in text
