"""The Overview: figures, the pipeline with counts, site health, and the way back to the first-visit dialog."""

from __future__ import annotations

import datetime as dt

from tests.ui.conftest import OpenApp, Seed, rendered_text
from tests.ui.fakes import GOOD_TOKEN

INSTANCES = (
    ("shop-dev", "rancher-eu", "Dev", "c-m-dev01", "shop-dev"),
    ("shop-qa", "rancher-eu", "Dev", "c-m-dev01", "shop-qa"),
    ("shop-prod", "rancher-eu", "Prod", "c-m-prd01", "shop-prod"),
)


def test_figures_pipeline_and_health(open_app: OpenApp, seed: Seed) -> None:
    seed(instance_specs=INSTANCES, expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=3))

    at = open_app()

    figures = {m.label: (m.value, m.delta) for m in at.main.metric if m.label != "App instances" or m.delta}
    assert figures["Sites"] == ("1 active", "all reachable")
    assert figures["Environments"] == ("3", "")
    assert figures["Tokens expiring soon"] == ("1", "within 14 days")
    assert [m.value for m in at.main.metric if m.label == "App instances"] == ["3", "2", "0", "1"]
    health = "\n".join(m.value for m in at.main.markdown)
    assert ":green-badge[:material/check_circle: connected]" in health
    assert ":orange-badge[:material/schedule: token expires in 3 days]" in health
    assert "**rancher-eu**" in health, "each site's card is titled with its name"
    captions = [c.value for c in at.main.caption]
    assert "admin · last contact 5 min ago · 20 ms" in captions, captions
    assert GOOD_TOKEN.split(":")[1] not in rendered_text(at)


def test_get_started_reopens_the_first_visit_dialog(open_app: OpenApp) -> None:
    at = open_app(state={"welcome_closed": True})
    assert not at.get("dialog"), "closed once, it stays closed while the user looks around"

    at.button(key="get_started_open").click().run()

    assert at.get("dialog")
