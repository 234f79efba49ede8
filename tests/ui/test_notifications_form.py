"""The Notifications screen's add form: every wrong field said under it at once, and a refused URL stays in its box
to be fixed rather than typed again; a stored one leaves the page."""

from __future__ import annotations

from ranchersync import notify
from ranchersync.context import AppContext
from tests.ui.conftest import OpenApp, Seed, assert_ok
from tests.ui.fakes import field_errors, shown

PAGE = "pages/10_Notifications.py"


def _subscriptions(ctx: AppContext) -> list[str]:
    with ctx.session() as session:
        return [v.url for v in notify.list_subscriptions(session)]


def test_a_refused_url_stays_in_its_box_with_the_error_under_it(
    open_app: OpenApp, seed: Seed, app_env: AppContext
) -> None:
    seed()
    at = open_app(PAGE)

    at.text_input(key="notify_url").input("hooks.example.com/abc")
    at.multiselect(key="notify_events").set_value([])
    at.button(key="notify_submit").click().run()

    assert_ok(at)
    errors = field_errors(at)
    assert len(errors) == 2 and errors[0].startswith("give an Apprise URL such as json://host/path")
    assert errors[1].startswith("no event chosen")
    assert "2 fields need a change" in shown(at.error[0].value)
    assert at.text_input(key="notify_url").value == "hooks.example.com/abc", "kept to be fixed, not retyped"
    assert _subscriptions(app_env) == []

    at.text_input(key="notify_url").input("json://127.0.0.1:8/hook")
    at.multiselect(key="notify_events").set_value(["sync.failed"])
    at.button(key="notify_submit").click().run()

    assert_ok(at)
    assert [url.split("#")[0] for url in _subscriptions(app_env)] == ["json://"], "stored, shown masked"
    assert at.text_input(key="notify_url").value == "", "a stored secret leaves the page"
    assert field_errors(at) == []
