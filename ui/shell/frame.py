"""What every screen does first: page config, the sidebar menu, the selected environment, flash messages, and the
first-visit hook.

Classic multipage (DESIGN.md, "Screens and navigation"): no st.navigation; `client.showSidebarNavigation = false`
hides Streamlit's own list and we draw the menu in sections with st.page_link.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from ranchersync import jobs
from ranchersync.access.identity import Actor
from ranchersync.catalogue.rules import unreachable_sites
from ranchersync.inventory.compare import CompareBy
from ranchersync.kernel.errors import DatabaseUnavailable, RancherSyncError
from ranchersync.kernel.humanize import plural
from ranchersync.kernel.textsafe import escape_markdown
from ranchersync.security.crypto import SecretKeyError
from ui.shell import auth, deps, outage, queries, started, theme, url_state, user_preferences, widgets
from ui.shell import format as fmt
from ui.shell.queries import EnvironmentRow, SiteRow

APP_NAME = "Rancher Sync Manager"

# (section, [(script, label, icon)]); paths are relative to app.py, the entrypoint.
MENU: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...] = (
    ("", (("app.py", "Overview", ":material/space_dashboard:"),)),
    (
        "Setup",
        (
            ("pages/1_Sites.py", "Sites", ":material/dns:"),
            ("pages/2_Environments.py", "Environments", ":material/linear_scale:"),
            ("pages/3_App_instances.py", "App instances", ":material/deployed_code:"),
        ),
    ),
    (
        "Operate",
        (
            ("pages/4_Services.py", "Services", ":material/apps:"),
            ("pages/5_Sync_history.py", "Sync history", ":material/history:"),
            ("pages/13_Snapshots.py", "Snapshots", ":material/photo_library:"),
            ("pages/7_Approvals.py", "Approvals", ":material/approval:"),
            ("pages/12_Quarantine.py", "Quarantine", ":material/block:"),
            ("pages/6_Display.py", "Display", ":material/tv:"),
        ),
    ),
    ("Admin", (("pages/9_People.py", "People", ":material/group:"),
               ("pages/8_Audit_log.py", "Audit log", ":material/policy:"),
               ("pages/10_Notifications.py", "Notifications", ":material/notifications:"))),
)
ADMIN_ONLY = frozenset({"pages/9_People.py"})  # links a lower role does not see (the page refuses them anyway)
SETTINGS_PAGE = ("pages/11_Settings.py", "Settings", ":material/tune:")  # under the user's name
PAGES = {label: script for _, links in (*MENU, ("", (SETTINGS_PAGE,))) for script, label, _ in links}

# Less empty space above the title than Streamlit's default: the screens are dense tools, read at 1280×800.
# Never less than the fixed top bar's 3.75rem, or the first row of a page (a flash message, the History's downloads)
# is drawn under it (issue 20 item 6; tests/e2e/test_top_bar.py measures it).
_CSS = "<style>[data-testid='stMainBlockContainer'] {padding-top: 4rem;}</style>"

# The tab's icon, served by the app itself (a data: URL): a `:material/…:` page icon makes the browser fetch it from
# fonts.gstatic.com, which an air-gapped deployment cannot reach (issue 20, item 7).
FAVICON = Path(__file__).with_name("favicon.svg")

SELECTED_ENVIRONMENT = "selected_environment_id"  # our own key: a widget's key is dropped on page switches
_PICKER = "sidebar_environment"
ENV_PARAM = "env"  # the selected environment in the address, by name


@dataclass(frozen=True)
class Frame:
    """What the frame read, handed to the page so it need not read it again."""

    sites: tuple[SiteRow, ...]
    environments: tuple[EnvironmentRow, ...]
    environment: EnvironmentRow | None  # the selected one
    tz: dt.tzinfo  # the person's time zone (Settings), else the browser's
    actor: Actor  # who is signed in, with their role now
    compare_by: CompareBy = "image"  # the person's default compare mode
    rows_per_page: int = 25


def frame(title: str, icon: str, *, first_visit: Callable[[Actor], None] | None = None) -> Frame:
    """Set up the page (ui/screen.py calls it for app.py and every page). `first_visit` is offered to an admin while
    no site exists: the first-visit dialog belongs to a screen, which the shell does not import. `icon` is the
    page's in the menu; the browser tab shows the app's own (FAVICON)."""
    st.set_page_config(
        page_title=f"{title} · {APP_NAME}", page_icon=str(FAVICON), layout="wide", initial_sidebar_state="expanded"
    )
    st.html(_CSS)
    try:
        deps.get_context()  # migrates a fresh database, loads the keys and revives the demo before any read
    except SecretKeyError as error:  # a wrong or missing key stops every screen with the reason, not a traceback
        st.error(f"**The encryption key cannot be used.** {escape_markdown(error)}", icon=":material/key_off:")
        st.stop()
    except DatabaseUnavailable as error:
        outage.banner(error)  # retries by itself: the screen comes back once the database answers
    except RancherSyncError as error:  # a malformed setting (RANCHERSYNC_ROLE_MAP…): say which, stop
        st.error(f"**The configuration cannot be used.** {escape_markdown(error)}", icon=":material/settings:")
        st.stop()
    outage.check()  # the context was made earlier, the database may have gone since: the banner, not a traceback
    actor = auth.gate()  # the sign-in screen (or the refusal of anonymous mode) stops here
    sites = queries.sites()
    envs = queries.environments()
    prefs = user_preferences.for_user(actor.email)
    fmt.DATE_PATTERN.set(prefs.date_pattern)
    if SELECTED_ENVIRONMENT not in st.session_state and prefs.default_environment_id is not None:
        st.session_state[SELECTED_ENVIRONMENT] = prefs.default_environment_id  # a new session starts there
    # A link naming an environment (`?env=Prod`) selects it; the pages that show one environment publish it.
    url_state.bind(SELECTED_ENVIRONMENT, ENV_PARAM, url_state.one_of({e.name: e.id for e in envs}), None)
    selected = selected_environment(envs)
    with st.sidebar:
        _menu(actor)
        _environment_picker(envs, selected)
        _footer(sites)
        auth.sidebar_user(actor)
        _settings_link()
        theme.apply(prefs.theme, PAGES.values())
    started.announce_finished()  # the operations this session started that finished since: their outcome
    widgets.show_flash()
    if first_visit is not None and not sites and actor.at_least("admin") and not widgets.dialog_pending():
        first_visit(actor)
    tz = fmt.zone(prefs.timezone) if prefs.timezone else widgets.user_zone()
    compare_by: CompareBy = "tag" if prefs.compare_by == "tag" else "image"
    return Frame(sites, envs, selected, tz, actor, compare_by, prefs.rows_per_page)


def selected_environment(envs: Sequence[EnvironmentRow]) -> EnvironmentRow | None:
    """The environment chosen in this browser session; the first of the pipeline by default."""
    wanted = st.session_state.get(SELECTED_ENVIRONMENT)
    chosen = next((e for e in envs if e.id == wanted), envs[0] if envs else None)
    st.session_state[SELECTED_ENVIRONMENT] = chosen.id if chosen else None
    return chosen


def publish_environment(env: EnvironmentRow | None) -> None:
    """Put the selected environment in the address (a page showing one environment: the link reopens it)."""
    url_state.publish(ENV_PARAM, env.name if env else None)


def select_environment(env_id: int | None) -> None:
    """Make `env_id` the selected environment (a widget callback can pass its own value)."""
    st.session_state[SELECTED_ENVIRONMENT] = env_id


def environment_picker(label: str, key: str, envs: Sequence[EnvironmentRow], *, segmented: bool = False) -> None:
    """A widget bound to the shared selection: it starts from it and writes it back when changed."""
    if not envs:
        return
    names = {e.id: e.name for e in envs}
    st.session_state[key] = st.session_state.get(SELECTED_ENVIRONMENT)  # allowed: the widget is not drawn yet
    on_change = _copy_to_selection
    if segmented:  # a segmented control reads its labels as Markdown; a selectbox shows them as text
        st.segmented_control(
            label, list(names), format_func=lambda env_id: escape_markdown(names[env_id]), key=key,
            on_change=on_change, args=(key,),
            required=True,
        )
    else:
        st.selectbox(label, list(names), format_func=names.__getitem__, key=key, on_change=on_change, args=(key,))


def _copy_to_selection(key: str) -> None:
    select_environment(st.session_state.get(key))


def _menu(actor: Actor) -> None:
    st.markdown(f"### :material/sync_alt: {APP_NAME}")
    for section, links in MENU:
        if section:
            st.caption(section.upper())
        for script, label, icon in links:
            if script not in ADMIN_ONLY or actor.at_least("admin"):
                st.page_link(script, label=label, icon=icon)
    running = jobs.running_operations(deps.get_context())  # in any process: the jobs run on the server
    if running:
        st.page_link(PAGES["Sync history"], label=f"{len(running)} running: #{running[-1]}",
                     icon=":material/progress_activity:", query_params={"operation": str(running[-1])})


def _environment_picker(envs: Sequence[EnvironmentRow], selected: EnvironmentRow | None) -> None:
    st.divider()
    if not envs:
        st.caption("No environments yet.")
        st.page_link(PAGES["Environments"], label="Create the pipeline", icon=":material/add:")
        return
    environment_picker("Environment", _PICKER, envs)
    if selected is not None:
        widgets.chip(selected, suffix=f" · {plural(selected.instance_count, 'app instance')}")


def _settings_link() -> None:
    """The person's own Settings, under their name (DESIGN.md, "Screens and navigation")."""
    script, label, icon = SETTINGS_PAGE
    st.page_link(script, label=label, icon=icon)


def _footer(sites: Sequence[SiteRow]) -> None:
    st.divider()
    active = sum(s.active for s in sites)
    trouble = len(unreachable_sites(sites))
    text = f"{plural(active, 'active site')}" + (f", {trouble} unreachable" if trouble else "")
    st.caption(text if sites else "No Rancher site yet.")
