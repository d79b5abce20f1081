"""Objects named by import path, ``package.module:attribute``.

Samplers, problems and search spaces can all be given by path; one resolver
serves them, and each caller turns its ``ValueError`` into its own error type
with the fix that fits.
"""

from __future__ import annotations

import importlib
from typing import Any


def import_object(path: str) -> Any:
    """The object at ``package.module:attribute`` (the attribute may be dotted)."""
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"{path!r} is not an import path of the form 'package.module:attribute'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import module {module_name!r} ({exc})") from exc
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj
