"""Text from servers we do not control (Rancher's messages, display names, image references) made inert.

Three destinations, three rules: Markdown (Streamlit renders labels, captions, toasts and `st.markdown` as Markdown with
its own extensions — `:red[…]` colours, `:emoji:`, `$math$`, bare-URL links), Plotly's pseudo-HTML (legend, hover and
tick text understand `<a href>`, `<br>`, entities, and hover templates `%{…}`), and a terminal (escape sequences,
carriage returns and bidi overrides can repaint or reorder what a user reads).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

# CommonMark lets a backslash escape any ASCII punctuation, and an escaped character never starts a construct. Only
# the characters that can open or close one are escaped — links and images `[]()!`, HTML and autolinks `<>`, emphasis
# `*_~`, code `` ` ``, headings `#`, tables `|`, entities `&`, math `$`, Streamlit's `:red[…]`, `:emoji:` and
# `:material/…:` (`:`), attribute braces `{}` and the backslash itself — so a sentence keeps its commas, dashes and
# quotes as written (in a copied ticket, in a test). A line start adds the list and heading markers `-+=` and `1.`.
MARKDOWN_SPECIALS: Final = "\\`*_[]()<>!#|:$~&{}"
_MARKDOWN_ESCAPES: Final = {ord(c): "\\" + c for c in MARKDOWN_SPECIALS}
_LINE_START: Final = re.compile(r"^([-+=]|\d+(?=[.)]))")
_LINE_BREAKS: Final = str.maketrans({"\r": " ", "\n": " ", "\t": " ", "\u2028": " ", "\u2029": " "})
# GFM's bare-URL links ("autolink literals") are found in the text *after* parsing, when backslashes are gone
# (checked in Chromium: `http\:\/\/x.y` still became a link). An invisible word joiner where their patterns need
# `http://`, `https://`, `www.` or `local@domain` to be contiguous stops them; nothing else changes on screen.
WORD_JOINER: Final = "\u2060"
_AUTOLINK_STARTS: Final = re.compile(r"(https?(?=://)|www(?=\.))", re.IGNORECASE)
# Plotly decodes numeric entities in every text it draws, and reads `%{…}` in hover templates.
_PLOTLY_ESCAPES: Final = {ord(c): f"&#{ord(c)};" for c in "&<>\"'%"}


def escape_markdown(text: object) -> str:
    """`text` as one line of Markdown that renders exactly as written: no link, image, HTML, colour or emoji."""
    line = printable(str(text)).translate(_LINE_BREAKS)
    line = _AUTOLINK_STARTS.sub(r"\1" + WORD_JOINER, line).replace("@", WORD_JOINER + "@")
    line = line.translate(_MARKDOWN_ESCAPES)
    # A list or heading marker at the start: escape it (for "1." the dot, which is what makes the list).
    match = _LINE_START.match(line)
    if match is None:
        return line
    if match.group(1).isdecimal():
        return f"{match.group(1)}\\{line[match.end():]}"
    return f"\\{line}"


def escape_plotly(text: object) -> str:
    """`text` for a Plotly name, tick, hover or legend text (and safe inside a hover template): drawn as written."""
    return printable(str(text)).translate(_LINE_BREAKS).translate(_PLOTLY_ESCAPES)


def markdown_code(text: object) -> str:
    """Non-blank `text` as a Markdown code span for a document (a ticket), whatever backticks it holds: the fence is
    longer than any run of backticks inside, and padded so a leading or trailing backtick or space stays content."""
    value = printable(str(text)).translate(_LINE_BREAKS)
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.strip() and (value.startswith(("`", " ")) or value.endswith(("`", " "))) else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def markdown_cell(markdown: str) -> str:
    """Markdown made safe for a GFM table cell: `|` splits cells even inside a code span unless written `\\|`."""
    return markdown.replace("|", "\\|")


def printable(text: object) -> str:
    """`text` without control, format (bidi overrides, zero-width) or unassigned characters; newlines and tabs kept."""
    return "".join(c for c in str(text) if c in "\n\t" or unicodedata.category(c)[0] != "C")
