"""Environments: the promotion pipeline in order; add, edit, reorder, protect, remove; freezes; verification."""

import streamlit as st

from ranchersync.access.identity import refusal
from ranchersync.kernel.humanize import plural
from ranchersync.kernel.textsafe import escape_markdown
from ui import screen
from ui.catalogue import catalogue_actions, environment_dialogs, verification_view
from ui.governance import freeze_view
from ui.shell import widgets

view = screen.start("Environments", ":material/linear_scale:")
envs = view.environments
locked = refusal(view.actor, "manage_catalogue")  # why this person may not change environments

title, add = st.columns([4, 1], vertical_alignment="bottom")
title.title("Environments")
title.caption("The stages of your promotion pipeline, in order: a sync goes by default from one stage to the next.")
add.button("Add environment", key="env_add", type="primary", icon=":material/add:", width="stretch",
           on_click=widgets.open_dialog, args=("add_environment",), disabled=bool(locked), help=locked)

if not envs:
    widgets.empty_state("No environments yet. A typical pipeline is Dev → Stage → Prod, with Prod protected.")
else:
    widgets.pipeline(envs, counts=True)
    st.caption("The number on each chip is how many app instances the environment holds.")

for index, env in enumerate(envs):
    with st.container(border=True, key=f"env_card_{env.id}"):
        order, info, buttons = st.columns([0.3, 2.4, 2.6], vertical_alignment="center")
        order.markdown(f"### {index + 1}", anchors=False)
        with info:
            with st.container(horizontal=True, vertical_alignment="center"):
                widgets.chip(env)
                if env.protected:
                    st.badge("protected", color="red", icon=":material/lock:",
                             help="Syncs into it need the environment's name typed as a confirmation.")
                if env.pins_digests:
                    st.badge("pins digests", color="blue", icon=":material/push_pin:",
                             help="Syncs into it promote repo:tag@sha256:… unless the sync says otherwise.")
                if env.required_approvals:
                    st.badge(plural(env.required_approvals, "approval"), color="violet",
                             icon=":material/approval:", help="Syncs into it wait for this many approvals.")
                st.badge(plural(env.instance_count, "app instance"), color="gray",
                         icon=":material/deployed_code:")
                freeze_view.badge(env.id, view.tz)
            st.caption(escape_markdown(env.description) if env.description else "No description.")
        with buttons, st.container(horizontal=True, horizontal_alignment="right"):
            if st.button("", key=f"env_up_{env.id}", icon=":material/arrow_upward:",
                         help=locked or "Earlier in the pipeline", disabled=index == 0 or bool(locked)):
                widgets.flash_outcome(catalogue_actions.move_environment(view.actor, env.id, index - 1))
                st.rerun()
            if st.button("", key=f"env_down_{env.id}", icon=":material/arrow_downward:",
                         help=locked or "Later in the pipeline", disabled=index == len(envs) - 1 or bool(locked)):
                widgets.flash_outcome(catalogue_actions.move_environment(view.actor, env.id, index + 1))
                st.rerun()
            st.button("Edit", key=f"env_edit_{env.id}", icon=":material/edit:", disabled=bool(locked), help=locked,
                      on_click=widgets.open_dialog, args=("edit_environment",), kwargs={"env_id": env.id})
            st.button("Remove", key=f"env_remove_{env.id}", icon=":material/delete:", disabled=bool(locked),
                      help=locked, on_click=widgets.open_dialog, args=("remove_environment",),
                      kwargs={"env_id": env.id})

freeze_view.section(view.actor, envs, view.tz)
verification_view.section(view.actor, envs)

environment_dialogs.show_requested(view.actor)
verification_view.show_requested(view.actor)
