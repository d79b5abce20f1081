"""The sparse networks of the refine stage: their index on the study, and their records.

The refine stage (:mod:`manifold_search.refine.study`) sparsifies a study's winners.
Each sparse network keeps two artifacts in the study's artifact store, attached to
the *study*, not to a trial (a sparse network is no trial: the sampler never sees
it): its weights and masks (safetensors) and its representation on the study's
probe set (an ``.npz`` written exactly like a trial's record, see
:func:`manifold_search.representations.upload_arrays`), so any process can place it
on the network manifold beside its dense original.

The study attribute ``manifold_search:sparse`` indexes them:
``{trial: {method: {sparsity: entry}}}`` where an entry is
``{"weights": artifact id, "record": {"artifact_id", "probe", "layers"},
"test_accuracy", "kept", "distance", "zeros"}``. Studies sparsified before records
were kept hold a bare weights artifact id as the entry; :func:`read_sparse` reads
both (the older ones without a record, so they cannot be placed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna

from manifold_search._attrs import PROBE, SPARSE, read_attr
from manifold_search.representations import (
    DEFAULT_LAYER,
    Probe,
    ProbeMismatchError,
    RecordError,
    capture_representations,
    check_arrays,
    download_arrays,
    upload_arrays,
)

if TYPE_CHECKING:
    import torch

#: Metrics of a sparse network copied from the refine table into its index entry.
METRICS = ("test_accuracy", "kept", "distance", "zeros")


@dataclass(frozen=True)
class SparseNetwork:
    """One sparse network of the index: which winner, how it was made, where it is stored."""

    trial: int  # the dense original's trial number
    method: str
    sparsity: float
    weights: str  # artifact id of the safetensors weights and masks
    record: dict[str, Any] | None  # reference of its probe representation (None: sparsified before records)
    metrics: dict[str, float]

    @property
    def name(self) -> str:
        return f"trial {self.trial} {self.method} {self.sparsity:g}"


def check_probe(study: optuna.Study, probe: Probe) -> None:
    """The probe must be the one the study's dense networks were recorded on."""
    known = read_attr(study.user_attrs, PROBE)
    if known is not None and known != probe.fingerprint:
        raise ProbeMismatchError(
            f"study {study.study_name!r} records networks on probe set {known}, but the search "
            f"space gives probe set {probe.fingerprint}; sparse networks must be probed like the "
            "dense ones: rebuild the space with the study's options (probe_size, seed)"
        )


def record_sparse(study: optuna.Study, model: torch.nn.Module, probe: Probe, store: Any) -> dict[str, Any]:
    """Capture ``model`` on ``probe`` the way a trial's network is (the classifier's input)
    and store it in ``store``, attached to the study; returns the record's reference."""
    check_probe(study, probe)
    arrays = capture_representations(model, probe)
    artifact_id = upload_arrays(study, arrays, probe.labels, store, "sparse_network.npz")
    return {"artifact_id": artifact_id, "probe": probe.fingerprint,
            "layers": {name: list(value.shape) for name, value in arrays.items()}}  # fmt: skip


def index_entry(weights: str, record: dict[str, Any], row: Mapping[str, Any]) -> dict[str, Any]:
    """The value stored under ``{trial: {method: {sparsity: ...}}}`` for one sparse network."""
    metrics = {k: float(row[k]) for k in METRICS if isinstance(row.get(k), int | float)}
    return {"weights": weights, "record": record, **metrics}


def remove_artifacts(store: Any, value: Any) -> None:
    """Delete the weights and record of a replaced index entry (sparsifying again the same
    trial, method and sparsity), so repeated runs do not pile up files in the store."""
    from optuna.artifacts.exceptions import ArtifactNotFound

    ids = [value] if isinstance(value, str) else []
    if isinstance(value, Mapping):
        ids = [value.get("weights"), (value.get("record") or {}).get("artifact_id")]
    for artifact_id in ids:
        if isinstance(artifact_id, str):
            try:
                store.remove(artifact_id)
            except ArtifactNotFound:
                pass


def _entry(trial: str, method: str, sparsity: str, value: Any) -> SparseNetwork | None:
    try:
        number, level = int(trial), float(sparsity)
    except (TypeError, ValueError):
        return None
    if isinstance(value, str):  # sparsified before records were kept: weights only
        return SparseNetwork(number, str(method), level, value, None, {})
    if not isinstance(value, Mapping) or not isinstance(value.get("weights"), str):
        return None
    record = value.get("record")
    metrics = {k: float(value[k]) for k in METRICS if isinstance(value.get(k), int | float)}
    return SparseNetwork(number, str(method), level, value["weights"],
                         dict(record) if isinstance(record, Mapping) else None, metrics)  # fmt: skip


def read_sparse(study: optuna.Study) -> list[SparseNetwork]:
    """Every sparse network indexed on the study, by trial, method and sparsity."""
    index = read_attr(study.user_attrs, SPARSE) or {}
    out = []
    for trial, methods in (index.items() if isinstance(index, Mapping) else ()):
        for method, levels in (methods.items() if isinstance(methods, Mapping) else ()):
            for sparsity, value in (levels.items() if isinstance(levels, Mapping) else ()):
                entry = _entry(trial, method, sparsity, value)
                if entry is not None:
                    out.append(entry)
    return sorted(out, key=lambda e: (e.trial, e.method, e.sparsity))


def load_sparse_representation(network: SparseNetwork, store: Any, layer: str = DEFAULT_LAYER) -> np.ndarray:
    """The ``n x d`` probe representation of a sparse network (float32).

    Raises :class:`RecordError` (one line) when it has no record, or it is missing,
    unreadable or lacks ``layer``.
    """
    if network.record is None:
        raise RecordError(f"sparse network {network.name} was sparsified before its representation "
                          "was recorded; run `manifold-search sparsify RUN_DIR` again to place it")  # fmt: skip
    owner = f"sparse network {network.name}"
    arrays = download_arrays(store, network.record.get("artifact_id"), owner)
    check_arrays(arrays, network.record, owner)
    if layer not in arrays:
        raise RecordError(f"{owner}: its record holds no layer '{layer}'")
    return arrays[layer].astype(np.float32)


__all__ = ["SparseNetwork", "check_probe", "index_entry", "load_sparse_representation", "read_sparse",
           "record_sparse", "remove_artifacts"]  # fmt: skip
