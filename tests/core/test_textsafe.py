"""Untrusted text made inert: the Markdown, code-span and Plotly rules, with properties over arbitrary text."""

from __future__ import annotations

import html
import re

from hypothesis import assume, given
from hypothesis import strategies as st

from ranchersync.kernel.textsafe import (
    MARKDOWN_SPECIALS,
    WORD_JOINER,
    escape_markdown,
    escape_plotly,
    markdown_cell,
    markdown_code,
    printable,
)

HOSTILE = "![x](http://127.0.0.1:9/pixel) [re-enter token](http://h/login) :red[pwned] $x$ <img src=x> a@b.co www.x.io"


def unescape_markdown(markdown: str) -> str:
    """What CommonMark shows for escaped text: each backslash escape gives its character; the joiners are invisible."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace(WORD_JOINER, "")


@given(st.text())
def test_escaped_markdown_shows_the_printable_input_as_one_line(text: str) -> None:
    expected = printable(text)
    for c in "\r\n\t\u2028\u2029":
        expected = expected.replace(c, " ")
    assert unescape_markdown(escape_markdown(text)) == expected


@given(st.text())
def test_escaped_markdown_has_no_bare_punctuation_and_no_bare_link(text: str) -> None:
    escaped = escape_markdown(text)
    bare = re.sub(r"\\[!-/:-@\[-`{-~]", "", escaped)  # drop every escape: what is left must be plain
    assert not set(bare) & set(MARKDOWN_SPECIALS)
    assert not re.match(r"[-+=]|\d+[.)]", escaped)  # no list or heading marker starts it
    assert not re.search(r"(?i)(https?)\\:|www\.|\w@", escaped)  # bare-URL links need these contiguous
    assert "\n" not in escaped and "\r" not in escaped


def test_the_hostile_string_keeps_no_construct() -> None:
    escaped = escape_markdown(HOSTILE)
    assert "\\!\\[x\\]\\(" in escaped and "\\:red\\[" in escaped and "\\<img" in escaped and "\\$x\\$" in escaped
    assert f"http{WORD_JOINER}\\://127" in escaped and f"a{WORD_JOINER}@b" in escaped
    assert f"www{WORD_JOINER}.x" in escaped


def test_a_sentence_keeps_its_punctuation_and_a_line_start_loses_its_marker() -> None:
    assert escape_markdown("Environment 'Stage' added, tag 1.2-rc; ok?") == "Environment 'Stage' added, tag 1.2-rc; ok?"
    assert [escape_markdown(t) for t in ("1. one", "2) two", "- item", "+ item", "=== h")] == [
        "1\\. one", "2\\) two", "\\- item", "\\+ item", "\\=== h"]


@given(st.text())
def test_printable_drops_controls_and_bidi_overrides(text: str) -> None:
    assert not any(c in "\x1b\x07\u202e\u200b\ufeff" for c in printable(text))


@given(st.text())
def test_a_code_span_holds_any_text(text: str) -> None:
    value = printable(text)
    for c in "\r\n\t\u2028\u2029":
        value = value.replace(c, " ")
    assume(value.strip())  # an image or a name is never blank
    span = markdown_code(text)
    fence = re.match(r"`+", span)
    assert fence is not None
    inner = span[len(fence.group()):-len(fence.group())]
    assert span.endswith(fence.group()) and fence.group() not in inner  # no backtick run inside closes it early
    # CommonMark strips one space each side only when both are there (and it is not all spaces).
    shown = inner[1:-1] if inner.startswith(" ") and inner.endswith(" ") and inner.strip() else inner
    assert shown == value


def test_a_code_span_in_a_table_cell_survives_backticks_and_pipes() -> None:
    cell = markdown_cell(markdown_code("reg.io/a:`x`|![x](http://h/p)"))
    assert cell == "``reg.io/a:`x`\\|![x](http://h/p)``"
    assert "|" not in cell.replace("\\|", "")


@given(st.text())
def test_plotly_text_has_no_tag_entity_or_template(text: str) -> None:
    escaped = escape_plotly(text)
    assert not set(escaped) & set("<>\"'%\n")
    assert "&" not in re.sub(r"&#\d+;", "", escaped)
    assert html.unescape(escaped) == printable(text).translate(str.maketrans("\r\n\t\u2028\u2029", "     "))


def test_plotly_text_keeps_links_and_breaks_as_text() -> None:
    assert escape_plotly("<a href='http://h'>x</a><br>%{y}") == (
        "&#60;a href=&#39;http://h&#39;&#62;x&#60;/a&#62;&#60;br&#62;&#37;{y}")
