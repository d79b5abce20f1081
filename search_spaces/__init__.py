"""Ready search spaces: each suggests, builds, trains and probes networks.

    >>> from search_spaces import available, get_space
    >>> sorted(available())
    ['digits', 'images', 'mnist1d']

Spaces are named in :data:`manifold_search.registry.SPACES` (case-insensitive)
or given by import path ``package.module:object``. Importing this package is
cheap: a space's module (and torch) is imported when the space is used.
"""

from __future__ import annotations

import inspect
from typing import Any

from manifold_search.registry import SPACES, UnknownName, import_object


def available() -> list[str]:
    """Names of the bundled search spaces."""
    return list(SPACES)


def space_target(name: str) -> Any:
    """The class (or ready instance) a space name refers to, without building it."""
    if ":" in name:
        path = name
    else:
        try:
            path = SPACES.lookup(name).path
        except UnknownName as exc:
            raise ValueError(f"{exc} (or give package.module:object)") from None
    try:
        return import_object(path)
    except ValueError as exc:
        raise ValueError(f"search space {path!r}: {exc}") from exc


def space_parameters(target: Any) -> dict[str, inspect.Parameter]:
    """Keyword options a space class accepts: its ``__init__`` and those it passes on
    through ``**kwargs`` to its base classes. A ready instance accepts none."""
    if not isinstance(target, type):
        return {}
    params: dict[str, inspect.Parameter] = {}
    for cls in target.__mro__:
        if cls is object:
            break
        init = cls.__dict__.get("__init__")
        if init is None:
            continue
        try:
            signature = inspect.signature(init)
        except (TypeError, ValueError):
            break
        passes_on = False
        for p in list(signature.parameters.values())[1:]:
            if p.kind is inspect.Parameter.VAR_KEYWORD:
                passes_on = True
            elif p.kind is not inspect.Parameter.VAR_POSITIONAL:
                params.setdefault(p.name, p)
        if not passes_on:
            break
    return params


_ANNOTATION_TYPES = {"int": (int,), "float": (float,), "str": (str,), "bool": (bool,),
                     "dict": (dict,), "list": (list,), "None": ()}  # fmt: skip


def option_types(p: inspect.Parameter) -> tuple[type, ...] | None:
    """Accepted TOML value types of a constructor parameter, or None when unknown."""
    annotation = p.annotation
    if isinstance(annotation, str):
        parts = [a.strip() for a in annotation.replace("Optional[", "").rstrip("]").split("|")]
        types: tuple[type, ...] = ()
        for part in parts:
            if part not in _ANNOTATION_TYPES:
                return None
            types += _ANNOTATION_TYPES[part]
        return types or None
    if isinstance(annotation, type) and annotation in (int, float, str, bool):
        return (annotation,)
    default = p.default
    if default is inspect.Parameter.empty or default is None:
        return None
    if isinstance(default, bool):
        return (bool,)
    if isinstance(default, int | float | str):
        return (type(default),)
    return None


def get_space(name: str, **options: Any) -> Any:
    """A search space by bundled name or by import path ``module:object``.

    ``options`` go to the space's constructor (``epochs``, ``probe_size``,
    ``seed``, ...). An object given by path may be a class (instantiated with
    ``options``) or a ready instance.
    """
    target = space_target(name)
    space = target(**options) if isinstance(target, type) else target
    if not all(hasattr(space, attr) for attr in ("suggest", "build", "objective", "probe")):
        raise ValueError(f"'{name}' does not implement the search-space interface (suggest, build, objective, probe)")
    return space


def __getattr__(name: str) -> Any:
    """``search_spaces.SearchSpace`` without importing torch when it is not used (PEP 562)."""
    if name == "SearchSpace":
        from search_spaces.base import SearchSpace

        return SearchSpace
    raise AttributeError(f"module 'search_spaces' has no attribute {name!r}")


__all__ = ["SearchSpace", "available", "get_space", "option_types", "space_parameters", "space_target"]  # noqa: F822
