"""NetworkManifold: a study's trained networks, their distances, features and layout.

A hyperparameter study finishes one network at a time, and every sampler call needs
the current distances. Recomputing all ``k^2 / 2`` distances each time would make the
sampler quadratic per trial, so the manifold *grows*: adding the ``k``-th network
builds its diffusion operator once (cached, float32) and computes only its ``k - 1``
new distances. Features are computed on first request and cached; the PHATE layout
is refitted when asked for (PHATE cannot place new points into a precomputed-distance
embedding) and cached for the current set of networks.

Everything can be rebuilt in a fresh process from the study's storage
(:meth:`NetworkManifold.from_study`), because representations live in the study's
artifact store (see :mod:`manifold_search.representations`).

Example:
    >>> import numpy as np
    >>> from manifold_search.manifold import NetworkManifold
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat(np.arange(4), 16)
    >>> manifold = NetworkManifold()
    >>> for key in range(5):
    ...     manifold.add(key, rng.normal(size=(64, 10 + key)), labels)
    >>> manifold.distances().shape, manifold.embed(seed=0).shape
    ((5, 5), (5, 2))
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable
from typing import Any

import numpy as np
import optuna

from manifold_search._manifold_cache import CacheMixin
from manifold_search.embedding import needs_refit, phate_embedding, place_among
from manifold_search.features import DEFAULT_TDA_POINTS, diagram_distance, network_features
from manifold_search.geometry import (
    DEFAULT_KNN,
    Bandwidth,
    as_representation,
    cross_network_distances,
    distances_to,
    network_distances,
    operator_from_distances,
    pairwise_distances,
    single_threaded_blas,
)
from manifold_search.records import read_networks
from manifold_search.representations import DEFAULT_LAYER


class NetworkManifold(CacheMixin):
    """The networks of one study (keyed by trial number), grown one network at a time.

    Args:
        bandwidth: diffusion bandwidth (see :func:`manifold_search.geometry.affinity`);
            ``"median"`` (default) is scale-free, ``"fixed"`` is the paper's 0.5.
        knn: neighbour rank for ``bandwidth="knn"``.
        spectral_t: diffusion time of the spectral entropy feature.
        tda_points: probe points kept for persistent homology.
        layer: the recorded layer :meth:`from_study` reads.
        cache: where :meth:`update_from_study` keeps operators and distances so that a
            restart does not recompute them: ``"auto"`` (beside a file artifact store,
            see :mod:`manifold_search._manifold_cache`), a folder, or None (off).

    Attributes:
        n_distance_computations: network distances computed so far (each new network
            adds exactly the number of networks already held).
    """

    def __init__(
        self,
        bandwidth: Bandwidth = "median",
        knn: int = DEFAULT_KNN,
        spectral_t: int = 1,
        tda_points: int | None = DEFAULT_TDA_POINTS,
        layer: str = DEFAULT_LAYER,
        cache: str | None = "auto",
    ) -> None:
        self.bandwidth = bandwidth
        self.knn = knn
        self.spectral_t = spectral_t
        self.tda_points = tda_points
        self.layer = layer
        self.labels: np.ndarray | None = None
        self.n_points: int | None = None
        self.n_distance_computations = 0
        self._keys: list[Hashable] = []
        self._index: dict[Hashable, int] = {}
        self._operators = np.zeros((0, 0), dtype=np.float32)  # capacity x n^2
        self._distances = np.zeros((0, 0), dtype=np.float64)  # capacity x capacity
        self._pending: dict[Hashable, np.ndarray] = {}  # representations awaiting features
        self._sources: dict[Hashable, Callable[[], np.ndarray]] = {}  # re-read a released one
        self._features: dict[Hashable, dict[str, float]] = {}
        self._diagrams: dict[Hashable, list[np.ndarray]] = {}
        self._wasserstein: dict[int, np.ndarray] = {}
        self._fits: dict[tuple[Any, ...], tuple[list[Hashable], np.ndarray, int]] = {}
        self._lock = threading.RLock()
        #: trials whose record could not be read at the last attempt: {trial number: problem}
        self.skipped: dict[Hashable, str] = {}
        self._init_cache(cache)

    # ------------------------------------------------------------------ container

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._index

    @property
    def keys(self) -> list[Hashable]:
        """Network keys (trial numbers) in the order of the distance matrix rows."""
        return list(self._keys)

    def operator(self, key: Hashable) -> np.ndarray:
        """The cached ``n x n`` diffusion operator (float32, read-only) of one network."""
        n = self.n_points or 0
        with self._lock:
            self._load_operators()
            view = self._operators[self._row(key)].reshape(n, n)
        view.flags.writeable = False
        return view

    def _row(self, key: Hashable) -> int:
        try:
            return self._index[key]
        except KeyError:
            raise KeyError(f"the manifold holds no network {key!r}; add it first") from None

    # ------------------------------------------------------------------ growing

    def _prepare(
        self, key: Hashable, representation: np.ndarray, labels: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Validate one network; return (float32 representation, flat operator)."""
        if key in self._index:
            raise ValueError(f"the manifold already holds network {key!r}; keys must be unique")
        x = as_representation(representation, name=f"representation of network {key!r}")
        if self.n_points is not None and len(x) != self.n_points:
            raise ValueError(
                f"representation of network {key!r} has {len(x)} probe points but this "
                f"manifold's networks have {self.n_points}; record every network on the "
                "same probe set (the study's Probe)"
            )
        if labels is not None:
            labels = np.asarray(labels).reshape(-1)
            if len(labels) != len(x):
                raise ValueError(
                    f"network {key!r} has {len(x)} probe points but {len(labels)} labels; "
                    "pass the probe set's labels"
                )
            if self.labels is not None and not np.array_equal(labels, self.labels):
                raise ValueError(
                    f"labels of network {key!r} differ from the manifold's probe labels; "
                    "all networks must be recorded on the same probe set"
                )
        with single_threaded_blas():
            d = pairwise_distances(x)
            op = operator_from_distances(d, self.bandwidth, self.knn, np.float32).reshape(-1)
        return x.astype(np.float32), op

    def _reserve(self, total: int, n_entries: int) -> None:
        capacity = len(self._operators)
        if total <= capacity and self._operators.shape[1] == n_entries:
            return
        new_capacity = max(total + total // 4, 2 * capacity, 8)  # room to grow without a copy
        operators = np.zeros((new_capacity, n_entries), dtype=np.float32)
        distances = np.zeros((new_capacity, new_capacity), dtype=np.float64)
        k = len(self._keys)
        if k:
            operators[:k] = self._operators[:k]
            distances[:k, :k] = self._distances[:k, :k]
        self._operators, self._distances = operators, distances

    def _register(self, key: Hashable, x: np.ndarray | None, labels: Any) -> None:
        if self.labels is None and labels is not None:
            self.labels = np.asarray(labels).reshape(-1).copy()
        self._index[key] = len(self._keys)
        self._keys.append(key)
        if x is not None:
            self._pending[key] = x

    def add(
        self, key: Hashable, representation: np.ndarray, labels: np.ndarray | None = None
    ) -> None:
        """Add one network: its operator, and its distances to the networks already held.

        ``representation`` is the network's ``n x d`` activations on the probe set (any
        ``d``); ``labels`` the probe labels (needed once, for the features). Costs one
        operator and ``len(self)`` distances, each a pass over ``n^2`` numbers.
        """
        with self._lock, single_threaded_blas():
            x, op = self._prepare(key, representation, labels)
            self._load_operators()
            k = len(self._keys)
            if self.n_points is None:
                self.n_points = len(x)
            self._reserve(k + 1, op.size)
            self._operators[k] = op
            if k:
                new = distances_to(op, self._operators[:k])
                self._distances[k, :k] = new
                self._distances[:k, k] = new
                self.n_distance_computations += k
            self._distances[k, k] = 0.0
            self._register(key, x, labels)

    def add_many(
        self,
        items: Iterable[tuple[Hashable, np.ndarray]],
        labels: np.ndarray | None = None,
    ) -> list[Hashable]:
        """Add several networks at once, ``(key, representation)`` pairs sharing ``labels``.

        Same result as calling :meth:`add` for each, but the new distances come from
        one Gram matrix (BLAS) instead of one pass per pair: the way to load a study.
        """
        with self._lock, single_threaded_blas():
            prepared, keys, n_points = [], [], self.n_points
            try:
                for key, representation in items:
                    if key in keys:
                        raise ValueError(f"network {key!r} appears twice; keys must be unique")
                    x, op = self._prepare(key, representation, labels)
                    if self.n_points is None:
                        self.n_points = len(x)
                    prepared.append((key, x, op))
                    keys.append(key)
            except Exception:
                self.n_points = n_points  # nothing was added
                raise
            if not prepared:
                return []
            self._load_operators()
            k, m = len(self._keys), len(prepared)
            self._reserve(k + m, prepared[0][2].size)
            for i, (_, _, op) in enumerate(prepared):
                self._operators[k + i] = op
            new = self._operators[k : k + m]
            if k:
                cross = cross_network_distances(new, self._operators[:k])
                self._distances[k : k + m, :k] = cross
                self._distances[:k, k : k + m] = cross.T
            self._distances[k : k + m, k : k + m] = network_distances(new)
            self.n_distance_computations += m * k + m * (m - 1) // 2
            for key, x, _ in prepared:
                self._register(key, x, labels)
            return keys

    # ------------------------------------------------------------------ reading

    def distances(self) -> np.ndarray:
        """The ``k x k`` network distance matrix ``||P_i - P_j||_F`` (a copy, float64)."""
        k = len(self._keys)
        return self._distances[:k, :k].copy()

    def features(
        self, key: Hashable | None = None
    ) -> dict[str, float] | dict[Hashable, dict[str, float]]:
        """Features of one network (a flat dict of floats) or of all, keyed by network.

        Computed on first request (see :func:`manifold_search.features.network_features`)
        and cached; the network's representation is then released.
        """
        with self._lock:
            keys = list(self._keys) if key is None else [key]
            with single_threaded_blas():
                self._compute_features(keys)
            if key is not None:
                return dict(self._features[key])
            return {k: dict(self._features[k]) for k in keys}

    def _compute_features(self, keys: list[Hashable]) -> None:
        """Compute and cache the features of ``keys`` not computed yet."""
        for k in keys:
            self._row(k)
            if k not in self._features:
                if self.labels is None:
                    raise ValueError(
                        "features need the probe labels; pass labels= to add() or add_many()"
                    )
                x = self._pending[k] if k in self._pending else self._sources[k]()
                # the float32 distances the features were always computed from
                d = pairwise_distances(x).astype(np.float32)
                values, diagrams = network_features(
                    x,
                    self.labels,
                    bandwidth=self.bandwidth,
                    knn=self.knn,
                    t=self.spectral_t,
                    max_points=self.tda_points,
                    return_diagrams=True,
                    distances=d,
                )
                self._features[k], self._diagrams[k] = values, diagrams
                self._pending.pop(k, None)
                self._sources.pop(k, None)

    def feature_matrix(self) -> tuple[list[str], np.ndarray]:
        """Feature names and a ``k x f`` array of all networks' features (rows = keys)."""
        table = self.features()
        if not table:
            return [], np.zeros((0, 0))
        names = list(next(iter(table.values())))
        return names, np.array([[table[k][name] for name in names] for k in self._keys])

    def diagrams(self, key: Hashable) -> list[np.ndarray]:
        """The [H0, H1] persistence diagrams of one network (computes its features)."""
        self.features(key)
        return self._diagrams[key]

    def wasserstein_distances(self, dim: int = 1) -> np.ndarray:
        """Second network distance: persim Wasserstein between H``dim`` diagrams (k x k).

        Cached and grown like the diffusion distances (only new pairs are computed), but
        each pair solves an assignment problem, so it is much slower than
        :meth:`distances` (about 1-10 ms per pair).
        """
        with self._lock:
            if dim not in (0, 1):
                raise ValueError(f"diagrams are computed for dimensions 0 and 1, not {dim}")
            self.features()
            k = len(self._keys)
            old = self._wasserstein.get(dim, np.zeros((0, 0)))
            m = len(old)
            out = np.zeros((k, k))
            out[:m, :m] = old
            for i in range(m, k):
                for j in range(i):
                    a = self._diagrams[self._keys[i]][dim]
                    b = self._diagrams[self._keys[j]][dim]
                    out[i, j] = out[j, i] = diagram_distance(a, b)
            self._wasserstein[dim] = out
            return out.copy()

    def embed(
        self,
        seed: int = 0,
        n_components: int = 2,
        knn: int | None = None,
        t: int | None = None,
    ) -> np.ndarray:
        """PHATE coordinates of all networks (``k x n_components``, rows = :attr:`keys`).

        Refitted on the current distances when the manifold has changed (see
        :func:`manifold_search.embedding.phate_embedding` for ``knn`` / ``t`` defaults),
        cached otherwise. PHATE's result depends on the row order of its input, so it
        is fitted on the networks sorted by key and mapped back: the same seed and the
        same networks give the same coordinates whatever order they were added in (up
        to the ~1e-8 rounding by which distances from :meth:`add` and
        :meth:`add_many` can differ). Use :func:`manifold_search.embedding.align_to`
        to keep a displayed layout steady as networks are added.

        Above :data:`~manifold_search.embedding.EXACT_BELOW` networks a grown manifold
        is not refitted on every new network: the new ones are placed among their
        nearest fitted neighbours (:func:`~manifold_search.embedding.extend_embedding`)
        until the manifold has grown by a tenth since the last fit
        (:func:`~manifold_search.embedding.needs_refit`). The layout is only shown,
        never used to propose, so no proposal changes.
        """
        with self._lock:
            fit_key = (seed, n_components, knn, t)
            fitted = self._fits.get(fit_key) or self._load_fit(fit_key)
            same = fitted is not None and len(fitted[0]) == len(self._keys)  # the same networks
            if not same and (fitted is None or needs_refit(fitted[2], len(self._keys))):
                order = self._canonical_order()
                d = self.distances()[np.ix_(order, order)]
                coords = phate_embedding(d, n_components=n_components, seed=seed, knn=knn, t=t)
                out = np.empty_like(coords)
                out[order] = coords
                fitted = (list(self._keys), out, len(self._keys))
                self._save_fit(fit_key, out)
            elif fitted[0] != self._keys:  # the new ones placed among the fitted layout
                fitted = (list(self._keys), self._extend_fit(fitted[0], fitted[1]), fitted[2])
            self._fits[fit_key] = fitted
            return fitted[1].copy()

    def _extend_fit(self, keys: list[Hashable], coords: np.ndarray) -> np.ndarray:
        """Coordinates of every row: the fitted ``keys`` keep theirs, the others are placed."""
        rows = np.array([self._index[k] for k in keys], dtype=int)
        others = np.setdiff1d(np.arange(len(self._keys)), rows)
        out = np.empty((len(self._keys), coords.shape[1]))
        out[rows] = coords
        out[others] = place_among(coords, self._distances[np.ix_(others, rows)])
        return out

    def _canonical_order(self) -> np.ndarray:
        """Row indices sorted by key (insertion order if keys do not sort)."""
        try:
            return np.array(sorted(range(len(self._keys)), key=self._keys.__getitem__), dtype=int)
        except TypeError:
            return np.arange(len(self._keys))

    # ------------------------------------------------------------------ from a study

    @classmethod
    def from_study(
        cls,
        study: optuna.Study,
        layer: str = DEFAULT_LAYER,
        artifact_store: Any | None = None,
        **kwargs: Any,
    ) -> NetworkManifold:
        """Rebuild the manifold of a study from its storage (works in any process).

        Takes every COMPLETE trial whose user attributes hold a network reference (see
        :func:`manifold_search.representations.record_network`) and loads its ``layer``
        from the artifact store (by default the one beside the study's storage).
        ``kwargs`` go to the constructor.
        """
        manifold = cls(layer=layer, **kwargs)
        manifold.update_from_study(study, artifact_store=artifact_store)
        return manifold

    def update_from_study(
        self, study: optuna.Study, artifact_store: Any | None = None
    ) -> list[Hashable]:
        """Add the study's finished networks this manifold does not hold yet.

        Returns the trial numbers added. Trials that recorded no network are ignored;
        trials that recorded other layers than :attr:`layer` are skipped with a warning;
        a record that cannot be read is skipped with one warning (see
        :mod:`manifold_search.records`) and listed in :attr:`skipped`.
        """
        trials = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,
                                                           optuna.trial.TrialState.PRUNED))
        adopted = self._cache_adopt(study, trials, artifact_store)  # no record read for these
        items, labels = self._read(study, trials, artifact_store)
        added = self.add_many(items, labels=labels)
        self._cache_sync(study, trials, artifact_store, added)  # cache new ones, free reps
        return adopted + added

    def add_trial(
        self, study: optuna.Study, trial: optuna.trial.FrozenTrial, artifact_store: Any | None = None
    ) -> bool:
        """Add one trial's recorded network, whatever its state in storage; True if held now.

        For a sampler's ``after_trial``, where the trial is finished but not yet stored
        as COMPLETE. Reads like :meth:`update_from_study` and adds like :meth:`add`.
        """
        items, labels = self._read(study, [trial], artifact_store)
        for key, representation in items:
            self.add(key, representation, labels)
        return trial.number in self._index

    def _read(
        self, study: optuna.Study, trials: list[optuna.trial.FrozenTrial], artifact_store: Any
    ) -> tuple[list[tuple[Hashable, np.ndarray]], np.ndarray | None]:
        """The readable, not yet held networks of ``trials`` (NaN-safe), and the probe labels;
        remembers the unreadable ones in :attr:`skipped`."""
        new = [t for t in trials if t.number not in self._index]
        loaded = read_networks(study, new, self.layer, artifact_store)
        for t in new:
            self.skipped.pop(t.number, None)
        self.skipped.update(loaded.skipped)
        return loaded.items, loaded.labels
