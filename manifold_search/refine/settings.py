"""The ``[refine]`` section of a study config: which winners to sparsify, how.

    [refine]
    top = 3                                  # the best K trials (kept weights, else retrained)
    sparsity = [0.5, 0.8, 0.9, 0.95]         # target shares of zeros among prunable weights
    methods = ["fip", "magnitude", "imp", "gmp"]
    steps = 8000                             # gradient steps per method and network
    criterion = "lamp"                       # how fip and one-shot rank weights across layers

:func:`parse_refine` checks a parsed TOML table and raises a one-line
``ValueError`` naming the key and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from manifold_search.refine.masks import DEFAULT_CRITERION, check_criterion
from manifold_search.refine.schedule import DEFAULT_STEPS, METHODS

DEFAULT_SPARSITIES = (0.5, 0.8, 0.9, 0.95)


@dataclass(frozen=True)
class RefineSettings:
    top: int = 3
    sparsity: tuple[float, ...] = DEFAULT_SPARSITIES
    methods: tuple[str, ...] = METHODS
    steps: int = DEFAULT_STEPS
    criterion: str = DEFAULT_CRITERION


def _sparsities(value: Any) -> tuple[float, ...]:
    values = value if isinstance(value, Sequence) and not isinstance(value, str) else [value]
    ok = values and all(isinstance(v, int | float) and not isinstance(v, bool) and 0 < v < 1 for v in values)
    if not ok:
        raise ValueError(f"[refine] sparsity = {value!r}: give numbers strictly between 0 and 1, "
                         "e.g. sparsity = [0.5, 0.8, 0.9, 0.95]")  # fmt: skip
    return tuple(sorted({float(v) for v in values}))


def _methods(value: Any) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, Sequence) or not values or any(v not in METHODS for v in values):
        raise ValueError(f"[refine] methods = {value!r}: choose from {list(METHODS)}, "
                         "e.g. methods = [\"fip\", \"magnitude\"]")  # fmt: skip
    return tuple(dict.fromkeys(values))


def _positive_int(key: str, value: Any, example: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"[refine] {key} = {value!r}: give a positive integer, e.g. {key} = {example}")
    return value


def parse_refine(section: Mapping[str, Any]) -> RefineSettings:
    """Validated settings of a ``[refine]`` table (missing keys take the defaults)."""
    if not isinstance(section, Mapping):
        raise ValueError("[refine] must be a table: [refine] with keys top, sparsity, methods, steps")
    known = ("top", "sparsity", "methods", "steps", "criterion")
    unknown = [key for key in section if key not in known]
    if unknown:
        raise ValueError(f"[refine] unknown key {unknown[0]!r}: the keys are {', '.join(known)}")
    criterion = check_criterion(section.get("criterion", DEFAULT_CRITERION), "[refine] criterion")
    defaults = RefineSettings()
    top = _positive_int("top", section.get("top", defaults.top), "3")
    sparsity = _sparsities(section["sparsity"]) if "sparsity" in section else defaults.sparsity
    methods = _methods(section["methods"]) if "methods" in section else defaults.methods
    steps = _positive_int("steps", section.get("steps", defaults.steps), str(DEFAULT_STEPS))
    if steps < len(sparsity):
        raise ValueError(f"[refine] steps = {steps}: give at least one step per sparsity ({len(sparsity)})")
    return RefineSettings(top, sparsity, methods, steps, criterion)
