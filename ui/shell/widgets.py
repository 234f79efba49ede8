"""Reusable pieces: flash messages, the dialog flag, environment chips, status badges, outcome display."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from ranchersync.catalogue.rules import SiteHealth, site_health, token_state
from ranchersync.kernel.textsafe import escape_markdown
from ui.shell import format as fmt
from ui.shell.outcome import Outcome
from ui.shell.queries import EnvironmentRow, InstanceRow, SiteRow

FlashKind = Literal["success", "info", "warning", "error"]
_FLASH = "flash"
_DIALOG = "dialog"


# ---- flash messages: stored, then shown after st.rerun() (a toast right before a rerun is lost) ----------------


def flash(kind: FlashKind, message: str, detail: str = "", *, lasting: bool = False) -> None:
    """Queue a message for the next run; both texts are shown as written (never read as Markdown). `lasting`: a
    success that arrives on its own (a sync ended in the background) stays 10 s, not 4, for whoever looked away."""
    _queue(kind, escape_markdown(message), escape_markdown(detail), lasting=lasting)


def _queue(kind: FlashKind, message_md: str, detail_md: str, *, lasting: bool = False) -> None:
    st.session_state.setdefault(_FLASH, []).append((kind, message_md, detail_md, lasting))


def flash_outcome(outcome: Outcome) -> None:
    """Queue an action's outcome (and its warnings) for the next run."""
    if outcome.ok:
        flash("success", outcome.message)
    else:
        _queue("error", escape_markdown(outcome.title or "The action failed"), _outcome_detail(outcome))
    for warning in outcome.warnings:
        flash("warning", warning)


def show_flash() -> None:
    """Show the queued messages: successes as toasts, everything else where the user reads."""
    for kind, message, detail, lasting in st.session_state.pop(_FLASH, []):
        if kind == "success":
            st.toast(message, icon=":material/check_circle:", duration="long" if lasting else "short")
        else:
            body = f"**{message}**" + (f"\n\n{detail}" if detail else "")
            icon = {"info": ":material/info:", "warning": ":material/warning:", "error": ":material/error:"}[kind]
            getattr(st, kind)(body, icon=icon)


def _outcome_detail(outcome: Outcome) -> str:
    """The outcome's hint and message as Markdown: every word of it is text (Rancher's words among them)."""
    # What to do first; Rancher's own words after, smaller, for whoever digs further.
    if not outcome.hint:
        return escape_markdown(outcome.message)
    return f"{escape_markdown(outcome.hint)}\n\n:small[Details: {escape_markdown(outcome.message)}]"


def error_markdown(outcome: Outcome) -> str:
    """The one way a failure reads on a screen: its title in bold, then its hint, then its message."""
    return f"**{escape_markdown(outcome.title or 'The action failed')}**\n\n{_outcome_detail(outcome)}"


def show_outcome(outcome: Outcome) -> None:
    """Show a failed outcome in place (inside a dialog, where the user is still typing)."""
    st.error(error_markdown(outcome), icon=":material/error:")


# ---- forms: each field's error under it, all at once ------------------------------------------------------------

_FIELD_ERRORS = "field_errors_"


class FieldSlots:
    """A place under each field of a form for what is wrong with it (the core's InvalidFields, by field name). The
    errors of the last submit stay under their fields while the user fixes them, until the next submit."""

    def __init__(self, form: str) -> None:
        self._key = f"{_FIELD_ERRORS}{form}"
        self._slots: dict[str, DeltaGenerator] = {}

    def under(self, field: str, where: DeltaGenerator | None = None) -> None:
        """Keep a place for `field`'s error right here (in `where`, e.g. the field's column)."""
        slot = (where or st).empty()
        self._slots[field] = slot
        error = st.session_state.get(self._key, {}).get(field)
        if error:
            _field_error(slot, error)

    def show(self, outcome: Outcome) -> None:
        """Show a submit's outcome: each field's error under it, the rest (and a summary) where the caller is."""
        errors = dict(outcome.fields) if not outcome.ok else {}
        st.session_state[self._key] = errors
        for field, slot in self._slots.items():
            if field in errors:
                _field_error(slot, errors[field])
            else:
                slot.empty()
        if outcome.ok:
            return
        elsewhere = [message for field, message in errors.items() if field not in self._slots]
        if not errors or elsewhere:
            show_outcome(outcome if not errors else Outcome(False, "; ".join(elsewhere), title=outcome.title,
                                                            hint=outcome.hint))
        else:
            count = f"{len(errors)} fields need" if len(errors) > 1 else "One field needs"
            hint = f"\n\n{escape_markdown(outcome.hint)}" if outcome.hint else ""
            st.error(f"**{escape_markdown(outcome.title or 'Please check the form')}**: {count} a change (see "
                     f"above).{hint}", icon=":material/error:")

    def clear(self) -> None:
        """Forget the errors (after a success that keeps the form on screen)."""
        st.session_state.pop(self._key, None)


def _field_error(slot: DeltaGenerator, message: str) -> None:
    slot.markdown(f":red[:material/error: {escape_markdown(message)}]")


# ---- dialogs: opened from a session-state flag, so they survive reruns (and AppTest can drive them) -----------


def open_dialog(name: str, **params: Any) -> None:
    """Ask for a dialog on the next run (use as an on_click callback)."""
    st.session_state[_DIALOG] = {"name": name, **params}


def requested_dialog(name: str) -> dict[str, Any] | None:
    """The parameters of the requested dialog if it is `name`, else None."""
    request = st.session_state.get(_DIALOG)
    return request if request and request.get("name") == name else None


def dialog_pending() -> bool:
    """Whether a page asked for a dialog (only one dialog may open per run)."""
    return bool(st.session_state.get(_DIALOG))


def seen_before(key: str, value: Any) -> Any:
    """Keep `value` with the open dialog and return what it was at the dialog's previous run (what the user saw
    when they clicked), or `value` itself at the first run."""
    request = st.session_state.get(_DIALOG)
    if request is None:
        return value
    previous = request.get(key, value)
    request[key] = value
    return previous


def cascade_choice(
    members: Sequence[InstanceRow], *, key: str, warning: str, describe: Callable[[InstanceRow], str]
) -> tuple[bool, frozenset[int]]:
    """The app instances a removal would take along, listed exactly (`describe` gives each one's Markdown after its
    name), and the checkbox that allows it; asked again when they changed since the dialog opened. Returns the
    choice and the ids the user saw, which the action checks against what is stored."""
    ids = frozenset(i.id for i in members)
    seen: frozenset[int] = seen_before("instance_ids", ids)  # what the user saw when they clicked
    if not members:
        return False, seen
    if seen != ids:  # someone changed the app instances meanwhile: show the new list, ask again
        st.session_state[key] = False
        st.error("The app instances changed while this was open: review the list and confirm again.",
                 icon=":material/sync_problem:")
    st.warning(warning, icon=":material/warning:")
    st.markdown("\n".join(f"- **{escape_markdown(i.name)}**{describe(i)}" for i in members))
    cascade = st.checkbox(
        f"Also remove these {len(members)} app instance(s) (their workloads on the clusters are not touched)", key=key
    )
    return cascade, seen


def close_dialog() -> None:
    """Forget the dialog request and its forms' errors (on_dismiss callback, or before st.rerun())."""
    st.session_state.pop(_DIALOG, None)
    for key in [k for k in st.session_state if str(k).startswith(_FIELD_ERRORS)]:
        del st.session_state[key]


def dialog_buttons(label: str, key: str, cancel_key: str, *, icon: str | None = None, disabled: bool = False) -> bool:
    """The dialog's primary button and Cancel, side by side; True when the primary one was clicked."""
    with st.container(horizontal=True):
        confirmed = st.button(label, key=key, type="primary", icon=icon, disabled=disabled)
        cancelled = st.button("Cancel", key=cancel_key)
    if cancelled:
        close_dialog()
        st.rerun()
    return confirmed


def finish(outcome: Outcome, fields: FieldSlots | None = None) -> None:
    """Close the dialog and rerun with the outcome as a flash message; a failure stays in the dialog, each wrong
    field's error under it when the form gave `fields`."""
    if not outcome.ok:
        if fields is not None:
            fields.show(outcome)
        else:
            show_outcome(outcome)
        return
    flash_outcome(outcome)
    close_dialog()
    st.rerun()


# ---- time ------------------------------------------------------------------------------------------------------


_SCROLL_SCRIPT = """<script>
(() => {
  const wanted = ".st-key-%s";
  let tries = 0, moved = false;
  const stop = () => { moved = true; };
  for (const name of ["wheel", "touchmove", "keydown", "mousedown"]) {
    window.addEventListener(name, stop, {once: true, capture: true});
  }
  const look = () => {
    const found = document.querySelector(wanted);
    if (!found) {
      if (tries++ < 50) setTimeout(look, 100);
      return;
    }
    found.style.scrollMarginTop = "4.5rem";  // below the top bar
    // Again while what is above it is still being drawn (tables, charts), unless the user scrolled meanwhile.
    for (const delay of [0, 300, 800, 1500, 2500]) {
      setTimeout(() => { if (!moved) found.scrollIntoView({block: "start"}); }, delay);
    }
  };
  look();
})();
</script>"""


def scroll_into_view(key: str) -> None:
    """Scroll the page to the container keyed `key` (drawn in this run), below the top bar."""
    if not key.replace("_", "").isalnum():
        raise ValueError(f"not a widget key: {key!r}")  # the key goes into a script: our own constants only
    st.html(_SCROLL_SCRIPT % key, unsafe_allow_javascript=True, width="content")


def user_zone() -> dt.tzinfo:
    """The browser's time zone, or UTC."""
    return fmt.zone(st.context.timezone)


def now() -> dt.datetime:
    """The current time, aware UTC."""
    return dt.datetime.now(dt.UTC)


# ---- environment chips -----------------------------------------------------------------------------------------


def chip_html(env: EnvironmentRow, *, suffix: str = "") -> str:
    """A rounded chip in the environment's colour, with a lock when it is protected."""
    lock = " &#128274;" if env.protected else ""
    style = (
        f"background:{env.color};color:{fmt.text_color_for(env.color)};padding:0.15rem 0.7rem;"
        "border-radius:999px;font-weight:600;font-size:0.875rem;white-space:nowrap;display:inline-block"
    )
    # Markdown with HTML allowed: the text between the tags is still Markdown, so it is escaped as Markdown (which
    # also escapes `<` and `&`).
    name, suffix = escape_markdown(env.name), escape_markdown(suffix)
    return f'<span class="rsm-chip" style="{style}">{name}{lock}{suffix}</span>'


def chip(env: EnvironmentRow, *, suffix: str = "") -> None:
    """Draw one environment chip."""
    st.markdown(chip_html(env, suffix=suffix), unsafe_allow_html=True)


def pipeline(envs: Iterable[EnvironmentRow], *, counts: bool = False) -> None:
    """The environments in pipeline order, as chips joined by arrows."""
    parts = [chip_html(e, suffix=f" · {e.instance_count}" if counts else "") for e in envs]
    arrow = '<span style="opacity:0.6;margin:0 0.4rem">&#8594;</span>'
    st.markdown(arrow.join(parts) or "_No environments yet._", unsafe_allow_html=True)


def pipeline_cards(envs: Sequence[EnvironmentRow], frozen: Mapping[int, str] | None = None,
                   locked: Mapping[int, str] | None = None) -> dict[int, DeltaGenerator]:
    """One card per environment, in order, joined by arrows (up to five in a row), a frozen one with its badge
    (`frozen`: "reopens …" by id), a locked one with its locks (`locked`: their messages by id). Returns an empty
    slot per card (by environment id) for what is filled in later, such as the service counts read from Rancher."""
    arrows = len(envs) <= 5
    spec = [w for i in range(len(envs)) for w in ((0.16, 1) if arrows and i else (1,))]
    columns = iter(st.columns(spec))
    arrow = '<div style="text-align:center;opacity:0.6;padding-top:4.2rem">&#10132;</div>'
    slots: dict[int, DeltaGenerator] = {}
    for index, env in enumerate(envs):
        if arrows and index:
            next(columns).markdown(arrow, unsafe_allow_html=True)
        with next(columns).container(border=True, key=f"overview_env_{env.id}", height="stretch"):
            chip(env)
            if frozen and env.id in frozen:  # a badge the narrow card does not cut, and when it reopens below
                st.badge("Frozen", color="blue", icon=":material/ac_unit:")
                st.caption(escape_markdown(frozen[env.id]))
            if locked and env.id in locked:  # release trains: what is held still, and why
                st.badge("Locked", color="orange", icon=":material/lock:")
                st.caption(escape_markdown(locked[env.id]))
            st.metric("App instances", env.instance_count)
            slots[env.id] = st.empty()
            st.caption(escape_markdown(env.description) if env.description else "No description.")
    return slots


# ---- site status -----------------------------------------------------------------------------------------------

_TOKEN_BADGE = {
    "ok": ("green", ":material/key:"),
    "never": ("gray", ":material/all_inclusive:"),
    "unknown": ("gray", ":material/help:"),
    "warning": ("orange", ":material/schedule:"),
    "expired": ("red", ":material/key_off:"),
}


_HEALTH_BADGE: dict[SiteHealth, tuple[str, str]] = {
    "deactivated": ("gray", ":material/pause_circle:"),
    "unreachable": ("red", ":material/error:"),
    "not tested": ("gray", ":material/help:"),
    "connected": ("green", ":material/check_circle:"),
}


def health(site: SiteRow) -> tuple[str, str, str]:
    """(label, colour, icon) of a site's health: the core's rule, drawn as a badge."""
    label = site_health(site)
    return (label, *_HEALTH_BADGE[label])


def health_badge(site: SiteRow) -> None:
    """A badge for the site's health."""
    label, color, icon = health(site)
    st.badge(label, color=color, icon=icon)  # type: ignore[arg-type]


def token_badge(site: SiteRow) -> None:
    """A badge for the token's expiry: orange from TOKEN_WARNING_DAYS before, red once expired."""
    state = token_state(site.token_expires_at, now(), tested=site.tested, tz=user_zone())
    color, icon = _TOKEN_BADGE[state.level]
    st.badge(f"token {state.text}", color=color, icon=icon)  # type: ignore[arg-type]


def tls_badge(site: SiteRow) -> None:
    """How the site's TLS certificate is checked."""
    if site.insecure:
        st.badge("TLS not verified", color="orange", icon=":material/lock_open:")
    elif site.url.startswith("http://"):
        st.badge("plain HTTP", color="orange", icon=":material/lock_open:")
    else:
        st.badge(f"TLS: {site.tls}", color="gray", icon=":material/lock:")


def empty_state(message: str, icon: str = ":material/info:") -> None:
    """A calm 'nothing here yet' note, shown as written."""
    st.info(escape_markdown(message), icon=icon)
