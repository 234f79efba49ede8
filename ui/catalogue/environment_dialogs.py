"""The environment dialogs: add, edit, remove (with the core's explicit cascade rule)."""

from __future__ import annotations

import streamlit as st

from ranchersync.access.identity import Actor
from ranchersync.catalogue.environments import DEFAULT_COLORS, pin_setting
from ranchersync.kernel.textsafe import escape_markdown
from ranchersync.kernel.validation import DESCRIPTION_MAX_LENGTH, NAME_MAX_LENGTH
from ui.catalogue import catalogue_actions
from ui.shell import queries, widgets
from ui.shell.queries import EnvironmentRow

_PROTECTED_HELP = "Syncs into a protected environment need the environment's name typed as a confirmation."
_PIN_HELP = ("A sync into this environment promotes repo:tag@sha256:…, so it runs exactly the bits that were tested "
             "whatever the tag names at pull time; a sync may still choose otherwise. Until set, on while the "
             "environment is protected.")
_APPROVALS_HELP = ("Four eyes: a sync into this environment becomes a request that this many other people with the "
                   "releaser role approve on the Approvals page (0: none).")


@st.dialog("Add an environment", on_dismiss=widgets.close_dialog)
def add_environment(actor: Actor) -> None:
    """Name, description, colour, protection and place in the pipeline of a new environment."""
    envs = queries.environments()
    fields = widgets.FieldSlots("add_env")
    name = st.text_input("Name", key="add_env_name", placeholder="e.g. Stage", max_chars=NAME_MAX_LENGTH)
    fields.under("name")
    description = st.text_input("Description", key="add_env_description", placeholder="optional",
                                max_chars=DESCRIPTION_MAX_LENGTH)
    fields.under("description")
    left, right = st.columns([1, 2], vertical_alignment="bottom")
    color = left.color_picker("Colour", value=DEFAULT_COLORS[len(envs) % len(DEFAULT_COLORS)], key="add_env_color")
    protected = right.toggle("Protected", key="add_env_protected", help=_PROTECTED_HELP)
    fields.under("color")
    places = {len(envs): "At the end of the pipeline"} | {e.position: f"Before {e.name}" for e in envs}
    position = st.selectbox("Place in the pipeline", list(places), format_func=places.__getitem__, key="add_env_pos")
    if widgets.dialog_buttons("Add environment", "add_env_save", "add_env_cancel", icon=":material/add:"):
        widgets.finish(
            catalogue_actions.add_environment(
                actor,
                name=name, description=description, color=color, protected=protected, position=position
            ),
            fields,
        )


@st.dialog("Edit environment", on_dismiss=widgets.close_dialog)
def edit_environment(actor: Actor, env: EnvironmentRow) -> None:
    """Change an environment's name, description, colour and protection."""
    key = f"edit_env_{env.id}"
    fields = widgets.FieldSlots(key)
    name = st.text_input("Name", value=env.name, key=f"{key}_name", max_chars=NAME_MAX_LENGTH)
    fields.under("name")
    description = st.text_input("Description", value=env.description, key=f"{key}_description",
                                max_chars=DESCRIPTION_MAX_LENGTH)
    fields.under("description")
    left, middle, right = st.columns([1, 1, 1], vertical_alignment="bottom")
    color = left.color_picker("Colour", value=env.color, key=f"{key}_color")
    protected = middle.toggle("Protected", value=env.protected, key=f"{key}_protected", help=_PROTECTED_HELP)
    pin = right.toggle("Pin digests", value=env.pins_digests, key=f"{key}_pin_digests", help=_PIN_HELP)
    fields.under("color")
    if env.pin_digests is None and pin == env.pins_digests:
        after = "" if protected == env.protected else f" (so {'on' if protected else 'off'} once saved)"
        st.caption(f"Pin digests follows Protected until you change it{after}.")
    required = st.number_input("Approvals needed", min_value=0, max_value=5, value=env.required_approvals, step=1,
                               key=f"{key}_approvals", help=_APPROVALS_HELP)
    if widgets.dialog_buttons("Save", "edit_env_save", "edit_env_cancel", icon=":material/save:"):
        widgets.finish(
            catalogue_actions.update_environment(
                actor,
                env.id, name=name, description=description, color=color, protected=protected,
                required_approvals=int(required),
                pin_digests=pin_setting(env.pin_digests, env.pins_digests, pin, protected),
            ),
            fields,
        )


@st.dialog("Remove environment", on_dismiss=widgets.close_dialog)
def remove_environment(actor: Actor, env: EnvironmentRow) -> None:
    """Confirm removing an environment, showing exactly which app instances go with it."""
    members = queries.instances_now(env.id)  # exact, not cached
    name, md = escape_markdown(env.name), escape_markdown
    st.markdown(f"Remove the environment **{name}** from the pipeline?")
    cascade, seen = widgets.cascade_choice(
        members, key="remove_env_cascade", warning=f"{name} holds {len(members)} app instance(s):",
        describe=lambda i: f": {md(i.site_name)} · {md(i.cluster_name)}/{md(i.namespace)}")
    if members:
        st.caption("To keep them, move them to another environment first (App instances page).")
    st.caption("Sync history keeps the environment's name.")
    label = f"Remove {name} and {len(members)} app instance(s)" if members else f"Remove {name}"
    if widgets.dialog_buttons(label, "remove_env_confirm", "remove_env_cancel", disabled=bool(members) and not cascade):
        widgets.finish(catalogue_actions.remove_environment(actor, env.id, cascade=cascade, shown=seen))


def show_requested(actor: Actor) -> None:
    """Open whichever environment dialog a button asked for."""
    if widgets.requested_dialog("add_environment") is not None:
        add_environment(actor)
        return
    for name, dialog in (("edit_environment", edit_environment), ("remove_environment", remove_environment)):
        request = widgets.requested_dialog(name)
        if request is None:
            continue
        env = queries.environment(request["env_id"])
        if env is None:
            widgets.close_dialog()
            widgets.flash("info", "That environment no longer exists.")
            st.rerun()
        else:
            dialog(actor, env)
