"""manifold-search: an Optuna sampler that searches the manifold of trained networks.

The public names below are imported on first use (PEP 562), so that
``import manifold_search`` and ``manifold-search --help`` do not load torch,
PHATE or ripser; ``from manifold_search import ManifoldSampler`` works as usual.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public names -> the module that defines them.
_EXPORTS = {
    "ManifoldSampler": "manifold_search.sampler",
    "NetworkManifold": "manifold_search.manifold",
    "Probe": "manifold_search.representations",
    "ProbeMismatchError": "manifold_search.representations",
    "align_to": "manifold_search.embedding",
    "capture_representations": "manifold_search.representations",
    "diagram_distance": "manifold_search.features",
    "diffusion_operator": "manifold_search.geometry",
    "load_network": "manifold_search.representations",
    "load_representation": "manifold_search.representations",
    "network_distance": "manifold_search.geometry",
    "network_distances": "manifold_search.geometry",
    "network_features": "manifold_search.features",
    "phate_embedding": "manifold_search.embedding",
    "record_network": "manifold_search.representations",
    "record_representations": "manifold_search.representations",
}

__all__ = sorted(_EXPORTS)  # noqa: PLE0605
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'manifold_search' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
