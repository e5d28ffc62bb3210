"""Parameter values of flow steps and app forms: literals or JMESPath expressions (F1).

A string that starts with ``=`` is a JMESPath expression (the rest of the string); a
string that starts with ``==`` is the literal text after the first ``=``. Every other
value is a literal. Expressions may sit anywhere inside a value (an object or array
body), and are evaluated over

- flows: ``{"trigger": {"inputs": …, "time": …}, "steps": {"<name>": {"status", "headers", "body"}}}``
- app forms: ``{"inputs": …}``

Expressions are compiled when the file is created, so a syntax error or a reference to
an unknown input or a later step is reported then, with where it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jmespath
from jmespath import exceptions as jmespath_errors

PREFIX = "="


@dataclass(frozen=True)
class Problem:
    location: str
    message: str


def expression_of(value: Any) -> str | None:
    """The expression text of ``value``, or None for a literal."""
    if isinstance(value, str) and value.startswith(PREFIX) and not value.startswith(PREFIX * 2):
        return value[len(PREFIX):]
    return None


def _walk(value: Any, location: str) -> Iterator[tuple[str, str]]:
    """(location, expression) for every expression inside ``value``."""
    expression = expression_of(value)
    if expression is not None:
        yield location, expression
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{location}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{location}[{index}]")


# Node types whose every child is evaluated against the current value (the root, at the
# top of an expression). Projections, filters and pipes evaluate only their first child
# against it; the rest runs on each element or on the left side's result.
_SAME_CONTEXT = {"function_expression", "or_expression", "and_expression", "not_expression", "comparator",
                 "multi_select_list", "multi_select_dict", "key_val_pair"}
_LEFT_ONLY = {"projection", "value_projection", "filter_projection", "flatten", "pipe", "index_expression"}


def _root_paths(node: dict) -> Iterator[list[str]]:
    """The leading field names of every path read from the root of the context
    (``steps.get.body[0]`` → ``["steps", "get", "body"]``), to check what it refers to."""
    kind = node.get("type")
    children = [c for c in node.get("children", []) if isinstance(c, dict)]
    if kind == "field":
        yield [node["value"]]
    elif kind == "subexpression":
        names: list[str] = []
        for position, child in enumerate(children):
            if child.get("type") == "field":
                names.append(child["value"])
                continue
            if position == 0:
                yield from _root_paths(child)
                return
            # steps.get[0]: the first child of the index expression continues the path.
            lead = next(iter(_root_paths(child)), None)
            if lead:
                names.append(lead[0])
            break
        if names:
            yield names
    elif kind in _SAME_CONTEXT:
        for child in children:
            yield from _root_paths(child)
    elif kind in _LEFT_ONLY and children:
        yield from _root_paths(children[0])


def check(
    value: Any,
    location: str,
    *,
    roots: dict[str, set[str] | None],
) -> list[Problem]:
    """Compile every expression in ``value``. ``roots`` names what an expression may
    start from and, per root, the names allowed under it (None: anything), e.g.
    ``{"trigger": None, "steps": {"get"}}``; a path under ``trigger.inputs`` is checked
    against ``roots["trigger.inputs"]`` when given."""
    problems: list[Problem] = []
    for where, expression in _walk(value, location):
        if not expression.strip():
            problems.append(Problem(where, "The expression after '=' is empty; write '==' for a literal text that starts with '='."))
            continue
        try:
            parsed = jmespath.compile(expression).parsed
        except jmespath_errors.JMESPathError as error:
            problems.append(Problem(where, f"The expression '{expression}' is not valid JMESPath: {_short(error)}"))
            continue
        for path in _root_paths(parsed):
            problem = _check_path(path, roots)
            if problem:
                problems.append(Problem(where, f"The expression '{expression}' {problem}"))
    return problems


def _check_path(path: list[str], roots: dict[str, set[str] | None]) -> str | None:
    top = path[0]
    if top not in roots:
        allowed = ", ".join(sorted(r for r in roots if "." not in r))
        return f"starts from '{top}'; it can start from {allowed}."
    allowed = roots[top]
    if allowed is not None and len(path) > 1 and path[1] not in allowed:
        listed = ", ".join(sorted(allowed)) or "none"
        return f"refers to {top}.{path[1]}, which is not an earlier step ({listed})." if top == "steps" else (
            f"refers to {top}.{path[1]}, which is unknown ({listed})."
        )
    inputs = roots.get(f"{top}.inputs") if len(path) > 2 and path[1] == "inputs" else None
    if inputs is not None and path[2] not in inputs:
        listed = ", ".join(sorted(inputs)) or "none"
        return f"refers to input '{path[2]}', which the trigger does not declare ({listed})."
    return None


def referenced(value: Any, root: str) -> set[str]:
    """The names read under ``root`` by the expressions in ``value``
    (``"=inputs.city"`` → ``{"city"}`` for root ``inputs``)."""
    names: set[str] = set()
    for _, expression in _walk(value, ""):
        try:
            parsed = jmespath.compile(expression).parsed
        except jmespath_errors.JMESPathError:
            continue
        names |= {path[1] for path in _root_paths(parsed) if path[0] == root and len(path) > 1}
    return names


def _short(error: Exception) -> str:
    return " ".join(str(error).split())[:300]


class ExpressionFailed(Exception):
    def __init__(self, location: str, expression: str, reason: str) -> None:
        super().__init__(f"{location}: the expression '{expression}' failed: {reason}")
        self.location = location


def evaluate(value: Any, context: dict[str, Any], location: str = "") -> Any:
    """``value`` with every expression replaced by its result over ``context`` and every
    ``==`` escape by its literal text."""
    expression = expression_of(value)
    if expression is not None:
        try:
            return jmespath.search(expression, context)
        except jmespath_errors.JMESPathError as error:
            raise ExpressionFailed(location, expression, _short(error)) from None
    if isinstance(value, str) and value.startswith(PREFIX * 2):
        return value[len(PREFIX):]
    if isinstance(value, dict):
        return {key: evaluate(item, context, f"{location}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [evaluate(item, context, f"{location}[{index}]") for index, item in enumerate(value)]
    return value


# For other checks of a file's expressions (trigger_content's warnings).
walk = _walk
root_paths = _root_paths
