"""Probe sets, capture of hidden representations, and their storage per trial.

A *probe set* is a fixed batch of held-out inputs (with labels) that every network
of a study is run on. What a network computes on it -- the activations entering
its classifier, by default -- is its *representation*: an ``n x d`` matrix whose
``d`` may differ between networks. Representations are stored per trial through
Optuna's artifact store as plain ``.npz`` files (never pickles), with only a small
JSON reference in the trial's user attributes, so any process that shares the
study's storage can read them back.

Example:
    >>> import optuna, torch
    >>> from manifold_search import Probe, record_network, load_representation
    >>> probe = Probe(torch.randn(32, 8), torch.randint(0, 3, (32,)).numpy())
    >>> def objective(trial):
    ...     model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(),
    ...                                 torch.nn.Linear(16, 3))
    ...     record_network(trial, model, probe)
    ...     return 0.0
    >>> study = optuna.create_study()
    >>> study.optimize(objective, n_trials=1)
    >>> load_representation(study, study.trials[0]).shape
    (32, 16)
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
from optuna.artifacts import FileSystemArtifactStore, download_artifact, upload_artifact
from optuna.artifacts.exceptions import ArtifactNotFound

from manifold_search import _optuna_compat
from manifold_search._attrs import PROBE, RECORD, read_attr

if TYPE_CHECKING:  # torch is loaded by the functions that capture, not by readers of records
    import torch

#: Name under which the default representation (input of the classifier) is stored.
DEFAULT_LAYER = "penultimate"


class ProbeMismatchError(ValueError):
    """A network was recorded on another probe set than the study's."""


class RecordError(ValueError):
    """A trial's stored network record cannot be read (missing, truncated, corrupted)."""


@dataclass(frozen=True)
class Probe:
    """A fixed set of probe inputs with their labels.

    ``inputs`` is what the model takes (a float tensor whose first axis indexes
    the ``n`` probe points); ``labels`` are their integer classes. The
    fingerprint hashes both, so two studies can tell whether they share a probe.
    """

    inputs: torch.Tensor
    labels: np.ndarray
    name: str = "probe"
    _fingerprint: str = field(default="", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        labels = np.asarray(self.labels).astype(np.int64)
        if len(self.inputs) < 2:
            raise ValueError(
                f"probe has {len(self.inputs)} input(s); a diffusion operator needs at least 2 "
                "probe points (use a few hundred validation inputs)"
            )
        if len(labels) != len(self.inputs):
            raise ValueError(
                f"probe has {len(self.inputs)} inputs but {len(labels)} labels; "
                "give one label per probe input"
            )
        object.__setattr__(self, "labels", labels)
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(self.inputs.detach().cpu().float().numpy()).tobytes())
        digest.update(labels.tobytes())
        object.__setattr__(self, "_fingerprint", digest.hexdigest()[:16])

    @property
    def fingerprint(self) -> str:
        """A short hash of the inputs and labels, stored on the study."""
        return self._fingerprint

    def __len__(self) -> int:
        return len(self.inputs)


def _classifier(model: torch.nn.Module) -> torch.nn.Module:
    """The final classification layer: timm's ``get_classifier()`` or the last Linear."""
    import torch

    get_classifier = getattr(model, "get_classifier", None)
    if callable(get_classifier):
        head = get_classifier()
        if isinstance(head, torch.nn.Module) and not isinstance(head, torch.nn.Identity):
            return head
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    if not linears:
        raise ValueError(
            "record_network found no classification layer (no nn.Linear and no "
            "get_classifier()); name the modules to record with layers=[...]"
        )
    return linears[-1]


def capture_representations(
    model: torch.nn.Module,
    probe: Probe,
    layers: Sequence[str] | None = None,
    batch_size: int = 512,
) -> dict[str, np.ndarray]:
    """Run ``model`` on the probe set and return hidden representations.

    With ``layers=None`` the representation is the *input* of the final
    classification layer (stored as ``"penultimate"``); otherwise the outputs of
    the named modules (names from ``model.named_modules()``). Each array is
    ``n x d`` float32, spatial/temporal axes flattened into ``d``.
    """
    import torch

    with torch.no_grad():
        return _capture(model, probe, layers, batch_size)


def _capture(model, probe: Probe, layers, batch_size: int) -> dict[str, np.ndarray]:
    import torch

    modules = dict(model.named_modules())
    if layers is None:
        targets = {DEFAULT_LAYER: (_classifier(model), True)}
    else:
        unknown = [name for name in layers if name not in modules]
        if unknown:
            raise ValueError(
                f"unknown layer name(s) {unknown}; choose from model.named_modules(), "
                f"e.g. {list(modules)[1:6]}"
            )
        targets = {name: (modules[name], False) for name in layers}

    chunks: dict[str, list[torch.Tensor]] = {name: [] for name in targets}
    handles = []
    for name, (module, take_input) in targets.items():

        def hook(_mod, inputs, output, name=name, take_input=take_input):
            value = inputs[0] if take_input else output
            if isinstance(value, tuple):  # e.g. GRU returns (output, h_n)
                value = value[0]
            chunks[name].append(value.detach().float().reshape(value.shape[0], -1).cpu())

        handles.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        for start in range(0, len(probe), batch_size):
            model(probe.inputs[start : start + batch_size].to(device))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return {name: torch.cat(parts).numpy() for name, parts in chunks.items()}


_IN_MEMORY_STORES: dict[int, FileSystemArtifactStore] = {}
_IN_MEMORY_DIRS: dict[int, str] = {}


def release_artifact_store(study: optuna.Study) -> None:
    """Remove the temporary artifact folder of an in-memory study, now rather than at exit.

    A process that runs many in-memory studies one after another (the benchmark: about
    160 MB of records per table run) calls it when a study ends, so the folders do not
    pile up until the process exits. Studies on persistent storage are left alone.
    """
    if not _optuna_compat.is_in_memory(study):
        return
    key = _optuna_compat.storage_key(study)
    _IN_MEMORY_STORES.pop(key, None)
    directory = _IN_MEMORY_DIRS.pop(key, None)
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


def default_artifact_store(study: optuna.Study) -> Any:
    """The study's artifact store: the one written on the study, else the one beside it.

    A location written on the study (``[study] artifacts`` of a config, or
    :func:`manifold_search.artifact_stores.remember_location`) wins, so every worker
    on every machine finds the same store. Else SQLite ``path/x.db`` ->
    ``path/x.db.artifacts/``; a journal file likewise; an in-memory study gets a
    temporary directory, removed when the process exits. Other storages
    (PostgreSQL, MySQL) have no place on disk and must be given a location.
    """
    from manifold_search.artifact_stores import study_store

    store = study_store(study)
    if store is not None:
        return store
    path = _optuna_compat.storage_file(study)
    if path:
        directory = os.path.abspath(path) + ".artifacts"
        os.makedirs(directory, exist_ok=True)
        return FileSystemArtifactStore(directory)
    if _optuna_compat.is_in_memory(study):
        key = _optuna_compat.storage_key(study)
        if key not in _IN_MEMORY_STORES:
            directory = tempfile.mkdtemp(prefix="manifold_search_artifacts_")
            # the study dies with the process, and so may its networks
            atexit.register(shutil.rmtree, directory, ignore_errors=True)
            _IN_MEMORY_STORES[key] = FileSystemArtifactStore(directory)
            _IN_MEMORY_DIRS[key] = directory
        return _IN_MEMORY_STORES[key]
    raise ValueError(
        f"study {study.study_name!r} is in a database server and has no artifact store for its "
        "networks; set [study] artifacts = \"/shared/folder\" or \"s3://bucket/prefix\" in the "
        "study config, or call manifold_search.artifact_stores.remember_location(study, "
        "LOCATION) once (or pass artifact_store=...)"
    )


def _check_probe(study: optuna.Study, fingerprint: str) -> None:
    known = read_attr(study.user_attrs, PROBE)
    if known is None:
        study.set_user_attr(PROBE, fingerprint)
    elif known != fingerprint:
        raise ProbeMismatchError(
            f"this network was probed on probe set {fingerprint}, but study "
            f"'{study.study_name}' records networks on probe set {known}; record every "
            "trial with the same probe (the search space's probe()) or start a new study"
        )


def check_recordable(trial: optuna.Trial, probe: Probe, artifact_store: Any | None = None) -> None:
    """Fail before training, not after: the probe must be the study's and the study must
    have an artifact store (a database-server study without one raises here)."""
    _check_probe(trial.study, probe.fingerprint)
    if artifact_store is None:
        default_artifact_store(trial.study)


def upload_arrays(
    study_or_trial: optuna.Study | optuna.Trial,
    arrays: Mapping[str, np.ndarray],
    labels: np.ndarray,
    store: Any,
    filename: str = "network.npz",
) -> str:
    """Upload representations and the probe labels as one ``.npz`` artifact; its id.

    The storage format of every network record, a trial's or (attached to the study)
    a sparse network's of the refine stage; read back with :func:`download_arrays`.
    """
    payload = {name: np.ascontiguousarray(value) for name, value in arrays.items()}
    payload["__labels__"] = np.asarray(labels, dtype=np.int64)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, filename)
        np.savez_compressed(path, **payload)
        return upload_artifact(
            artifact_store=store,
            file_path=path,
            study_or_trial=study_or_trial,
            mimetype="application/octet-stream",
        )


def record_representations(
    trial: optuna.Trial,
    arrays: Mapping[str, np.ndarray],
    probe_fingerprint: str,
    labels: np.ndarray,
    artifact_store: Any | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Store already-captured representations for ``trial``.

    The lower-level half of :func:`record_network`, for objectives that hold
    representations rather than a model (e.g. a tabular benchmark). Returns the
    JSON reference that is also set as the trial's ``manifold_search:record``
    user attribute (:data:`manifold_search._attrs.RECORD`).
    """
    study = trial.study
    _check_probe(study, probe_fingerprint)
    store = artifact_store if artifact_store is not None else default_artifact_store(study)
    artifact_id = upload_arrays(trial, arrays, labels, store, f"trial{trial.number}_network.npz")
    reference = {
        "artifact_id": artifact_id,
        "probe": probe_fingerprint,
        "layers": {name: list(value.shape) for name, value in arrays.items()},
        **(dict(extra) if extra else {}),
    }
    trial.set_user_attr(RECORD, reference)
    return reference


def record_network(
    trial: optuna.Trial,
    model: torch.nn.Module,
    probe: Probe,
    layers: Sequence[str] | None = None,
    artifact_store: Any | None = None,
) -> dict[str, Any]:
    """Capture ``model``'s representations on ``probe`` and store them for ``trial``.

    Call it at the end of an objective, after training. The arrays go to the
    artifact store (by default a ``FileSystemArtifactStore`` beside the study's
    storage); the trial gets a small JSON reference. The probe's fingerprint is
    stored on the study; recording on a different probe raises
    :class:`ProbeMismatchError`.
    """
    if not isinstance(trial, optuna.Trial):
        raise TypeError(
            f"record_network needs the live optuna.Trial passed to the objective, "
            f"got {type(trial).__name__}"
        )
    arrays = capture_representations(model, probe, layers=layers)
    n_params = sum(p.numel() for p in model.parameters())
    return record_representations(
        trial, arrays, probe.fingerprint, probe.labels, artifact_store, {"n_params": n_params}
    )


def network_reference(trial: optuna.trial.FrozenTrial) -> dict[str, Any] | None:
    """The stored reference of a trial's network, or None if it recorded none."""
    reference = read_attr(trial.user_attrs, RECORD)
    if isinstance(reference, str):  # tolerate references stored as JSON text
        reference = json.loads(reference)
    return reference


def load_network(
    study: optuna.Study,
    trial: optuna.trial.FrozenTrial | int,
    artifact_store: Any | None = None,
) -> dict[str, np.ndarray]:
    """All stored arrays of a trial's network: ``{layer: n x d array, "__labels__": n}``.

    Raises :class:`RecordError` (one line naming the trial and the fix) when the record
    is missing from the artifact store, is not a readable ``.npz`` (truncated, garbage,
    or a pickle, which is never loaded), or does not hold the arrays its reference lists.
    """
    if isinstance(trial, int):
        trial = study.get_trials(deepcopy=False)[trial]
    reference = network_reference(trial)
    if reference is None:
        raise KeyError(
            f"trial {trial.number} recorded no network; call record_network(trial, model, "
            "probe) in the objective"
        )
    store = artifact_store if artifact_store is not None else default_artifact_store(study)
    owner = f"trial {trial.number}"
    arrays = download_arrays(store, reference.get("artifact_id"), owner)
    check_arrays(arrays, reference, owner)
    return arrays


def download_arrays(store: Any, artifact_id: Any, owner: str) -> dict[str, np.ndarray]:
    """The arrays of a record written by :func:`upload_arrays` (never unpickled).

    ``owner`` names the network in the one-line :class:`RecordError` (e.g. ``"trial 3"``).
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "network.npz")
        try:
            download_artifact(artifact_store=store, artifact_id=artifact_id, file_path=path)
        except (ArtifactNotFound, OSError) as error:
            raise RecordError(
                f"{owner}: network record {artifact_id} is missing from the "
                f"artifact store ({type(error).__name__}); if the study's database was moved, "
                "move its artifact folder (<database>.artifacts) with it"
            ) from None
        return _read_npz(path, owner)


def _read_npz(path: str, owner: str) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file, never unpickling; RecordError for anything else."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise TypeError("not an .npz archive")
            return {name: data[name] for name in data.files}
    except (zipfile.BadZipFile, ValueError, TypeError, OSError, EOFError, KeyError,
            AttributeError, RuntimeError, zlib.error) as error:  # fmt: skip
        # numpy's own message for a pickle suggests loading it unsafely: never pass it on
        raise RecordError(
            f"{owner}: network record is not a readable .npz (truncated or corrupted: "
            f"{type(error).__name__})"
        ) from None


def check_arrays(arrays: Mapping[str, np.ndarray], reference: Mapping[str, Any], owner: str) -> None:
    """The record holds the labels and every layer its reference lists, with those shapes."""
    expected = {name: list(shape) for name, shape in (reference.get("layers") or {}).items()}
    found = {name: list(value.shape) for name, value in arrays.items() if name != "__labels__"}
    problem = None
    if "__labels__" not in arrays:
        problem = "it holds no probe labels"
    elif any(found.get(name) != shape for name, shape in expected.items()):
        problem = f"it holds layers {found}, its reference lists {expected}"
    if problem:
        raise RecordError(f"{owner}: network record does not match its reference ({problem})")


def load_representation(
    study: optuna.Study,
    trial: optuna.trial.FrozenTrial | int,
    layer: str = DEFAULT_LAYER,
    artifact_store: Any | None = None,
) -> np.ndarray:
    """One layer's ``n x d`` representation of a finished trial, as float32."""
    arrays = load_network(study, trial, artifact_store)
    if layer not in arrays:
        layers = [name for name in arrays if name != "__labels__"]
        raise KeyError(f"trial has no layer '{layer}'; recorded layers: {layers}")
    return arrays[layer].astype(np.float32)
