"""The first-visit dialog: connect a Rancher server or start the demo. The frame offers it to an admin while no site
exists (through ui/screen.py, so the shell imports no screen)."""

from __future__ import annotations

import streamlit as st

from ranchersync.access.identity import Actor
from ranchersync.kernel.textsafe import escape_markdown
from ui.catalogue import demo_actions, site_dialogs
from ui.shell import widgets

WELCOME_CLOSED = "welcome_closed"


def offer(actor: Actor) -> None:
    """Open the dialog unless it was closed in this browser session (the frame's first-visit hook)."""
    if not welcome_closed():
        welcome(actor)


def welcome_closed() -> bool:
    """Whether the user closed the first-visit dialog in this browser session."""
    return bool(st.session_state.get(WELCOME_CLOSED))


def reopen_welcome() -> None:
    """Show the first-visit dialog again (the Overview's "get started" button)."""
    st.session_state[WELCOME_CLOSED] = False


def _close_welcome() -> None:
    st.session_state[WELCOME_CLOSED] = True


@st.dialog("Welcome to Rancher Sync Manager", width="medium", on_dismiss=_close_welcome)
def welcome(actor: Actor) -> None:
    """First visit: connect a Rancher server, or try the built-in demo."""
    st.markdown(
        "This tool promotes workload versions between your environments (Dev → Stage → Prod) on Rancher. "
        "Start by connecting a Rancher server, or try everything on simulated servers first."
    )
    connect, demo = st.tabs(["Connect your Rancher", "Try the demo"])
    with connect:
        entered, fields = site_dialogs.site_form("welcome")
        if st.button("Test connection and save", key="welcome_save", type="primary", icon=":material/cable:"):
            site_dialogs.save_new(actor, entered, fields, on_success=_close_welcome)
    with demo:
        demo_panel("welcome")


def demo_panel(prefix: str) -> None:
    """Explain the demo and start it, with its progress shown as it goes."""
    st.markdown(
        "The demo starts **two simulated Rancher servers** in the background and fills in **sites, the environments "
        "Dev, Stage and Prod, and their app instances**, so you can try every screen without a Rancher at hand. "
        "You can remove the demo sites at any time. From a terminal, `make demo` does the same."
    )
    refusal = demo_actions.demo_refusal()
    if refusal is not None:
        st.info(escape_markdown(refusal), icon=":material/block:")
    if st.button("Start the demo", key=f"{prefix}_demo", icon=":material/play_circle:", disabled=refusal is not None):
        with st.status("Starting the demo…", expanded=True) as status:
            outcome = demo_actions.start_demo(progress=status.write)
            status.update(
                label="The demo is ready" if outcome.ok else "The demo could not start",
                state="complete" if outcome.ok else "error",
            )
        if outcome.ok:
            _close_welcome()
        widgets.finish(outcome)
