"""Text from servers we do not control (Rancher's messages, display names, image references) made inert.

Two destinations, two rules: Markdown (Streamlit renders labels, captions, toasts and `st.markdown` as Markdown with
its own extensions — `:red[…]` colours, `:emoji:`, `$math$`, bare-URL links) and a terminal (escape sequences, carriage
returns and bidi overrides can repaint or reorder what a user reads).
"""

from __future__ import annotations

import string
import unicodedata
from typing import Final

# CommonMark lets a backslash escape any ASCII punctuation, and an escaped character never starts a construct:
# escaping all of them covers links, images, HTML, emphasis, code, tables, headings, math, Streamlit's directives
# and the autolinks of bare URLs (`http\:\/\/…`, `www\.…`, `a\@b`) in one rule, with no list to keep up to date.
_MARKDOWN_ESCAPES: Final = {ord(c): "\\" + c for c in string.punctuation}
_LINE_BREAKS: Final = str.maketrans({"\r": " ", "\n": " ", "\t": " ", "\u2028": " ", "\u2029": " "})


def escape_markdown(text: object) -> str:
    """`text` as one line of Markdown that renders exactly as written: no link, image, HTML, colour or emoji."""
    return printable(str(text)).translate(_LINE_BREAKS).translate(_MARKDOWN_ESCAPES)


def printable(text: object) -> str:
    """`text` without control, format (bidi overrides, zero-width) or unassigned characters; newlines and tabs kept."""
    return "".join(c for c in str(text) if c in "\n\t" or unicodedata.category(c)[0] != "C")
