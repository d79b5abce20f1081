"""Ready search spaces: each suggests, builds, trains and probes networks.

    >>> from search_spaces import available, get_space
    >>> sorted(available())
    ['digits', 'images', 'mnist1d']
"""

from __future__ import annotations

from typing import Any

from manifold_search._imports import import_object
from search_spaces.base import SearchSpace

_REGISTRY = {
    "mnist1d": "search_spaces.mnist1d:Mnist1DSpace",
    "digits": "search_spaces.digits:DigitsSpace",
    "images": "search_spaces.images:ImageSpace",
}


def available() -> list[str]:
    """Names of the bundled search spaces."""
    return list(_REGISTRY)


def _import(path: str) -> Any:
    try:
        return import_object(path)
    except ValueError as exc:
        raise ValueError(f"search space {path!r}: {exc}") from exc


def get_space(name: str, **options: Any) -> SearchSpace:
    """A search space by bundled name or by import path ``module:object``.

    ``options`` go to the space's constructor (``epochs``, ``probe_size``,
    ``seed``, ...). An object given by path may be a class (instantiated with
    ``options``) or a ready instance.
    """
    if name in _REGISTRY:
        target = _import(_REGISTRY[name])
    elif ":" in name:
        target = _import(name)
    else:
        raise ValueError(
            f"unknown search space '{name}'; choose one of {available()} or give module:object"
        )
    space = target(**options) if isinstance(target, type) else target
    if not all(hasattr(space, attr) for attr in ("suggest", "build", "objective", "probe")):
        raise ValueError(f"'{name}' does not implement the search-space interface (suggest, build, objective, probe)")
    return space


__all__ = ["SearchSpace", "available", "get_space"]
