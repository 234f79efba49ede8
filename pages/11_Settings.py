"""Settings: the signed-in person's preferences — default environment, time zone and date format, compare mode,
rows per page, theme, notifications by e-mail — stored in the database and used by every screen."""

import streamlit as st

from ui import screen
from ui.settings import preferences_view
from ui.shell import format as fmt
from ui.shell import user_preferences

view = screen.start("Settings", ":material/tune:")
st.title("Settings")
st.caption(f"Your preferences as {view.actor.email}: every screen uses them, in every browser you sign "
           "in from.")
prefs = user_preferences.for_user(view.actor.email)
preferences_view.settings_form(view.actor, prefs, view.environments)
st.caption(f"Times are shown in {fmt.zone_label(view.tz)}; {view.rows_per_page} rows per page.")
