"""The Quarantine screen against a real registry and two simulated Rancher servers: quarantine a digest (audited),
see where it runs now (site, cluster, namespace, workload), lift it after a confirmation (audited); a role below
releaser sees no controls. The places it runs are flagged on the Services screen, the comparison and the Overview."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from ranchersync.access.identity import Actor
from ranchersync.context import AppContext
from ranchersync.governance import quarantine
from ranchersync.models import AuditEvent
from tests.builders import ADMIN
from tests.core.registry_fixtures import Registries
from tests.core.test_registry_sync import prod_architecture, shop, worlds  # noqa: F401 - fixtures
from tests.ui.conftest import ROOT, assert_ok
from tests.ui.fakes import shown
from tests.ui.test_sync_dialog import env_id
from ui.shell import auth

pytest_plugins = ["tests.core.registry_fixtures"]

PAGE = "pages/12_Quarantine.py"
SERVICES = "pages/4_Services.py"
REASON = "CVE-2026-0001 in libfoo"


@pytest.fixture
def app(app_env: AppContext, shop: AppContext) -> AppContext:  # noqa: F811 - the fixture imported above
    """Stage runs web 2.4.0 (the registry's bits), Prod runs 2.3.0."""
    return shop


def open_page(page: str = PAGE) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page(page).run()
    assert_ok(at)
    return at


def audited(ctx: AppContext) -> list[tuple[str, str | None]]:
    with ctx.session() as session:
        return [(e.action, e.detail) for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))
                if e.action.startswith("quarantine.")]


def frame(at: AppTest, column: str) -> pd.DataFrame:
    """The table that has this column (AppTest gives a table without selection no id)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def text(at: AppTest) -> str:
    return "\n".join(shown(m.value) for m in [*at.markdown, *at.caption, *at.error, *at.warning])


def test_add_see_where_it_runs_and_lift(app: AppContext, registries: Registries) -> None:
    digest = registries.images["shop/web:2.4.0"]
    image = f"{registries.anonymous}/shop/web@{digest}"
    at = open_page()
    assert "No image is quarantined" in text(at) + "".join(i.value for i in at.info)

    at.text_input(key="quarantine_image").input(image)
    at.text_input(key="quarantine_reason").input(REASON)
    at.button(key="quarantine_add").click().run()
    assert_ok(at)
    assert audited(app) == [("quarantine.add", REASON)]
    assert f"`{image}`" in text(at) and REASON in text(at)
    where = frame(at, "Namespace")
    assert list(zip(where["Environment"], where["Site"], where["Namespace"], where["Workload"],
                    where["Container"], strict=True)) == [("Stage", "stage-site", "shop-stage", "Deployment/web",
                                                           "app")]

    at.button(key="quarantine_lift_1").click().run()
    assert at.get("dialog"), "a confirmation first"
    at.text_input(key="quarantine_lift_reason").input("rebuilt without libfoo")
    at.button(key="quarantine_lift_go").click().run()
    assert_ok(at)
    assert audited(app) == [("quarantine.add", REASON), ("quarantine.lift", "rebuilt without libfoo")]
    with app.session() as session:
        assert quarantine.active_by_digest(session) == {}
    lifted = frame(at, "Why lifted")
    assert list(lifted["Why lifted"]) == ["rebuilt without libfoo"]


def test_a_bad_reference_or_no_reason_is_refused(app: AppContext, registries: Registries) -> None:
    at = open_page()
    at.text_input(key="quarantine_image").input(f"{registries.anonymous}/shop/web:2.4.0")  # no digest
    at.text_input(key="quarantine_reason").input(REASON)
    at.button(key="quarantine_add").click().run()
    assert "names no digest" in text(at)
    assert audited(app) == []


def test_an_operator_sees_no_controls(app: AppContext, registries: Registries,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    with app.session() as session:
        quarantine.add(session, f"{registries.anonymous}/shop/web@{registries.images['shop/web:2.4.0']}",
                       reason=REASON, actor=ADMIN)
    monkeypatch.setattr(auth, "current_actor", lambda: Actor("olivia@example.com", "operator", "dashboard"))
    at = open_page()
    assert not [w for w in at.text_input if w.key == "quarantine_image"]
    assert "only a releaser or higher may" in text(at)
    assert at.button(key="quarantine_lift_1").disabled


def test_flagged_where_it_runs(app: AppContext, registries: Registries) -> None:
    with app.session() as session:
        quarantine.add(session, f"{registries.anonymous}/shop/web@{registries.images['shop/web:2.4.0']}",
                       reason=REASON, actor=ADMIN)
    # The Services screen of Stage: the row and why.
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["selected_environment_id"] = env_id(app, "Stage")
    at.run()
    at.switch_page(SERVICES).run()
    assert_ok(at)
    flags = [shown(e.value) for e in at.error]
    assert any("web" in f and "shop-stage" in f and REASON in f for f in flags), flags
    services = at.dataframe[0].value
    assert services.loc[services["Service"].str.contains("web") & ~services["Service"].str.contains("typo"),
                        "Service"].iloc[0].startswith("⛔")
    # The comparison: the Stage cell of web.
    at.segmented_control(key="svc_view").set_value("compare").run()
    assert_ok(at)
    assert any(REASON in shown(e.value) and "Stage" in shown(e.value) for e in at.error)
    # The Overview.
    at.switch_page("app.py").run()
    assert_ok(at)
    assert any(REASON in shown(e.value) for e in at.error), [e.value for e in at.error]
