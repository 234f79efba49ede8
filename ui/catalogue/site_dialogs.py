"""The site dialogs: add, edit, remove (the first-visit dialog reuses the form). Opened from a session-state flag."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import streamlit as st

from ranchersync.access.identity import Actor
from ranchersync.catalogue import sites as site_cases
from ranchersync.kernel.errors import ValidationError
from ranchersync.kernel.textsafe import escape_markdown
from ranchersync.kernel.validation import NAME_MAX_LENGTH, normalize_rancher_url
from ui.catalogue import catalogue_actions
from ui.shell import queries, throttle, widgets
from ui.shell.outcome import Outcome
from ui.shell.queries import SiteRow

_TLS_OPTIONS = {
    "system": "Trusted by this machine",
    "bundle": "Use a CA bundle",
    "skip": "Skip verification",
}
_TLS_HELP = (
    "Choose 'Use a CA bundle' when Rancher's certificate comes from a private CA (Rancher shows it under Global "
    "Settings → cacerts). Skipping verification lets anyone on the network read the token: lab servers only."
)
_TOKEN_HELP = (
    "In Rancher: your avatar → Account & API Keys → Create API Key, with the scope 'No scope'. Paste the bearer "
    "token (token-xxxxx:secret); it is stored encrypted and never shown again."
)


@dataclass(frozen=True)
class SiteInput:
    """What the site form holds; `token` is empty when an edit keeps the stored one."""

    name: str
    url: str
    token: str
    tls: str  # a key of _TLS_OPTIONS
    ca_bundle: str | None
    allow_http: bool
    token_required: str | None = None  # why an edit needs a new token (address or TLS changed), else None

    @property
    def insecure(self) -> bool:
        """Whether TLS verification is explicitly skipped."""
        return self.tls == "skip"


def site_form(key: str, site: SiteRow | None = None) -> tuple[SiteInput | None, widgets.FieldSlots]:
    """The fields of a site, each with a place for its error; the input is None when it is incomplete in a way the
    form itself can tell."""
    fields = widgets.FieldSlots(key)
    name_col, url_col = st.columns([1, 2])
    name = name_col.text_input(
        "Name", value=site.name if site else "", key=f"{key}_name", placeholder="e.g. rancher-eu",
        max_chars=NAME_MAX_LENGTH,
    )
    url = url_col.text_input(
        "Rancher URL", value=site.url if site else "", key=f"{key}_url", placeholder="https://rancher.example.com",
        max_chars=500,  # the column's width
    )
    fields.under("name", name_col)
    fields.under("url", url_col)
    token = st.text_input(
        "New API token (leave empty to keep the current one)" if site else "API token",
        key=f"{key}_token",
        type="password",
        placeholder="token-xxxxx:secret",
        max_chars=500,
        help=_TOKEN_HELP,
        autocomplete="off",
    )
    fields.under("token")
    token_note = st.container()  # filled below, once the TLS fields are known
    current = "skip" if site and site.insecure else ("bundle" if site and site.has_ca_bundle else "system")
    tls = st.radio(
        "TLS certificate",
        list(_TLS_OPTIONS),
        index=list(_TLS_OPTIONS).index(current),
        format_func=_TLS_OPTIONS.__getitem__,
        key=f"{key}_tls",
        horizontal=True,
        help=_TLS_HELP,
    )
    ca_bundle: str | None = None
    if tls == "bundle":
        upload = st.file_uploader("CA bundle (PEM)", type=["pem", "crt", "cer"], key=f"{key}_ca_file")
        pasted = st.text_area(
            "…or paste it", key=f"{key}_ca_text", height=100, placeholder="-----BEGIN CERTIFICATE-----"
        )
        ca_bundle = upload.getvalue().decode("utf-8", "replace") if upload is not None else (pasted or None)
        if site and site.has_ca_bundle and not ca_bundle:
            st.caption("A CA bundle is stored: it stays unless you upload or paste a new one.")
        fields.under("ca_bundle")
    elif tls == "skip":
        st.warning(
            "Without verification, anyone between this tool and Rancher could read the token. Use this only for "
            "a lab server.",
            icon=":material/lock_open:",
        )
    with st.expander("Advanced"):
        allow_http = st.checkbox(
            "Allow plain HTTP to a remote host",
            value=bool(site and site.allow_http),
            key=f"{key}_allow_http",
            help="Only for a lab server: the token would cross the network in clear. Loopback needs no exception.",
        )
    entered = SiteInput(name, url, token, tls, ca_bundle, allow_http)
    if site is not None:
        entered = replace(entered, token_required=token_required(site, entered))
        if entered.token_required and not token.strip():
            token_note.warning(
                f"**A new API token is required**: {entered.token_required}. The stored token is never sent to "
                "another address, nor with weaker TLS checks; paste the token for this server.",
                icon=":material/key:",
            )
    if tls == "bundle" and not ca_bundle and not (site and site.has_ca_bundle):
        st.caption(":orange[Upload or paste the CA bundle, or choose another TLS option.]")
        return None, fields
    return entered, fields


_STORED_CA = "(the stored CA bundle)"  # the dialog never reads the stored bundle; any new one counts as a change


def token_required(site: SiteRow, entered: SiteInput) -> str | None:
    """Why the edit needs a new token (the core's rule, applied to what the form holds), or None."""
    try:
        url = normalize_rancher_url(entered.url, allow_http=entered.allow_http)
    except ValidationError:
        return None  # the save shows what is wrong with the URL
    stored_ca = _STORED_CA if site.has_ca_bundle else None
    new_ca = (entered.ca_bundle or stored_ca) if entered.tls == "bundle" else None
    return site_cases.token_rebind_reason(
        site_cases.Reach(site.url, stored_ca, site.insecure, site.allow_http),
        site_cases.Reach(url, new_ca, entered.insecure, entered.allow_http),
    )


_MISSING_CA = Outcome(
    False, "Upload or paste the CA bundle, or choose another TLS option.", title="The CA bundle is missing"
)


def save_new(
    actor: Actor, entered: SiteInput | None, fields: widgets.FieldSlots,
    on_success: Callable[[], None] | None = None,
) -> None:
    """Test and store a new site; each wrong field's error shows under it."""
    if entered is None:
        widgets.show_outcome(_MISSING_CA)
        return
    with st.spinner("Testing the connection to Rancher…"):
        outcome = catalogue_actions.add_site(
            actor,
            name=entered.name,
            url=entered.url,
            token=entered.token,
            ca_bundle=entered.ca_bundle,
            insecure=entered.insecure,
            allow_http=entered.allow_http,
        )
    if outcome.ok and on_success is not None:
        on_success()
    widgets.finish(outcome, fields)


@st.dialog("Add a Rancher site", width="medium", on_dismiss=widgets.close_dialog)
def add_site(actor: Actor) -> None:
    """Add a site; the connection is tested before anything is saved."""
    entered, fields = site_form("add_site")
    if widgets.dialog_buttons("Test connection and save", "add_site_save", "add_site_cancel", icon=":material/cable:"):
        save_new(actor, entered, fields)


@st.dialog("Edit site", width="medium", on_dismiss=widgets.close_dialog)
def edit_site(actor: Actor, site_id: int) -> None:
    """Change a site; a new token replaces the stored one, which is never shown."""
    site = queries.site(site_id)
    if site is None:
        widgets.finish(Outcome.done("That site no longer exists."))
        return
    entered, fields = site_form(f"edit_site_{site_id}", site)
    if widgets.dialog_buttons("Save and test", "edit_site_save", "edit_site_cancel", icon=":material/save:"):
        if entered is None:
            widgets.show_outcome(_MISSING_CA)
            return
        if entered.token_required and not entered.token.strip():
            # The core refuses this too; saying it here spares a round trip and never tests the old token there.
            widgets.show_outcome(Outcome(
                False, site_cases.token_rebind_message(entered.token_required), title="A new API token is required"
            ))
            return
        throttle.forget(st.session_state, f"site_test_{site_id}")  # a test from before the edit says nothing now
        with st.spinner("Saving and testing the connection…"):
            outcome = catalogue_actions.update_site(
                actor,
                site_id,
                name=entered.name,
                url=entered.url,
                token=entered.token or None,
                ca_bundle=entered.ca_bundle,
                clear_ca_bundle=entered.tls != "bundle",
                insecure=entered.insecure,
                allow_http=entered.allow_http,
            )
        widgets.finish(outcome, fields)


@st.dialog("Remove site", on_dismiss=widgets.close_dialog)
def remove_site(actor: Actor, site_id: int) -> None:
    """Confirm removing a site, showing exactly which app instances go with it."""
    site = queries.site(site_id)
    if site is None:
        widgets.finish(Outcome.done("That site no longer exists."))
        return
    used_by = [i for i in queries.instances_now() if i.site_id == site_id]  # exact, not cached
    st.markdown(f"Remove **{escape_markdown(site.name)}** ({escape_markdown(site.url)})? Its stored token is deleted "
                "with it.")
    md = escape_markdown
    cascade, seen = widgets.cascade_choice(
        used_by, key="remove_site_cascade", warning=f"{len(used_by)} app instance(s) use this site:",
        describe=lambda i: f" in {md(i.environment_name)}: {md(i.cluster_name)}/{md(i.namespace)}")
    label = f"Remove site and {len(used_by)} app instance(s)" if used_by else "Remove site"
    if widgets.dialog_buttons(
        label, "remove_site_confirm", "remove_site_cancel", disabled=bool(used_by) and not cascade
    ):
        widgets.finish(catalogue_actions.remove_site(actor, site_id, cascade=cascade, shown=seen))


def test_site(site_id: int) -> Outcome:
    """The Test connection button: a second click within a few seconds gets the previous answer, and says so."""
    outcome, age = throttle.reuse_or_run(
        st.session_state, f"site_test_{site_id}", site_id, lambda: catalogue_actions.test_site(site_id)
    )
    if age is None:
        return outcome
    return replace(outcome, message=f"{outcome.message} {throttle.age_note(age)}")


def show_requested(actor: Actor) -> None:
    """Open whichever site dialog a button asked for."""
    if widgets.requested_dialog("add_site") is not None:
        add_site(actor)
    elif (request := widgets.requested_dialog("edit_site")) is not None:
        edit_site(actor, request["site_id"])
    elif (request := widgets.requested_dialog("remove_site")) is not None:
        remove_site(actor, request["site_id"])
