"""Check keyword options against the type hints of the callable that will take them.

A sampler option of the wrong type (``n_startup_trials = "ten"`` in a config,
``region_weight=high`` on the command line) would otherwise fail late and
obscurely (``'<' not supported ...`` at construction, or only inside a proposal
after a network has trained). Checking the value against the constructor's
annotation when the config is read gives one line naming the option, the type
expected and the value given.

Annotations are read as written (strings under ``from __future__ import
annotations``) and evaluated in their module; a part that cannot be evaluated
(a name imported only for type checkers) accepts any value, so the check never
refuses what the callable itself would take.

>>> def f(*, n: int = 1, mode: "Literal['a', 'b']" = "a") -> None: ...
>>> option_type_error(f, "n", "ten")
"n expects an integer, got 'ten' (a string)"
>>> option_type_error(f, "mode", "c")
"mode expects one of 'a', 'b', got 'c' (a string)"
>>> option_type_error(f, "n", 3) is None
True
"""

from __future__ import annotations

import collections.abc
import inspect
import sys
import types
import typing
from typing import Any

#: Accept: the annotation could not be read, or says nothing checkable.
_ANY = object()

_NAMES = {"an integer": int, "a number": float, "true or false": bool, "a string": str}


def value_text(value: Any) -> str:
    """``'ten' (a string)``: the value and its type in a config's words."""
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "a table", type(None): "null"}.get(type(value))  # fmt: skip
    return f"{value!r} ({kind or type(value).__name__})"


def _namespace(func: Any) -> dict[str, Any]:
    target = func.__init__ if isinstance(func, type) else func
    module = sys.modules.get(getattr(target, "__module__", None) or "")
    names: dict[str, Any] = {name: getattr(typing, name) for name in typing.__all__}
    names.update({name: getattr(collections.abc, name) for name in collections.abc.__all__})
    names.update(vars(module) if module is not None else {})
    return names


def _split_union(text: str) -> list[str]:
    """``"int | Callable[[a], b] | None"`` -> its top-level members."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def _evaluate(annotation: Any, namespace: dict[str, Any]) -> list[Any]:
    """The members of an annotation (a union gives several); unreadable ones are ``_ANY``."""
    if not isinstance(annotation, str):
        return _members(annotation)
    out: list[Any] = []
    for part in _split_union(annotation):
        try:
            hint = eval(part, namespace)  # noqa: S307 - the callable's own annotation
            out.extend(_evaluate(hint, namespace) if isinstance(hint, str) else _members(hint))
        except Exception:
            out.append(_ANY)
    return out


def _members(hint: Any) -> list[Any]:
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        return [m for arg in typing.get_args(hint) for m in _members(arg)]
    return [hint]


def _accepts(hint: Any, value: Any) -> bool:
    if hint is _ANY or hint is Any or hint is inspect.Parameter.empty:
        return True
    if hint is None or hint is type(None):
        return value is None
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return any(value == arg and type(value) is type(arg) for arg in typing.get_args(hint))
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if origin is not None:
        hint = origin
    if hint is collections.abc.Callable:
        return callable(value)
    if isinstance(hint, type):
        try:
            return isinstance(value, hint)
        except TypeError:  # a protocol or generic that cannot be checked
            return True
    return True


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    for words, kind in _NAMES.items():
        if hint is kind:
            return words
    origin = typing.get_origin(hint) or hint
    if origin is collections.abc.Callable:
        return "a function"
    if origin in (list, tuple, collections.abc.Sequence):
        return "an array"
    if origin in (dict, collections.abc.Mapping):
        return "a table"
    return getattr(origin, "__name__", str(origin))


def option_type_error(func: Any, name: str, value: Any) -> str | None:
    """Why ``func(name=value)`` has the wrong type, in one line; None when it fits (or
    ``func`` has no such parameter or no readable annotation for it)."""
    target = func.__init__ if isinstance(func, type) else func
    try:
        parameter = inspect.signature(target).parameters.get(name)
    except (TypeError, ValueError):
        return None
    if parameter is None:
        return None
    hints = _evaluate(parameter.annotation, _namespace(func))
    if any(_accepts(hint, value) for hint in hints):
        return None
    expected = [_describe(h) for h in hints if h is not None and h is not type(None)]
    return f"{name} expects {' or '.join(dict.fromkeys(expected))}, got {value_text(value)}"


__all__ = ["option_type_error", "value_text"]
