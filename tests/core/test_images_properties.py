"""Image references, by property: what parses formats back to itself, and no text raises anything but ours."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ranchersync.kernel.errors import ValidationError
from ranchersync.kernel.images import ImageRef, parse_image, retag

_ALNUM = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6)
_SEPARATOR = st.sampled_from([".", "_", "__", "-", "--"])
_COMPONENT = st.builds(lambda first, rest: first + "".join(s + a for s, a in rest), _ALNUM,
                       st.lists(st.tuples(_SEPARATOR, _ALNUM), max_size=2))
_PATH = st.lists(_COMPONENT, min_size=1, max_size=3).map("/".join)
_LABEL = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?", fullmatch=True)
_HOST = st.one_of(
    st.just("localhost"),
    st.lists(_LABEL, min_size=2, max_size=3).map(".".join),
    st.just("[::1]"),
)
_DOMAIN = st.one_of(st.none(), st.builds(lambda h, p: h + (f":{p}" if p is not None else ""), _HOST,
                                         st.one_of(st.none(), st.integers(1, 65535))))
_TAG = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
_DIGEST = st.sampled_from([("sha256", 64), ("sha384", 96), ("sha512", 128)]).flatmap(
    lambda a: st.text("0123456789abcdef", min_size=a[1], max_size=a[1]).map(lambda h: f"{a[0]}:{h}"))


@st.composite
def references(draw: st.DrawFn) -> str:
    """A valid reference text, built from the grammar's parts."""
    domain, path = draw(_DOMAIN), draw(_PATH)
    tag, digest = draw(st.one_of(st.none(), _TAG)), draw(st.one_of(st.none(), _DIGEST))
    text = f"{domain}/{path}" if domain else path
    first = path.split("/")[0]
    if domain is None and "/" in path and ("." in first or first == "localhost"):
        text = f"library/{path}"  # the first component would read as a registry
    if len(text) == 64 and all(c in "0123456789abcdef" for c in text):
        text = "x" + text
    return text + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


@given(references())
def test_parse_format_parse_is_the_identity(text: str) -> None:
    ref = parse_image(text)
    assert str(ref) == text
    again = parse_image(str(ref))
    assert again == ref
    assert isinstance(again, ImageRef) and again.same_image_as(ref)


@given(references(), _TAG)
def test_a_new_tag_keeps_the_name(text: str, tag: str) -> None:
    ref = parse_image(text)
    moved = ref.with_tag(tag)
    assert (moved.domain, moved.path, moved.tag, moved.digest) == (ref.domain, ref.path, tag, None)


@given(st.text())
def test_any_text_parses_or_raises_our_validation_error(text: str) -> None:
    try:
        parse_image(text)
    except ValidationError as error:
        assert str(error)


@given(st.text(), st.text(), st.sampled_from(["full", "tag", "other"]))
def test_retag_raises_only_our_validation_error(target: str, source: str, mode: str) -> None:
    try:
        retag(target, source, mode)  # type: ignore[arg-type]
    except ValidationError:
        pass
