"""The person's theme (Settings), applied on every page (issue 20, item 5).

Streamlit keeps the light/dark choice in the browser, per page address (`localStorage["stActiveTheme-<path>-v2"]`),
and reads it once, when a page is first loaded: a dark theme chosen on one page opened the next deep link light. The
frame puts the stored choice under every page's address at once, so a cold deep link to any page opens in it; when
the page in front does not show it yet (the first page of a new browser, or the choice just saved), the page
reloads once. An empty choice leaves the browser's own switch alone (after taking back what a choice stored).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

import streamlit as st

_NAMES = {"light": "Light", "dark": "Dark"}  # what Streamlit's frontend stores


def url_name(script: str) -> str:
    """The last part of a page's address: `pages/5_Sync_history.py` → `Sync_history`; the entrypoint's is ''."""
    if "/" not in script:
        return ""
    return re.sub(r"^\d+_", "", script.rsplit("/", 1)[-1].removesuffix(".py"))


def script(theme: str, pages: Iterable[str]) -> str:
    """The browser-side code that stores `theme` for every page; for "" (the browser's own choice), the code that
    takes back what an earlier choice stored, if it did."""
    wanted = _NAMES.get(theme)
    names = sorted({url_name(p) for p in pages} - {""})
    return f"""<script>
(() => {{
  const wanted = {json.dumps(json.dumps(wanted) if wanted else None)}, names = {json.dumps(names)};
  const flag = "rsm-theme-reload", marker = "rsm-theme";
  const key = (path) => `stActiveTheme-${{path}}-v2`;
  try {{
    let base = window.location.pathname.replace(/\\/+$/, "");
    const last = base.split("/").pop();
    if (names.includes(last)) base = base.slice(0, -last.length - 1);
    const paths = [base + "/", base, ...names.map((n) => `${{base}}/${{n}}`)].filter((p) => p);
    const shown = window.localStorage.getItem(key(window.location.pathname));
    const reload = (why) => {{
      if (window.sessionStorage.getItem(flag) !== why) {{  // at most one reload per choice, whatever happens
        window.sessionStorage.setItem(flag, why);
        window.location.reload();
      }}
    }};
    if (wanted === null) {{  // the browser's: undo what a choice stored, and only that
      if (window.localStorage.getItem(marker) === null) return;
      for (const path of paths) window.localStorage.removeItem(key(path));
      window.localStorage.removeItem(marker);
      reload("browser");
      return;
    }}
    for (const path of paths) window.localStorage.setItem(key(path), wanted);
    window.localStorage.setItem(marker, wanted);
    if (shown === wanted) window.sessionStorage.removeItem(flag);
    else reload(wanted);
  }} catch (e) {{ /* no storage (a locked-down browser): the browser's own theme */ }}
}})();
</script>"""


def apply(theme: str, pages: Iterable[str]) -> None:
    """Apply the person's theme on this page (drawn in the sidebar: an element that takes no room)."""
    with st.container(key=f"theme_{theme or 'browser'}", height=1, border=False):
        st.html(script(theme, pages), unsafe_allow_javascript=True)
