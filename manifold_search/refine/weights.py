"""Trained weights kept per trial in the study's artifact store, as safetensors.

A study keeps each recorded network's *representation* for the sampler; this
module keeps its *weights* too, so a winner can be exported or sparsified
without retraining. Files are safetensors (a flat map of named tensors plus a
string-to-string header): loading them never unpickles. Sparse networks store
their masks beside the weights (``mask::<parameter name>``, bool).

Retention (``keep``): ``"all"``, ``"none"`` (or 0), or an integer K: only the
top K trials by objective keep their file. When a new trial enters the top K,
the file of the trial it pushes out is removed from the store. Optuna forbids
changing a finished trial's attributes, so the pushed-out trial keeps its JSON
reference; the store is the truth: :func:`weights_reference` returns None when
the file is gone. With several workers two trials finishing together may each
keep a file for a moment; the next trial to finish removes the extra one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from typing import Any

import optuna
import torch
from optuna.artifacts import download_artifact, upload_artifact
from optuna.artifacts.exceptions import ArtifactNotFound
from optuna.trial import FrozenTrial, TrialState
from safetensors.torch import load_file, save_file

from manifold_search._attrs import WEIGHTS, read_attr
from manifold_search.representations import default_artifact_store

#: Header tag of the files written here (safetensors metadata ``format``).
FORMAT = "manifold-search-weights/1"
MASK_PREFIX = "mask::"
#: Default retention of a study: the ten best trials keep their weights.
DEFAULT_KEEP = 10

Masks = dict[str, torch.Tensor]


def parse_keep(keep: int | str | None) -> int | None:
    """Retention as a number: None = all trials, 0 = none, K = the top K."""
    if keep is None or keep == "all":
        return None
    if keep == "none":
        return 0
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
        raise ValueError(
            f"keep_weights = {keep!r}: give \"all\", \"none\" or a number K >= 0 of best "
            "trials whose weights are kept (default 10)"
        )
    return keep


# -- files ------------------------------------------------------------------------------


def save_state(path: str | os.PathLike[str], model: torch.nn.Module, masks: Masks | None = None,
               metadata: Mapping[str, Any] | None = None) -> None:  # fmt: skip
    """Write ``model``'s state dict (and masks) to a safetensors file.

    ``metadata`` values are stored as JSON text in the header (safetensors
    headers hold strings only); read them back with :func:`load_state`.
    """
    tensors = {name: value.detach().cpu().contiguous().clone()
               for name, value in model.state_dict().items()}  # fmt: skip
    for name, mask in (masks or {}).items():
        tensors[MASK_PREFIX + name] = mask.detach().cpu().to(torch.bool).contiguous()
    header = {"format": FORMAT}
    header.update({key: json.dumps(value) for key, value in (metadata or {}).items()})
    save_file(tensors, os.fspath(path), metadata=header)


def load_state(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], Masks, dict[str, Any]]:
    """``(state_dict, masks, metadata)`` of a file written by :func:`save_state`."""
    from safetensors import safe_open

    with safe_open(os.fspath(path), framework="pt") as handle:
        header = handle.metadata() or {}
    if header.get("format") != FORMAT:
        raise ValueError(f"{path}: not a manifold-search weights file (format {header.get('format')!r})")
    tensors = load_file(os.fspath(path))
    masks = {k[len(MASK_PREFIX):]: v for k, v in tensors.items() if k.startswith(MASK_PREFIX)}
    state = {k: v for k, v in tensors.items() if not k.startswith(MASK_PREFIX)}
    metadata = {k: json.loads(v) for k, v in header.items() if k != "format"}
    return state, masks, metadata


def load_into(model: torch.nn.Module, state: Mapping[str, torch.Tensor], masks: Masks | None = None) -> torch.nn.Module:
    """Load ``state`` into ``model`` (strict) and zero what ``masks`` prune."""
    model.load_state_dict(dict(state), strict=True)
    if masks:
        params = dict(model.named_parameters())
        with torch.no_grad():
            for name, mask in masks.items():
                params[name].mul_(mask.to(params[name].dtype))
    return model


# -- the artifact store -----------------------------------------------------------------


def upload_weights(study_or_trial: optuna.Study | optuna.Trial, model: torch.nn.Module, store: Any,
                   masks: Masks | None = None, metadata: Mapping[str, Any] | None = None) -> str:  # fmt: skip
    """Upload ``model``'s weights (and masks) as one safetensors artifact; its id."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "weights.safetensors")
        save_state(path, model, masks, metadata)
        return upload_artifact(artifact_store=store, file_path=path, study_or_trial=study_or_trial,
                               mimetype="application/octet-stream")  # fmt: skip


def download_weights(store: Any, artifact_id: str) -> tuple[dict[str, torch.Tensor], Masks, dict[str, Any]]:
    """``(state_dict, masks, metadata)`` of a stored weights artifact."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "weights.safetensors")
        download_artifact(artifact_store=store, artifact_id=artifact_id, file_path=path)
        return load_state(path)


def _exists(store: Any, artifact_id: str) -> bool:
    try:
        store.open_reader(artifact_id).close()
    except ArtifactNotFound:
        return False
    return True


def _remove(store: Any, artifact_id: str) -> None:
    try:
        store.remove(artifact_id)
    except ArtifactNotFound:
        pass


def _reference(trial: FrozenTrial | optuna.Trial) -> dict[str, Any] | None:
    reference = read_attr(trial.user_attrs, WEIGHTS)
    if isinstance(reference, str):
        reference = json.loads(reference)
    return reference if isinstance(reference, dict) and "artifact_id" in reference else None


def weights_reference(study: optuna.Study, trial: FrozenTrial, artifact_store: Any | None = None) -> dict[str, Any] | None:
    """The trial's weights reference if its file is still in the store, else None."""
    reference = _reference(trial)
    if reference is None:
        return None
    store = artifact_store if artifact_store is not None else default_artifact_store(study)
    return reference if _exists(store, reference["artifact_id"]) else None


def kept_trials(study: optuna.Study, artifact_store: Any | None = None) -> list[FrozenTrial]:
    """COMPLETE trials whose weights are still stored, best first."""
    store = artifact_store if artifact_store is not None else default_artifact_store(study)
    trials = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
              if weights_reference(study, t, store) is not None]  # fmt: skip
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    return sorted(trials, key=lambda t: (-t.value if maximize else t.value, t.number))


def _ranked(study: optuna.Study, current: int, value: float) -> list[tuple[float, int, str | None]]:
    """(value, number, artifact id) of trials that hold a reference, plus the current one, best first."""
    entries: list[tuple[float, int, str | None]] = [(value, current, None)]
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING)):
        reference = _reference(t) if t.number != current else None
        if reference is None:
            continue
        v = t.value if t.state == TrialState.COMPLETE else reference.get("value")
        if isinstance(v, int | float) and v == v:
            entries.append((float(v), t.number, reference["artifact_id"]))
    sign = -1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0
    return sorted(entries, key=lambda e: (sign * e[0], e[1]))


def keep_weights(trial: optuna.Trial, model: torch.nn.Module, value: float, keep: int | str | None = DEFAULT_KEEP,
                 artifact_store: Any | None = None, metadata: Mapping[str, Any] | None = None) -> dict[str, Any] | None:  # fmt: skip
    """Store ``model``'s weights for ``trial`` if the retention policy keeps them.

    Call it at the end of an objective with the value about to be returned (the
    trial is not finished yet, so the study does not know it). Returns the JSON
    reference set as the trial's ``manifold_search:weights`` attribute, or None
    when the trial is not among the kept ones. Files of trials pushed out of the
    top K are removed from the store.
    """
    top = parse_keep(keep)
    if top == 0 or not (value == value):  # NaN objective: nothing worth keeping
        return None
    study = trial.study
    store = artifact_store if artifact_store is not None else default_artifact_store(study)
    ranked = _ranked(study, trial.number, float(value)) if top is not None else []
    if top is not None and all(number != trial.number for _, number, _ in ranked[:top]):
        return None
    n_params = int(sum(p.numel() for p in model.parameters()))
    info = {"value": float(value), "n_params": n_params, **(dict(metadata) if metadata else {})}
    artifact_id = upload_weights(trial, model, store, metadata=info)
    reference = {"artifact_id": artifact_id, "format": "safetensors", "keep": keep, **info}
    trial.set_user_attr(WEIGHTS, reference)
    for _, _, old in ranked[top:] if top is not None else ():
        if old is not None:
            _remove(store, old)
    return reference


def load_trial_weights(study: optuna.Study, trial: FrozenTrial | int, artifact_store: Any | None = None
                       ) -> tuple[dict[str, torch.Tensor], Masks, dict[str, Any]]:  # fmt: skip
    """``(state_dict, masks, metadata)`` of a trial's kept weights.

    Raises KeyError (with the reason) when the trial kept none or its file was removed.
    """
    if isinstance(trial, int):
        trial = study.trials[trial]
    store = artifact_store if artifact_store is not None else default_artifact_store(study)
    reference = _reference(trial)
    if reference is None:
        raise KeyError(f"trial {trial.number} kept no weights (keep_weights was off or it was not in the top K)")
    if not _exists(store, reference["artifact_id"]):
        raise KeyError(f"trial {trial.number}'s weights were removed when it dropped out of the top "
                       f"{reference.get('keep')}")
    return download_weights(store, reference["artifact_id"])
