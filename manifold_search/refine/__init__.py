"""The refine stage: keep the winners' trained weights, export them, sparsify them.

Modules, one idea each: :mod:`.weights` (safetensors in the study's artifact
store, top-K retention), :mod:`.export` (a trial to a folder and back to an
``nn.Module``), :mod:`.masks` (global magnitude masks over prunable weights),
:mod:`.sparsify` (the functionally invariant path walk), :mod:`.baselines`
(one-shot, iterative and gradual magnitude pruning), :mod:`.study` (sparsify a
study's kept winners and write the table and plots).

Names are imported lazily so that ``search_spaces.base`` can import
:mod:`.weights` without pulling in the rest (which imports the search spaces).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "keep_weights": "weights", "load_trial_weights": "weights", "kept_trials": "weights",
    "save_state": "weights", "load_state": "weights",
    "export_trial": "export", "load_exported": "export", "trial_model": "export",
    "sparsify": "sparsify", "SparsifyData": "data", "SparsifyResult": "sparsify",
    "prune_baseline": "baselines", "refine_study": "study", "parse_refine": "settings",
}  # fmt: skip

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'manifold_search.refine' has no attribute {name!r}")
    return getattr(importlib.import_module(f"manifold_search.refine.{_EXPORTS[name]}"), name)
