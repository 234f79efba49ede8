"""A screen's view state in its address (issue 20, item 5: state you can share): a widget bound to a query
parameter starts from the address when a link names it, and writes its value back when changed, so the address
bar always holds a link that reopens the same view.

Bind before drawing the widget (`bind`), publish after (`publish`). A parameter's value the page itself wrote is
not read back as a new link: only an address that differs from what this session last wrote (a deep link, a pasted
address, the browser's back button) moves the widget. A parameter at its default is left out of the address.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

_WRITTEN = "url_state_written"  # {param: the values this session last wrote to the address}


def bind(key: str, param: str, parse: Callable[[list[str]], Any], default: Any) -> bool:
    """Before the widget `key` is drawn: take the value of `param` from the address when a link brought a new one
    (`parse` gets the parameter's values, repeated or not, and returns None for what it cannot use: the widget then
    keeps its own), else keep the widget's value, else `default` (None: the widget's first option). Draw the
    widget without a default of its own: its value is in the session state. True when the value came from the
    address."""
    written: dict[str, list[str] | None] = st.session_state.setdefault(_WRITTEN, {})
    raw = st.query_params.get_all(param)
    if raw and raw != written.get(param):
        value = parse(raw)
        if value is not None:
            st.session_state[key] = value
            written[param] = raw
            return True
    if key not in st.session_state and default is not None:  # a selectbox shows a None value as its placeholder
        st.session_state[key] = default
    return False


def publish(param: str, values: str | list[str] | None) -> None:
    """After the widget is drawn: its value in the address (several values repeat the parameter), or no parameter
    (None or []: the default)."""
    written: dict[str, list[str] | None] = st.session_state.setdefault(_WRITTEN, {})
    wanted = [values] if isinstance(values, str) else list(values or [])
    if not wanted:
        if param in st.query_params:
            del st.query_params[param]
    elif st.query_params.get_all(param) != wanted:
        st.query_params[param] = wanted
    written[param] = wanted or None


def text(values: list[str]) -> str:
    """A free-text parameter (a search): its last value."""
    return values[-1]


def one_of(choices: dict[str, Any]) -> Callable[[list[str]], Any]:
    """A parser of one value among `choices` (by the text that stands for it in the address; None: none of them)."""
    return lambda values: choices.get(values[-1])


def some_of(choices: dict[str, Any]) -> Callable[[list[str]], Any]:
    """A parser of several values among `choices`, in the address's order, unknown ones left out (None: none)."""
    return lambda values: [choices[v] for v in values if v in choices] or None
