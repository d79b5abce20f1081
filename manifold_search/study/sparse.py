"""The refine stage's sparse networks, placed on the report's and the explore page's manifold.

:func:`place_sparse` reads the study's sparse-network index
(:mod:`manifold_search.sparse_networks`), loads each one's probe representation and
places it in the dense networks' fitted layout out of sample
(:mod:`manifold_search.out_of_sample`): the dense layout is not refitted and the
sparse networks never join the manifold the sampler reads. What cannot be placed
(no record, a broken file, an original that is not on the manifold) is left out
with one note each.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna

from manifold_search.representations import RecordError, default_artifact_store


@dataclass(frozen=True)
class SparsePoint:
    """A sparse network on the manifold picture, beside its dense original ``trial``."""

    trial: int
    method: str
    sparsity: float
    x: float
    y: float
    distance: float  # network distance to the dense original on the probe set (as placed)
    test_accuracy: float
    kept: float  # share of the dense network's test accuracy kept
    nearest: int  # the dense network it is closest to (its original, when it kept the function)


def _metric(metrics: dict[str, float], key: str) -> float:
    value = metrics.get(key)
    return float(value) if isinstance(value, int | float) else math.nan


def place_sparse(study: optuna.Study, manifold: Any, coords: np.ndarray, notes: list[str],
                 artifact_store: Any | None = None) -> list[SparsePoint]:  # fmt: skip
    """The study's sparse networks placed among ``coords`` (the layout of ``manifold.keys``).

    Problems are appended to ``notes`` (one line each, at most one per reason and trial).
    """
    from manifold_search.out_of_sample import place_outside
    from manifold_search.sparse_networks import load_sparse_representation, read_sparse

    networks = read_sparse(study)
    if not networks or len(manifold.keys) == 0:
        return []
    store = artifact_store if artifact_store is not None else default_artifact_store(study)
    held = {k: i for i, k in enumerate(manifold.keys)}
    chosen, representations, orphans, unrecorded = [], [], set(), 0
    for network in networks:
        if network.trial not in held:
            orphans.add(network.trial)
        elif network.record is None:
            unrecorded += 1
        else:
            try:
                representations.append(load_sparse_representation(network, store, manifold.layer))
            except RecordError as exc:
                notes.append(f"{exc} (not shown on the manifold)")
                continue
            chosen.append(network)
    if orphans:
        notes.append(f"sparse networks of trial(s) {sorted(orphans)} are not shown: their dense "
                     "originals are not on the manifold")  # fmt: skip
    if unrecorded:
        notes.append(f"{unrecorded} sparse network(s) were sparsified before their representations were "
                     "recorded and are not shown; run `manifold-search sparsify RUN_DIR` again to place them")  # fmt: skip
    if not chosen:
        return []
    names = [n.name for n in chosen]
    distances, placed = place_outside(manifold, representations, coords, names=names)
    keys: Sequence[Any] = manifold.keys
    return [SparsePoint(n.trial, n.method, n.sparsity, float(placed[i, 0]),
                        float(placed[i, 1]) if placed.shape[1] > 1 else 0.0,
                        float(distances[i, held[n.trial]]), _metric(n.metrics, "test_accuracy"),
                        _metric(n.metrics, "kept"), int(keys[int(np.argmin(distances[i]))]))
            for i, n in enumerate(chosen)]  # fmt: skip


__all__ = ["SparsePoint", "place_sparse"]
