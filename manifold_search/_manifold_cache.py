"""Side files that let a restarted sampler skip recomputing the network manifold.

Building the manifold of a 1,000-trial study from its records means reading
1,000 artifacts, building 1,000 diffusion operators and half a million network
distances (a Gram matrix over 65,536-entry operators): 5-25 s before the first
proposal of a resumed study. None of it changes once a network is recorded, so
each network leaves two plain files here, keyed by trial number *and* by a hash
of its record's artifact id (a record that is replaced or dropped no longer
matches, so a stale file is never used):

* ``p-<trial>-<id>.npy``: its operator, float32, flat (``n * n``), read lazily
  (only when a new network needs distances to it);
* ``d-<trial>-<id>.npy``: its distances to the networks held when it was cached,
  one int64 array of three rows: their trial numbers, their ids, and the float64
  distances' bits (one array, one header to parse: a thousand of them load in
  a fraction of a second).

Files are written atomically (temporary name, then ``os.replace``), never
pickled, and may be written by several workers at once (same content). A pair
that no file holds (two workers cached them independently) is computed from the
operators and the later network's row is rewritten. The folder can be deleted at
any time; it is rebuilt from the records.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np


def record_id(artifact_id: str) -> int:
    """A 63-bit integer identity of a record's artifact id."""
    return int.from_bytes(hashlib.sha1(artifact_id.encode()).digest()[:8], "little") >> 1


def default_cache_dir(study: Any, artifact_store: Any | None) -> Path | None:
    """``<artifact folder>.manifold-cache/<study>`` beside a file artifact store, else None.

    Only a study on persistent storage with a ``FileSystemArtifactStore`` (given, or
    the default one beside a SQLite/journal file) gets a cache: an in-memory study
    cannot be restarted, and a remote store (S3, GCS) has no local folder to sit by.
    """
    import optuna
    from optuna.artifacts import FileSystemArtifactStore

    from manifold_search.representations import default_artifact_store

    storage = getattr(study._storage, "_backend", study._storage)
    if isinstance(storage, optuna.storages.InMemoryStorage):
        return None
    try:
        store = artifact_store if artifact_store is not None else default_artifact_store(study)
    except ValueError:
        return None
    if not isinstance(store, FileSystemArtifactStore):
        return None
    base = Path(os.path.abspath(store._base_path))
    name = hashlib.sha1(study.study_name.encode()).hexdigest()[:12]
    return base.with_name(base.name + ".manifold-cache") / name


class ManifoldCache:
    """Operator and distance-row files of one study, layer and kernel in ``directory``."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self._warned = False

    def _write(self, path: Path, save) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=path.suffix)
            with os.fdopen(fd, "wb") as handle:
                save(handle)
            os.replace(tmp, path)
        except OSError as error:
            if not self._warned:
                warnings.warn(
                    f"cannot write the manifold cache in {self.directory} ({error}); the "
                    "study runs on, but a restart will recompute every network's distances",
                    stacklevel=4,
                )
                self._warned = True

    def _operator_path(self, trial: int, rid: int) -> Path:
        return self.directory / f"p-{trial}-{rid:016x}.npy"

    def _row_path(self, trial: int, rid: int) -> Path:
        return self.directory / f"d-{trial}-{rid:016x}.npy"

    def has(self, trial: int, rid: int) -> bool:
        return self._row_path(trial, rid).exists() and self._operator_path(trial, rid).exists()

    def load_operator(self, trial: int, rid: int) -> np.ndarray:
        return np.load(self._operator_path(trial, rid), allow_pickle=False)

    def save_operator(self, trial: int, rid: int, operator: np.ndarray) -> None:
        if self._operator_path(trial, rid).exists():
            return
        flat = np.ascontiguousarray(operator, dtype=np.float32).reshape(-1)
        self._write(self._operator_path(trial, rid), lambda f: np.save(f, flat))

    def load_row(self, trial: int, rid: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(partner trials, partner ids, distances) or None if unreadable."""
        try:
            row = np.load(self._row_path(trial, rid), allow_pickle=False)
        except (OSError, ValueError):
            return None
        if row.dtype != np.int64 or row.ndim != 2 or len(row) != 3:
            return None
        return row[0], row[1], row[2].view(np.float64)

    def save_row(self, trial: int, rid: int, trials: np.ndarray, ids: np.ndarray,
                 distances: np.ndarray) -> None:  # fmt: skip
        row = np.stack([np.asarray(trials, np.int64), np.asarray(ids, np.int64),
                        np.ascontiguousarray(distances, np.float64).view(np.int64)])  # fmt: skip
        self._write(self._row_path(trial, rid), lambda f: np.save(f, row))

    def load_labels(self) -> np.ndarray | None:
        try:
            return np.load(self.directory / "labels.npy", allow_pickle=False)
        except (OSError, ValueError):
            return None

    def save_labels(self, labels: np.ndarray) -> None:
        if not (self.directory / "labels.npy").exists():
            self._write(self.directory / "labels.npy", lambda f: np.save(f, np.asarray(labels)))


def _reference_ids(study: Any, trials: list, layer: str, folder: Path | None,
                   skip: Any = ()) -> dict[int, int]:  # fmt: skip
    """``{trial number: record id}`` of the trials that recorded ``layer``, except ``skip``.

    Records dropped with ``manifold-search check --drop`` are left out, as every reader
    does. In a folder store the id also hashes the record file's size and modification
    time, so a record truncated, replaced, restored or deleted after it was cached is
    not taken from the cache: it goes through the normal reading (and its warning).
    """
    from manifold_search.records import dropped_records
    from manifold_search.representations import network_reference

    dropped = dropped_records(study)
    out = {}
    for trial in trials:
        if trial.number in dropped or trial.number in skip:
            continue
        reference = network_reference(trial)
        if reference and "artifact_id" in reference and layer in reference.get("layers", {layer: 0}):
            identity = str(reference["artifact_id"])
            if folder is not None:
                try:
                    stat = os.stat(folder / identity)
                except OSError:
                    continue
                identity = f"{identity}:{stat.st_size}:{stat.st_mtime_ns}"
            out[trial.number] = record_id(identity)
    return out


def _record_folder(study: Any, artifact_store: Any | None) -> Path | None:
    """The folder of a FileSystemArtifactStore (given or the default), else None."""
    from optuna.artifacts import FileSystemArtifactStore

    from manifold_search.representations import default_artifact_store

    try:
        store = artifact_store if artifact_store is not None else default_artifact_store(study)
    except ValueError:
        return None
    return Path(store._base_path) if isinstance(store, FileSystemArtifactStore) else None


class CacheMixin:
    """The cache half of :class:`~manifold_search.manifold.NetworkManifold`.

    ``_cache_adopt`` (start of ``update_from_study``) takes every cached network the
    manifold does not hold, with its distances, without reading its record;
    ``_cache_sync`` (end of it) writes the files of held networks not cached yet and
    releases the representations just read (they are re-read from the artifact
    store if a feature is ever asked for), so memory holds operators and distances
    only. Operators of adopted networks are read when first needed.
    """

    def _init_cache(self, cache: str | None) -> None:
        self._cache_setting = cache
        self._cache: ManifoldCache | None = None
        self._cache_opened = False
        self._records_in: Path | None = None  # folder of a file artifact store
        self._record_ids: dict[int, int] = {}  # trial number -> record id, cached networks
        self._unloaded: dict[int, int] = {}  # row -> trial number, operator not in memory

    def _open_cache(self, study: Any, artifact_store: Any | None) -> ManifoldCache | None:
        if not self._cache_opened:
            self._cache_opened = True
            setting = self._cache_setting
            folder = default_cache_dir(study, artifact_store) if setting == "auto" else setting
            if folder:
                tag = f"{self.layer}-{self.bandwidth}-{self.knn}".replace(os.sep, "_")
                self._cache = ManifoldCache(Path(folder) / tag)
                self._records_in = _record_folder(study, artifact_store)
        return self._cache

    def _load_operators(self) -> None:
        """Read the operators of adopted networks into memory (once)."""
        if self._unloaded:
            for row, trial in sorted(self._unloaded.items()):
                self._operators[row] = self._cache.load_operator(trial, self._record_ids[trial])
            self._unloaded.clear()

    def _cache_adopt(self, study: Any, trials: list, artifact_store: Any | None) -> list[int]:
        """Add the cached networks not held yet; return their trial numbers."""
        with self._lock:
            return self._adopt(study, trials, artifact_store)

    def _adopt(self, study: Any, trials: list, artifact_store: Any | None) -> list[int]:
        cache = self._open_cache(study, artifact_store)
        if cache is None:
            return []
        ids = _reference_ids(study, trials, self.layer, self._records_in, self._index)
        by_number = {trial.number: trial for trial in trials}
        new = [t for t, rid in ids.items() if t not in self._index and cache.has(t, rid)]
        rows = [cache.load_row(t, ids[t]) for t in new]
        new = [t for t, row in zip(new, rows, strict=True) if row is not None]
        rows = [row for row in rows if row is not None]
        if not new:
            return []
        if self.n_points is None:
            self.n_points = int(round(np.sqrt(np.load(
                cache._operator_path(new[0], ids[new[0]]), mmap_mode="r").size)))  # fmt: skip
        if self.labels is None:
            self.labels = cache.load_labels()
        k, m = len(self._keys), len(new)
        self._reserve(k + m, self.n_points**2)
        for i, t in enumerate(new):
            self._index[t], self._record_ids[t], self._unloaded[k + i] = k + i, ids[t], t
            self._keys.append(t)
            self._sources[t] = _source(self, study, by_number[t], artifact_store)
            getattr(self, "skipped", {}).pop(t, None)  # readable again (same file as cached)
        self._fill_rows(k, new, rows)
        return new

    def _fill_rows(self, k: int, new: list[int], rows: list) -> None:
        """Distances of adopted rows ``k:`` from their row files; missing pairs computed."""
        from manifold_search.geometry import distances_to

        total = len(self._keys)
        numbers = [key if isinstance(key, int) else -1 for key in self._keys]
        row_of = np.full(max(numbers) + 2, -1)
        id_of = np.zeros(len(row_of), dtype=np.int64)
        for r, key in enumerate(numbers):
            if key >= 0:
                row_of[key], id_of[key] = r, self._record_ids.get(key, -1)
        known = np.zeros((total - k, total), dtype=bool)
        for i, (trials, ids, dist) in enumerate(rows):
            inside = trials < len(row_of)
            trials, ids, dist = trials[inside], ids[inside], dist[inside]
            r = row_of[trials]
            ok = (r >= 0) & (id_of[np.maximum(trials, 0)] == ids)
            self._distances[k + i, r[ok]] = dist[ok]
            self._distances[r[ok], k + i] = dist[ok]
            r = r[ok]
            known[i, r] = True
            known[r[r >= k] - k, k + i] = True  # an adopted partner's pair is covered too
        for i in range(total - k):
            self._distances[k + i, k + i] = 0.0
            known[i, k + i] = True
        missing = [i for i in range(total - k) if not known[i].all()]
        if missing:
            self._load_operators()
            for i in missing:
                others = np.flatnonzero(~known[i])
                if len(others):
                    d = distances_to(self._operators[k + i], self._operators[others])
                    self._distances[k + i, others] = self._distances[others, k + i] = d
                    known[i, others] = True
                    known[others[others >= k] - k, k + i] = True
                    self.n_distance_computations += len(others)
                self._save_network(new[i])  # its row now holds every pair

    def _save_network(self, trial: int) -> None:
        """Write one held network's operator and its distances to every cached network."""
        row = self._index[trial]
        partners = [r for r, key in enumerate(self._keys) if key in self._record_ids and r != row]
        trials = np.array([self._keys[r] for r in partners], dtype=np.int64)
        ids = np.array([self._record_ids[t] for t in trials], dtype=np.int64)
        rid = self._record_ids[trial]
        if row not in self._unloaded:
            self._cache.save_operator(trial, rid, self._operators[row])
        self._cache.save_row(trial, rid, trials, ids, self._distances[row, partners])

    def _cache_sync(self, study: Any, trials: list, artifact_store: Any | None,
                    added: list) -> None:  # fmt: skip
        with self._lock:
            self._sync(study, trials, artifact_store, added)

    def _sync(self, study: Any, trials: list, artifact_store: Any | None, added: list) -> None:
        by_number = {trial.number: trial for trial in trials}
        for key in added:  # release what was read; features re-read it when asked
            if key in self._pending and key not in self._features:
                del self._pending[key]
                self._sources[key] = _source(self, study, by_number[key], artifact_store)
        cache = self._open_cache(study, artifact_store)
        if cache is None:
            return
        ids = _reference_ids(study, trials, self.layer, self._records_in, self._record_ids)
        todo = [key for key in self._keys if key in ids and key not in self._record_ids]
        for key in todo:
            self._record_ids[key] = ids[key]
        for key in todo:
            self._save_network(key)
        if todo and self.labels is not None:
            cache.save_labels(self.labels)


    # -- the last PHATE fit, so a restart does not refit a thousand networks to annotate one
    def _fit_path(self, fit_key: tuple) -> Path | None:
        if self._cache is None:
            return None
        tag = hashlib.sha1(repr(fit_key).encode()).hexdigest()[:12]
        return self._cache.directory / f"embed-{tag}.npy"

    def _save_fit(self, fit_key: tuple, coords: np.ndarray) -> None:
        """Store a full fit: rows trial numbers, record ids, then each coordinate's bits."""
        path = self._fit_path(fit_key)
        if path is None or not all(k in self._record_ids for k in self._keys):
            return
        trials = np.array(self._keys, dtype=np.int64)
        ids = np.array([self._record_ids[k] for k in self._keys], dtype=np.int64)
        bits = np.ascontiguousarray(coords.T, dtype=np.float64).view(np.int64)
        table = np.vstack([trials, ids, bits])
        self._cache._write(path, lambda f: np.save(f, table))

    def _load_fit(self, fit_key: tuple) -> tuple[list, np.ndarray, int] | None:
        """The cached fit, restricted to the networks held with the same record."""
        path = self._fit_path(fit_key)
        if path is None or not path.exists():
            return None
        try:
            table = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None
        if table.dtype != np.int64 or table.ndim != 2 or len(table) < 3:
            return None
        # networks of the fit that are no longer held (a dropped record, another
        # worker's fit) are left out; the fit is used while it covers most networks
        keep = [i for i, (k, rid) in enumerate(zip(table[0].tolist(), table[1].tolist(), strict=True))
                if k in self._index and self._record_ids.get(k) == rid]  # fmt: skip
        if len(keep) < max(3, len(self._keys) // 2):
            return None
        coords = np.ascontiguousarray(table[2:]).view(np.float64).T[keep].copy()
        return [int(table[0, i]) for i in keep], coords, len(keep)


def _source(manifold: Any, study: Any, trial: Any, artifact_store: Any | None):
    """A function that re-reads one trial's representation from the artifact store."""

    def read() -> np.ndarray:
        from manifold_search.records import collapse_nonfinite
        from manifold_search.representations import load_network

        arrays = load_network(study, trial, artifact_store)
        return collapse_nonfinite(arrays[manifold.layer], trial.number)

    return read
