"""``ManifoldSampler``: an Optuna sampler that searches the manifold of trained networks.

How it proposes a trial, once ``n_startup_trials`` random trials have finished
(each step is one method of :class:`ManifoldSampler`, called in this order by
``_propose``, which returns a :class:`manifold_search.proposal.Proposal`):

1. **Gather** (:func:`manifold_search._history.gather`). The finished trials with a finite observation (a
   pruned trial counts with its last report) and the running trials of other
   workers, oriented so that higher is better.
2. **Place networks** (``_place_networks``). Every finished trial that recorded its
   network (``record_network``) is placed on the network manifold: its diffusion
   operator on the probe set and its distances to the networks before it
   (incremental; records are read through the study's artifact store, so any
   worker process can; a record that cannot be read is skipped with a warning).
3. **Measure trials** (``_measure_trials``). Distances between trials: network
   distances where both recorded a network, parameter distances (rescaled to the
   same median) elsewhere. With ``metric="network"`` also one weight per
   parameter, fitted to the network distances by non-negative least squares
   (:mod:`manifold_search._surrogate`); the default ``metric="uniform"`` weighs
   every parameter alike.
4. **Score regions** (``_score_regions``). Among the top trials, those with many
   top networks close by are the anchors (:mod:`manifold_search.proposal`).
5. **Generate candidates** (``_generate_candidates``). ``mutations_per_anchor``
   mutations of each anchor (one or two parameters changed, with the top
   region's own spread) and ``n_candidates`` random configurations; those
   already tried or running in other workers are dropped.
6. **Fit the surrogate** (``_fit_surrogate``). A GP over the parameters with that
   metric; running trials enter as pessimistic "lies" (TPE's constant liar).
7. **Choose** (``_choose``). The candidate with the highest expected improvement,
   raised for candidates predicted to land in dense, high-performing regions.
8. **Record** (``_record``). Why it was chosen goes to the trial's
   ``manifold_search:proposal`` attribute (shown by optuna-dashboard).

Without recorded networks it does the same with parameter distances in place
of network distances and says so once; with the default ``surrogate="auto"`` the
GP then learns one length scale per parameter and the choice is a local search of
log EI (:mod:`manifold_search._acquisition`), which is level with Optuna's
GPSampler where the uniform GP was not. The full configuration is decided at the
trial's first parameter request and then handed out parameter by parameter, so
conditional (define-by-run) spaces work; a parameter never seen before is
sampled uniformly at random.

Example:
    >>> import optuna
    >>> from manifold_search import ManifoldSampler
    >>> study = optuna.create_study(sampler=ManifoldSampler(seed=0, n_startup_trials=5))
    >>> study.optimize(lambda t: (t.suggest_float("x", -3, 3) - 1) ** 2, n_trials=12)
    >>> abs(study.best_params["x"] - 1) < 1.0
    True
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from manifold_search import _feature_link, _optuna_compat
from manifold_search._acquisition import climb, landing_scores
from manifold_search._ard_gp import ArdGP
from manifold_search._attrs import PROPOSAL
from manifold_search._claims import claim, taken_by_others
from manifold_search._history import History, gather
from manifold_search._mixed_gp import MixedGP
from manifold_search._placement import annotate_placement
from manifold_search._surrogate import (
    SELECT_POINTS,
    MetricGP,
    expected_improvement,
    fit_metric,
    squared_param_distances,
)
from manifold_search.manifold import NetworkManifold
from manifold_search.proposal import (
    CandidateGenerator,
    Config,
    Proposal,
    choose_anchors,
    config_key,
    region_scores,
)
from manifold_search.representations import network_reference

_logger = logging.getLogger(__name__)

#: Choices a proposal makes at most when concurrent workers keep claiming its pick first.
_CLAIM_ATTEMPTS = 4
#: After a clash, the next choice is one of this many best candidates at random.
_SPREAD = 5


def _require_single_objective(study: Study) -> None:
    if len(study.directions) > 1:
        raise ValueError(
            "ManifoldSampler supports single-objective studies only; use "
            "optuna.samplers.NSGAIISampler or TPESampler for multi-objective studies"
        )


@dataclass(frozen=True)
class _TrialGeometry:
    """Distances between the finished trials, and the surrogate's metric over parameters."""

    region_d: np.ndarray  # k x k: network distances where both recorded one, else parameters
    weights: np.ndarray  # one per encoder column (uniform unless metric="network")
    network: bool  # whether network distances entered
    with_net: list[int] | None = None  # indexes into the history of trials with a network
    net_d: np.ndarray | None = None  # their network distances


@dataclass(frozen=True)
class _Regions:
    scores: np.ndarray  # density of top trials around each finished trial
    top_mask: np.ndarray
    anchors: np.ndarray  # indexes into the history


class ManifoldSampler(BaseSampler):
    """Propose configurations from dense, high-performing regions of the network manifold.

    Args:
        seed: seeds the startup sampler and every proposal; the same seed and the
            same finished trials give the same proposal.
        n_startup_trials: finished trials (complete, or pruned after a report: as TPE counts
            them) drawn by random sampling before the model is used.
        n_candidates: random candidates scored per proposal (besides mutations).
        n_anchors: anchors (top trials in dense regions) mutated per proposal.
        mutations_per_anchor: candidates made from each anchor (two thirds change one
            parameter, the rest two).
        distance: ``"network"`` (the manifold; default) or ``"params"`` (the same
            method with parameter distances in place of network distances: the
            ablation, and what happens when no network is recorded).
        metric: the GP's metric over parameters: ``"uniform"`` (every parameter
            alike, length scale by marginal likelihood; the default) or
            ``"network"`` (one weight per parameter fitted to the network distances).
        region_weight: how strongly the acquisition prefers candidates predicted
            to land in dense, high-performing regions of the manifold
            (``expected improvement x (1 + region_weight x region score)``).
        surrogate: ``"auto"`` (the default): ``"ard"`` while fewer than 3 finished
            trials recorded a network, ``"uniform"`` once the manifold is there
            (``distance="params"``, the ablation, keeps ``"uniform"`` so that it
            changes the distance alone). ``"uniform"``: a squared-exponential GP
            with the ``metric`` above, EI over the candidate pool; what the
            manifold was developed with. ``"ard"``: a Matern 5/2 GP with one length
            scale per parameter, log EI, and local search from the best
            candidates (:mod:`manifold_search._acquisition`); without records it is
            level with Optuna's GPSampler on four tables over 100 seeds, where
            ``"uniform"`` trails it on two (docs/sampler_v2.md).
        feature_weight: how strongly region scores follow the networks' manifold
            features, as linked to the objective within the study by a ridge
            regression (scaled by its leave-one-out R^2; 0, the default, is off;
            :mod:`manifold_search._feature_link`).
        kernel: the surrogate's distance: ``"params"`` (parameters only; the default) or
            ``"mixed"`` (``d_params^2 + beta x d_net^2``, each configuration placed among
            its nearest trained networks, ``beta`` in {0, 0.25, 1, 4} chosen by marginal
            likelihood; :mod:`manifold_search._mixed_gp`). Needs ``surrogate="uniform"``
            and ``distance="network"``.
        layer: the recorded layer to compare (``"penultimate"`` by default).
        artifact_store: where representations live, if not beside the study's storage.
        constant_liar: treat running trials of other workers as bad results.
        annotate: after each finished trial, store its network's features, region
            score and manifold coordinates as user attributes (visible in
            optuna-dashboard); costs a persistent-homology computation per trial.

    Example::

        sampler = ManifoldSampler(seed=0)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.optimize(space.objective, n_trials=50)
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        n_startup_trials: int = 10,
        n_candidates: int = 256,
        n_anchors: int = 8,
        mutations_per_anchor: int = 24,
        distance: Literal["network", "params"] = "network",
        metric: Literal["uniform", "network"] = "uniform",
        region_weight: float = 3.0,
        surrogate: Literal["auto", "uniform", "ard"] = "auto",
        feature_weight: float = 0.0,
        kernel: Literal["params", "mixed"] = "params",
        layer: str = "penultimate",
        artifact_store: Any | None = None,
        constant_liar: bool = True,
        annotate: bool = True,
    ) -> None:
        if distance not in ("network", "params"):
            raise ValueError(f"distance must be 'network' or 'params', got {distance!r}")
        if metric not in ("uniform", "network"):
            raise ValueError(f"metric must be 'uniform' or 'network', got {metric!r}")
        if surrogate not in ("auto", "uniform", "ard"):
            raise ValueError(f"surrogate must be 'auto', 'uniform' or 'ard', got {surrogate!r}")
        if not feature_weight >= 0:
            raise ValueError(f"feature_weight must be >= 0, got {feature_weight!r}")
        if kernel not in ("params", "mixed"):
            raise ValueError(f"kernel must be 'params' or 'mixed', got {kernel!r}")
        if kernel == "mixed" and (surrogate == "ard" or distance != "network"):
            raise ValueError("kernel='mixed' needs surrogate 'uniform' or 'auto' and distance='network'; "
                             f"got surrogate={surrogate!r}, distance={distance!r}")  # fmt: skip
        if n_startup_trials < 2:
            raise ValueError(f"n_startup_trials must be at least 2, got {n_startup_trials}")
        self._seed = seed if seed is not None else int(np.random.SeedSequence().entropy % 2**31)
        self._random = RandomSampler(seed=self._seed)
        self.n_startup_trials = n_startup_trials
        self.n_candidates = n_candidates
        self.n_anchors = n_anchors
        self.mutations_per_anchor = mutations_per_anchor
        self.distance = distance
        self.metric = metric
        self.region_weight = region_weight
        self.surrogate = surrogate
        self.feature_weight = feature_weight
        self.kernel = kernel
        self.layer = layer
        self.artifact_store = artifact_store
        self.constant_liar = constant_liar
        self.annotate = annotate
        self._manifold: NetworkManifold | None = None
        self._plans: dict[tuple[str, int], Config] = {}
        self._lock = threading.Lock()
        self._warned_no_records = False
        self._ard_warm: dict[str, np.ndarray] = {}  # study name -> last ArdGP hyperparameters

    def reseed_rng(self) -> None:
        """Reseed the random start-up draws (Optuna does so for ``n_jobs > 1``). Proposals
        stay seeded by ``(seed, trial number)``: distinct per trial, and reproducible."""
        self._random.reseed_rng()

    @property
    def manifold(self) -> NetworkManifold | None:
        """The network manifold of the study as of the last proposal (for plots), or None."""
        return self._manifold

    # -- Optuna's sampler interface ---------------------------------------------
    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(self, study, trial, search_space) -> dict[str, Any]:
        _require_single_objective(study)  # Optuna's contract: refuse in either entry point
        return {}

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:  # fmt: skip
        study = _optuna_compat.full_study(study)  # all brackets' networks under Hyperband
        _require_single_objective(study)
        key = (study.study_name, trial.number)
        with self._lock:
            if key not in self._plans:
                proposal = self._propose(study, trial)
                self._plans[key] = proposal.params if proposal is not None else {}
            plan = self._plans[key]
        if param_name in plan and _optuna_compat.distribution_contains(
            param_distribution, plan[param_name]
        ):
            return plan[param_name]
        return self._random.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study, trial, state, values) -> None:
        study = _optuna_compat.full_study(study)
        with self._lock:
            self._plans.pop((study.study_name, trial.number), None)
            if self.annotate and state == TrialState.COMPLETE and self.distance == "network":
                self._annotate_network(study, trial, values)

    # -- the proposal, step by step ------------------------------------------------
    def _propose(self, study: Study, trial: FrozenTrial) -> Proposal | None:
        """Steps 1-8 of the module docstring; None while starting up or out of candidates."""
        history = gather(study, self.n_startup_trials)  # step 1
        if history is None:
            return None
        rows, net_d = self._place_networks(study, history.done)
        geometry = self._measure_trials(history, rows, net_d)
        rng = np.random.default_rng([self._seed, trial.number])
        regions = self._score_regions(history, geometry)
        candidates = self._generate_candidates(history, regions, rng)
        if not candidates:
            return None
        gp = self._fit_surrogate(history, geometry, study.study_name)
        taken = taken_by_others(study, trial)  # what other workers' running trials hold
        for attempt in range(_CLAIM_ATTEMPTS):  # step 7, then a claim against concurrent workers
            proposal = self._choose(history, geometry, regions, gp, candidates, rng, taken,
                                    spread=attempt > 0)  # fmt: skip
            if not claim(study, trial, proposal.params):
                break
            clash = taken_by_others(study, trial)
            if config_key(proposal.params) not in clash:
                break
            taken |= clash
        self._record(study, trial, proposal)
        return proposal

    def _place_networks(
        self, study: Study, done: list[FrozenTrial]
    ) -> tuple[list[int] | None, np.ndarray | None]:
        """Step 2: which finished trials hold a network (indexes into ``done``) and
        their network distances; ``(None, None)`` with fewer than 3 or ``distance="params"``."""
        if self.distance == "params":
            return None, None
        if self._manifold is None:
            self._manifold = NetworkManifold(layer=self.layer)
        self._manifold.update_from_study(study, artifact_store=self.artifact_store)
        held = set(self._manifold.keys)
        with_net = [i for i, t in enumerate(done) if t.number in held]
        if len(with_net) < 3:
            if not self._warned_no_records and len(done) >= self.n_startup_trials:
                _logger.warning(
                    "ManifoldSampler: fewer than 3 finished trials recorded a network "
                    "(call manifold_search.record_network in the objective); proposing from "
                    "parameter distances alone"
                )
                self._warned_no_records = True
            return None, None
        index = {key: i for i, key in enumerate(self._manifold.keys)}
        rows = [index[done[i].number] for i in with_net]
        return with_net, self._manifold.distances()[np.ix_(rows, rows)]

    def _measure_trials(
        self, history: History, with_net: list[int] | None, net_d: np.ndarray | None
    ) -> _TrialGeometry:
        """Step 3: distances between finished trials (network where both have one,
        parameters rescaled to the same median elsewhere) and the GP's metric."""
        encoder, x = history.encoder, history.x
        weights = np.ones(len(encoder.columns))
        if len(x) > SELECT_POINTS and self.metric != "network":  # no (k, k, P) array
            param_d = None
            region_d = np.sqrt(squared_param_distances(encoder, x, x, weights))
        else:
            param_d = encoder.deltas(x, x)
            region_d = np.sqrt((param_d**2).sum(axis=2))
        if with_net is None:
            return _TrialGeometry(region_d, weights, network=False)
        if self.metric == "network":
            weights = fit_metric(param_d[np.ix_(with_net, with_net)], net_d, seed=self._seed)
        iu = np.triu_indices(len(with_net), 1)
        sub = region_d[np.ix_(with_net, with_net)]
        region_d = region_d * (np.median(net_d[iu]) / max(np.median(sub[iu]), 1e-12))
        region_d[np.ix_(with_net, with_net)] = net_d
        return _TrialGeometry(region_d, weights, network=True, with_net=with_net, net_d=net_d)

    def _score_regions(self, history: History, geometry: _TrialGeometry) -> _Regions:
        """Step 4: region scores of the finished trials and the anchors among the top."""
        scores, top_mask = region_scores(geometry.region_d, history.values)
        if self.feature_weight > 0 and geometry.with_net is not None:
            scores = self._feature_scores(history, geometry, scores)
        anchors = choose_anchors(scores, top_mask, history.values, self.n_anchors)
        return _Regions(scores, top_mask, anchors)

    def _feature_scores(self, history: History, geometry: _TrialGeometry,
                        scores: np.ndarray) -> np.ndarray:  # fmt: skip
        """Step 4b (``feature_weight > 0``): region scores blended with the objective
        predicted from the networks' features (:mod:`manifold_search._feature_link`)."""
        rows = geometry.with_net
        table = self._manifold.features()
        names = sorted(next(iter(table.values())))
        feats = np.array([[table[history.done[i].number][n] for n in names] for i in rows])
        predicted, r2 = _feature_link.feature_link(feats, geometry.net_d, history.values[rows])
        return _feature_link.blend(scores, predicted, rows, r2, self.feature_weight)

    def _generate_candidates(
        self, history: History, regions: _Regions, rng: np.random.Generator
    ) -> list[Config]:
        """Step 5: mutations of the anchors and random configurations, none tried or running."""
        configs = history.configs
        generator = CandidateGenerator(history.encoder.distributions, configs, rng)
        candidates = generator.generate(
            [configs[i] for i in regions.anchors],
            [configs[i] for i in np.flatnonzero(regions.top_mask)],
            self.n_candidates,
            self.mutations_per_anchor,
        )
        unique: dict[tuple, Config] = {}
        for c in candidates:
            key = config_key(c)
            if key not in history.seen and key not in unique:
                unique[key] = c
        return list(unique.values())

    def _uses_ard(self, geometry: _TrialGeometry) -> bool:
        """``surrogate="auto"`` takes ARD where no manifold is there to use."""
        if self.surrogate == "auto":
            return geometry.with_net is None and self.distance == "network"
        return self.surrogate == "ard"

    def _fit_surrogate(self, history: History, geometry: _TrialGeometry,
                       study_name: str) -> MetricGP | ArdGP:  # fmt: skip
        """Step 6: the GP over parameters; running trials enter as pessimistic lies.
        ``surrogate="ard"`` starts from this study's previous fit (a study resumed in a
        new process starts afresh, so its proposals can differ from an unbroken run's)."""
        train_x, train_y = history.x, history.values
        if self.constant_liar and history.running:
            lies = history.encoder.encode([t.params for t in history.running])
            train_x = np.vstack([history.x, lies])
            train_y = np.concatenate([history.values, np.full(len(lies), history.values.min())])
        if self._uses_ard(geometry):
            gp = ArdGP(history.encoder.deltas, n_restarts=1, seed=self._seed, max_iter=60,
                       warm_start=self._ard_warm.get(study_name)).fit(train_x, train_y)  # fmt: skip
            self._ard_warm[study_name] = gp.params
            return gp
        if self.kernel == "mixed" and geometry.with_net is not None:
            return MixedGP(geometry.weights, history.encoder.deltas, history.x[geometry.with_net],
                           geometry.net_d).fit(train_x, train_y)  # fmt: skip
        return MetricGP(geometry.weights, history.encoder.deltas).fit(train_x, train_y)

    def _choose(self, history: History, geometry: _TrialGeometry, regions: _Regions,
                gp: MetricGP | ArdGP, candidates: list[Config], rng: np.random.Generator,
                taken: set[tuple] = frozenset(), spread: bool = False) -> Proposal:  # fmt: skip
        """Step 7: the candidate of highest expected improvement, raised where it is
        predicted to land in a dense, high-performing region (the finished trials'
        region scores smoothed onto the candidates by the GP kernel); none of ``taken``
        (configurations other workers' running trials claimed). ``spread``: one of the
        best few at random, so that two workers that met on one choice part."""
        scores = regions.scores
        if taken:
            candidates = [c for c in candidates if config_key(c) not in taken] or candidates
        if isinstance(gp, ArdGP):
            params, mean, std = climb(history, gp, scores, self.region_weight, candidates, rng, taken)
            weights = gp.theta / gp.theta.mean()
        else:
            cand_x = history.encoder.encode(candidates)
            means, stds = gp.predict(cand_x)
            ei = expected_improvement(means, stds, float(history.values.max()))
            landing = landing_scores(gp.kernel(cand_x, history.x), scores)
            acquisition = ei * (1.0 + self.region_weight * landing / max(float(scores.max()), 1e-12))
            best = int(np.argmax(acquisition + 1e-12 * rng.random(len(ei))))
            if spread:
                best = int(rng.choice(np.argsort(-acquisition)[:_SPREAD]))
            params, mean, std, weights = candidates[best], means[best], stds[best], geometry.weights
        anchors = regions.anchors
        return Proposal(
            params=params,
            anchors=[history.done[i].number for i in anchors[:3]],
            region_score=float(scores[anchors[0]]) if len(anchors) else None,
            predicted_value=float(history.sign * mean),
            predicted_std=float(std),
            metric_weights={
                n: round(float(w), 4) for n, w in zip(history.encoder.columns, weights, strict=True)
            },
            distance="network" if geometry.network else "params",
            network_beta=gp.beta if isinstance(gp, MixedGP) else None,
            surrogate="ard" if isinstance(gp, ArdGP) else "uniform",
        )

    def _record(self, study: Study, trial: FrozenTrial, proposal: Proposal) -> None:
        """Step 8: why this configuration, as a JSON user attribute of the trial."""
        try:
            _optuna_compat.set_trial_user_attr(study, trial, PROPOSAL, proposal.as_attr())
        except Exception as error:  # the proposal itself must not fail on a storage hiccup
            _logger.debug("could not annotate trial %d: %s", trial.number, error)

    # -- after a trial: its place on the manifold ----------------------------------
    def _annotate_network(self, study: Study, trial: FrozenTrial, values) -> None:
        """Place the finished trial's network on the manifold and annotate the trial."""
        if network_reference(trial) is None:
            return
        if self._manifold is None:
            self._manifold = NetworkManifold(layer=self.layer)
        annotate_placement(self._manifold, study, trial, values, self.artifact_store, self._seed)


__all__ = ["ManifoldSampler"]
