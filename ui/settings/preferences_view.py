"""The Settings form: the signed-in person's preferences, saved together (the frame reads them:
ui/shell/user_preferences.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from zoneinfo import available_timezones

import streamlit as st

from ranchersync.access.identity import Actor
from ranchersync.kernel.config import MAIL_URL_ENV, mail_url
from ranchersync.kernel.errors import RancherSyncError
from ranchersync.notify import EVENTS, SUBSCRIBABLE
from ranchersync.people import preferences
from ranchersync.people.preferences import DATE_FORMATS, ROWS_PER_PAGE, THEMES, Preferences
from ui.shell import deps, user_preferences, widgets
from ui.shell.queries import EnvironmentRow

_EXAMPLES = {"iso": "2026-11-20", "european": "20.11.2026", "british": "20/11/2026", "us": "11/20/2026",
             "long": "20 Nov 2026"}


def settings_form(actor: Actor, prefs: Preferences, envs: Sequence[EnvironmentRow]) -> None:
    """The Settings form: every preference, saved together."""
    names = {e.id: e.name for e in envs}
    zones = ["", *sorted(available_timezones())]
    with st.form("prefs_form", border=True):
        env_ids: list[int | None] = [None, *names]
        default_env = st.selectbox(
            "Default environment", env_ids, key="prefs_env",
            index=env_ids.index(prefs.default_environment_id) if prefs.default_environment_id in env_ids else 0,
            format_func=lambda i: "The first of the pipeline" if i is None else names[i],
            help="The environment the screens start with in a new browser session.")
        left, right = st.columns(2)
        zone = left.selectbox("Time zone", zones, key="prefs_tz",
                              index=zones.index(prefs.timezone) if prefs.timezone in zones else 0,
                              format_func=lambda z: z or "The browser's time zone")
        date_format = right.selectbox("Date format", list(DATE_FORMATS), key="prefs_date",
                                      index=list(DATE_FORMATS).index(prefs.date_format),
                                      format_func=_EXAMPLES.__getitem__)
        compare_by = left.segmented_control("Compare services by", ["image", "tag"], default=prefs.compare_by,
                                            required=True, key="prefs_compare",
                                            format_func={"image": "Full image", "tag": "Tag"}.__getitem__)
        rows = right.selectbox("Rows per page", ROWS_PER_PAGE, index=ROWS_PER_PAGE.index(prefs.rows_per_page),
                               key="prefs_rows")
        theme = st.segmented_control(
            "Theme", list(THEMES), default=prefs.theme, required=True, key="prefs_theme",
            format_func={"": "The browser's", "light": "Light", "dark": "Dark"}.__getitem__,
            help="Applied on every page, in every browser you sign in from: a link opens in it too.")
        mail = st.multiselect("Notifications I want by e-mail", list(SUBSCRIBABLE), default=list(prefs.email_events),
                              format_func=EVENTS.__getitem__, key="prefs_mail",
                              help="Sent to your address once the administrator has set up a mail service.")
        if not mail_url():
            st.caption(f"E-mail is not configured: nothing is sent until the administrator sets {MAIL_URL_ENV}.")
        elif "@" not in prefs.email:
            st.caption("Your user name is not an e-mail address, so no e-mail is sent to it.")
        if st.form_submit_button("Save", type="primary", key="prefs_save"):
            chosen = dataclasses.replace(prefs, default_environment_id=default_env, timezone=zone,
                                         date_format=date_format, compare_by=compare_by or "image",
                                         rows_per_page=int(rows), email_events=tuple(mail),
                                         theme=theme or "")
            save(actor, chosen)


def save(actor: Actor, prefs: Preferences) -> None:
    """Store the preferences, forget the cached ones, and show the result after a rerun."""
    try:
        with deps.get_context().session() as session:
            preferences.save_preferences(session, actor, prefs)
    except RancherSyncError as error:
        widgets.flash("error", str(error))
    else:
        user_preferences.for_user.clear()
        widgets.flash("success", "Settings saved: every screen uses them now.")
    st.rerun()
