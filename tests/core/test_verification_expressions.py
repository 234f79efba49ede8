"""The success expression language: what a gate's author writes, what it means, and that nothing else gets in."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ranchersync.kernel.errors import ValidationError
from ranchersync.verification.expressions import MAX_LENGTH, parse_success


@pytest.mark.parametrize(("text", "values", "expected"), [
    ("result < 0.05", [0.0], True),
    ("result < 0.05", [0.2], False),
    ("result < 0.05", [0.01, 0.2], False),  # every series must pass
    ("result < 0.05", [0.01, 0.03], True),
    ("result <= 300 and len(result) >= 2", [120, 300], True),
    ("result <= 300 and len(result) >= 2", [120], False),
    ("len(result) == 1 or result > 10", [11, 12], True),
    ("not (result > 1.5)", [1.0], True),
    ("not result > 1.5", [2.0], False),
    ("0 <= result < 1", [0.5], True),
    ("0 <= result < 1", [1.0], False),
    ("result > -1", [-0.5], True),
    ("result != 0", [1.0], True),
    ("result == 0", [0], True),
    ("result < 1e3", [999.0], True),
    ("result < 0.05", [math.nan], False),  # NaN is no evidence of health
    ("result != 0", [math.nan], False),
    ("result > 0", [math.inf], True),
])
def test_what_an_expression_means(text: str, values: list[float], expected: bool) -> None:
    assert parse_success(text).holds(values) is expected


@pytest.mark.parametrize("text", [
    "", "   ", "result", "1", "len(result)", "result + 1 < 2", "__import__('os').system('x') == 0",
    "open('/etc/passwd') == 1", "result.real < 1", "result[0] < 1", "x < 1", "len(x) < 1", "len(result, 1) < 2",
    "len(result=1) < 2", "result < 'a'", "result < True", "result in [1]", "result is 1", "lambda: 1",
    "(result < 1) < 2", "result < 1 if 1 else 2", "[result < 1]", "result < 1; 1", "result < 1j",
    "abs(result) < 1", "result < -x", "not 1", "result < (1)", "a = 1", "result < 0.05 #",
])
def test_anything_else_is_refused_with_a_clear_message(text: str) -> None:
    if text == "result < (1)":  # parentheses around a number are only grouping: allowed
        assert parse_success(text).holds([0.5])
        return
    if text == "result < 0.05 #":  # a comment is nothing
        assert parse_success(text).holds([0.01])
        return
    with pytest.raises(ValidationError) as caught:
        parse_success(text)
    assert caught.value.hint and "result" in caught.value.hint


def test_length_and_nesting_are_bounded() -> None:
    with pytest.raises(ValidationError, match="longer than"):
        parse_success("result < 1 and " * 40 + "result < 2")
    with pytest.raises(ValidationError):
        parse_success("not " * 120 + "result < 1")
    with pytest.raises(ValidationError, match="parts"):
        parse_success("not (" * 60 + "result < 1" + ")" * 60)
    assert parse_success("(" * 200 + "result < 1" + ")" * 200).holds([0.5])  # grouping alone costs nothing
    with pytest.raises(ValidationError):
        parse_success("(" * (MAX_LENGTH - 1))


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=120))
def test_any_text_raises_only_validation_error(text: str) -> None:
    try:
        expression = parse_success(text)
    except ValidationError:
        return
    assert isinstance(expression.holds([0.5, 2.0]), bool)


_ATOMS = st.sampled_from(["result", "len(result)", "0", "1.5", "-2", "1e3", "(", ")", "<", "<=", ">", "==", "!=",
                          "and", "or", "not", " ", "x", "+", ",", "len", "[", "]", ".", "'a'", "__class__"])


@settings(max_examples=400, deadline=None)
@given(st.lists(_ATOMS, max_size=25).map(" ".join), st.lists(st.floats(allow_nan=True), max_size=4))
def test_near_miss_texts_raise_only_validation_error_and_evaluate_to_a_bool(text: str, values: list[float]) -> None:
    try:
        expression = parse_success(text)
    except ValidationError:
        return
    assert isinstance(expression.holds(values), bool)
