"""Notifications (admin): Apprise URLs subscribed to events per environment — sync succeeded, failed or rolled back,
approvals, freeze overrides, expiring tokens, unreachable sites — with each one's last delivery and a test button."""

import streamlit as st

from ranchersync.access.identity import refusal
from ui import screen
from ui.governance import notifications_view
from ui.shell import widgets

view = screen.start("Notifications", ":material/notifications:")
st.title("Notifications")
st.caption("Messages to Slack, Teams, Discord, Mattermost, webhooks or mail through Apprise URLs. A URL holds a "
           "secret: it is stored encrypted and shown only as its scheme and host. A failed delivery is retried and "
           "never holds up a sync.")
denied = refusal(view.actor, "manage_notifications")
if denied:
    widgets.empty_state(f"Only an admin changes notifications: {denied}.", icon=":material/lock:")
    st.stop()

views = notifications_view.subscriptions()
if views:
    selected = notifications_view.table(views, view.tz)
    notifications_view.actions(view.actor, selected)
else:
    widgets.empty_state("No subscription yet: add one below, then send it a test.", icon=":material/notifications:")
notifications_view.add_form(view.actor, view.environments)
