"""What the recorded tables' discrete grids share: rows, row keys, ordinal suggestions.

A table grid is a list of architectures crossed with optimizers and learning
rates; a row is found by the sorted-JSON key of its parameter dict; numeric grids
are suggested as ordinal integer indexes ``<name>_index`` (as Optuna's own wrappers
of NAS-Bench-201/HPOBench do), so every sampler sees their order.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

import optuna


def grid_rows(architectures: Sequence[Mapping[str, Any]], optimizers: Sequence[str],
              learning_rates: Sequence[float]) -> list[dict[str, Any]]:  # fmt: skip
    """Every configuration, as parameter dicts (values, not indexes), in a fixed order."""
    return [
        {**arch, "optimizer": opt, "lr": lr}
        for arch in architectures
        for opt, lr in itertools.product(optimizers, learning_rates)
    ]


def grid_key(params: Mapping[str, Any]) -> str:
    """A canonical string key of a grid configuration (sorted JSON): the table's row index."""
    return json.dumps(params, sort_keys=True)


def suggest_ordinal(trial: optuna.Trial, name: str, values: Sequence[Any]) -> Any:
    """One of ``values``, suggested as the integer index ``<name>_index``."""
    return values[trial.suggest_int(f"{name}_index", 0, len(values) - 1)]
