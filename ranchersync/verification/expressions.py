"""A gate's success expression: a tiny, safe language over `result`, the values one Prometheus query returned.

`result < 0.05`, `len(result) >= 3 and result > 0`, `not (result > 1.5)`, `0 <= result <= 1`. The text is parsed
with Python's `ast` and every node must be one of an allow-list (comparisons, `and`/`or`/`not`, `len(result)`,
numbers, `result`); it is never handed to `eval`. A comparison with `result` holds when it holds for every value the
query returned (a vector of several series: each of them), so `result < 0.05` means "no series at 5 % or above".
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from ranchersync.kernel.errors import ValidationError

MAX_LENGTH: Final = 500  # characters: room for any sensible condition, and a bound on the parser's work
MAX_NODES: Final = 100

_COMPARE: Final[dict[type[ast.cmpop], Callable[[float, float], bool]]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne,
}
_HINT: Final = ("Write a condition on `result`, e.g. `result < 0.05`, `len(result) > 0 and result < 300`: "
                "comparisons, and/or/not, len(result), numbers.")

Number = int | float


@dataclass(frozen=True)
class SuccessExpression:
    """A checked success expression; `holds(values)` evaluates it on one measurement."""

    text: str
    _tree: ast.expr

    def holds(self, values: Sequence[float]) -> bool:
        """Whether the measurement passes: `values` is what the query returned (one number per series)."""
        return bool(_truth(self._tree, tuple(values)))


def parse_success(text: str) -> SuccessExpression:
    """Check a success expression and keep its tree; any other text raises ValidationError (never anything else)."""
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("The success expression is empty.", hint=_HINT)
    if len(text) > MAX_LENGTH:
        raise ValidationError(f"The success expression is longer than {MAX_LENGTH} characters.", hint=_HINT)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError) as exc:
        raise ValidationError(f"The success expression is not valid: {type(exc).__name__}.", hint=_HINT) from None
    nodes = 0
    try:
        for _node in ast.walk(tree):
            nodes += 1
            if nodes > MAX_NODES:
                raise ValidationError(f"The success expression has more than {MAX_NODES} parts.", hint=_HINT)
        _check_condition(tree.body)
    except RecursionError:
        raise ValidationError("The success expression is nested too deeply.", hint=_HINT) from None
    return SuccessExpression(text.strip(), tree.body)


def _refuse(node: ast.AST, what: str) -> ValidationError:
    shown = type(node).__name__
    return ValidationError(f"The success expression uses {what} ({shown}), which is not allowed.", hint=_HINT)


def _check_condition(node: ast.expr) -> None:
    """A condition: a comparison, `and`/`or` of conditions, `not` a condition."""
    if isinstance(node, ast.BoolOp) and isinstance(node.op, (ast.And, ast.Or)):
        for value in node.values:
            _check_condition(value)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        _check_condition(node.operand)
    elif isinstance(node, ast.Compare):
        if not all(type(op) in _COMPARE for op in node.ops):
            raise _refuse(node, "a comparison other than <, <=, >, >=, ==, !=")
        for operand in (node.left, *node.comparators):
            _check_operand(operand)
    else:
        raise _refuse(node, "something that is not a condition")


def _check_operand(node: ast.expr) -> None:
    """An operand: `result`, `len(result)`, or a number (with a sign)."""
    if isinstance(node, ast.Name) and node.id == "result" and isinstance(node.ctx, ast.Load):
        return
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len"
            and len(node.args) == 1 and not node.keywords and isinstance(node.args[0], ast.Name)
            and node.args[0].id == "result"):
        return
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        _check_operand_number(node.operand)
        return
    _check_operand_number(node)


def _check_operand_number(node: ast.expr) -> None:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return
    if isinstance(node, ast.Name):
        raise ValidationError(f"The success expression names {node.id!r}: only `result` is known.", hint=_HINT)
    raise _refuse(node, "a value other than result, len(result) or a number")


def _truth(node: ast.expr, values: tuple[float, ...]) -> bool:
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            return all(_truth(v, values) for v in node.values)
        return any(_truth(v, values) for v in node.values)
    if isinstance(node, ast.UnaryOp):  # `not`: the only unary operator a condition may have
        return not _truth(node.operand, values)
    assert isinstance(node, ast.Compare)
    left = _operand(node.left, values)
    for op, right_node in zip(node.ops, node.comparators, strict=True):
        right = _operand(right_node, values)
        compare = _COMPARE[type(op)]
        if not all(_compare(compare, a, b) for a in left for b in right):
            return False
        left = right
    return True


def _compare(compare: Callable[[float, float], bool], a: Number, b: Number) -> bool:
    if (isinstance(a, float) and math.isnan(a)) or (isinstance(b, float) and math.isnan(b)):
        return False  # a NaN measurement passes nothing (not even `!=`): it is no evidence of health
    return compare(a, b)


def _operand(node: ast.expr, values: tuple[float, ...]) -> tuple[Number, ...]:
    """An operand's values: every value of `result`, or the one number."""
    if isinstance(node, ast.Name):
        return values
    if isinstance(node, ast.Call):
        return (len(values),)
    if isinstance(node, ast.UnaryOp):
        (inner,) = _operand(node.operand, values)
        return (-inner,) if isinstance(node.op, ast.USub) else (inner,)
    assert isinstance(node, ast.Constant) and isinstance(node.value, (int, float))
    return (node.value,)
