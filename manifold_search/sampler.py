"""``ManifoldSampler``: an Optuna sampler that searches the manifold of trained networks.

How it proposes a trial, once ``n_startup_trials`` random trials have finished:

1. **Fit.** Every finished trial that recorded its network (``record_network``)
   is placed on the network manifold: its diffusion operator on the probe set
   and its distances to the networks before it (incremental; representations
   are read through the study's artifact store, so any worker process can).
2. **Learn a metric.** Non-negative least squares of the squared network
   distances on squared per-parameter differences gives one weight per
   parameter: how much changing it changes what the network computes
   (:mod:`manifold_search._surrogate`). A GP over parameters with that metric
   predicts the objective of untried configurations.
3. **Score regions.** Among the top trials, those with many top networks close
   by on the manifold are the anchors (:mod:`manifold_search.proposal`).
4. **Propose.** Candidates are drawn around anchors (one or two parameters
   changed, with the top region's own spread) and at random; the one with the
   highest expected improvement under the GP is chosen; configurations already
   tried or running in other workers are skipped (running trials also enter
   the GP as pessimistic "lies", like TPE's constant liar).

Without recorded networks it does the same with parameter distances in place
of network distances and says so once. The full configuration is decided at the
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
from typing import Any, Literal

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from manifold_search._params import ParamEncoder
from manifold_search._surrogate import MetricGP, expected_improvement, fit_metric
from manifold_search.manifold import NetworkManifold, collapse_nonfinite
from manifold_search.proposal import CandidateGenerator, choose_anchors, config_key, region_scores
from manifold_search.representations import load_network, network_reference

_logger = logging.getLogger(__name__)

ATTR_PROPOSAL = "manifold_search:proposal"
ATTR_NETWORK = "manifold_search:manifold"


def _observed(trial: FrozenTrial) -> float:
    """What a trial tells about its configuration: its value, a pruned trial's last
    intermediate value, else NaN (running trials, pruned before any report, NaN reports)."""
    if trial.state == TrialState.COMPLETE:
        return float(trial.value)
    if trial.state == TrialState.PRUNED and trial.intermediate_values:
        return float(trial.intermediate_values[max(trial.intermediate_values)])
    return float("nan")


class ManifoldSampler(BaseSampler):
    """Propose configurations from dense, high-performing regions of the network manifold.

    Args:
        seed: seeds the startup sampler and every proposal; the same seed and the
            same finished trials give the same proposal.
        n_startup_trials: trials drawn by random sampling before the model is used.
        n_candidates: random candidates scored per proposal (besides mutations).
        n_anchors: anchors (top trials in dense regions) mutated per proposal.
        distance: ``"network"`` (the manifold; default) or ``"params"`` (the same
            method with parameter distances in place of network distances: the
            ablation, and what happens when no network is recorded).
        metric: the GP's metric over parameters: ``"uniform"`` (every parameter
            alike, length scale by marginal likelihood) or ``"network"`` (one
            weight per parameter fitted to the network distances).
        region_weight: how strongly the acquisition prefers candidates predicted
            to land in dense, high-performing regions of the manifold
            (``expected improvement x (1 + region_weight x region score)``).
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
        layer: str = "penultimate",
        artifact_store: Any | None = None,
        constant_liar: bool = True,
        annotate: bool = True,
    ) -> None:
        if distance not in ("network", "params"):
            raise ValueError(f"distance must be 'network' or 'params', got {distance!r}")
        if metric not in ("uniform", "network"):
            raise ValueError(f"metric must be 'uniform' or 'network', got {metric!r}")
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
        self.layer = layer
        self.artifact_store = artifact_store
        self.constant_liar = constant_liar
        self.annotate = annotate
        self._manifold: NetworkManifold | None = None
        self._plans: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._warned_no_records = False

    def reseed_rng(self) -> None:
        self._random.reseed_rng()

    # -- Optuna's sampler interface ---------------------------------------------
    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(self, study, trial, search_space) -> dict[str, Any]:
        return {}

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:  # fmt: skip
        if study._is_multi_objective():
            raise ValueError(
                "ManifoldSampler supports single-objective studies only; use "
                "optuna.samplers.NSGAIISampler or TPESampler for multi-objective studies"
            )
        with self._lock:
            if trial._trial_id not in self._plans:
                self._plans[trial._trial_id] = self._propose(study, trial)
            plan = self._plans[trial._trial_id]
        if param_name in plan:
            value = plan[param_name]
            try:
                if param_distribution._contains(param_distribution.to_internal_repr(value)):
                    return value
            except (ValueError, TypeError):
                pass
        return self._random.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study, trial, state, values) -> None:
        with self._lock:
            self._plans.pop(trial._trial_id, None)
            if self.annotate and state == TrialState.COMPLETE and self.distance == "network":
                self._annotate_network(study, trial, values)

    def _annotate_network(self, study: Study, trial: FrozenTrial, values) -> None:
        """Place the finished trial's network on the manifold; store its features,
        region score and manifold coordinates as user attributes (JSON)."""
        if network_reference(trial) is None:
            return
        if self._manifold is None:
            self._manifold = NetworkManifold(layer=self.layer)
        manifold = self._manifold
        try:
            if trial.number not in manifold:
                arrays = load_network(study, trial, self.artifact_store)
                rep = collapse_nonfinite(arrays[self.layer], trial.number)
                manifold.add(trial.number, rep, arrays.get("__labels__"))
            features = manifold.features(trial.number)
        except (KeyError, ValueError, OSError) as error:
            _logger.warning("trial %d: network not placed on the manifold (%s)", trial.number, error)
            return
        info: dict[str, Any] = {"features": {k: round(float(v), 6) for k, v in features.items()}}
        keys = manifold.keys
        if len(keys) >= 3:
            sign = 1.0 if study.direction == StudyDirection.MAXIMIZE else -1.0
            finished = {t.number: t.value for t in study.get_trials(
                deepcopy=False, states=(TrialState.COMPLETE,))}  # fmt: skip
            finished[trial.number] = values[0]
            rows = [i for i, k in enumerate(keys) if k in finished]
            y = np.array([sign * finished[keys[i]] for i in rows])
            d = manifold.distances()[np.ix_(rows, rows)]
            scores, _ = region_scores(d, y)
            info["region_score"] = round(float(scores[rows.index(keys.index(trial.number))]), 6)
            # PHATE is refitted on every change (about 15 ms for 200 networks)
            coords = manifold.embed(seed=self._seed)[keys.index(trial.number)]
            info["coordinates"] = [round(float(c), 6) for c in coords]
        try:
            study._storage.set_trial_user_attr(trial._trial_id, ATTR_NETWORK, info)
        except Exception as error:
            _logger.debug("could not annotate trial %d: %s", trial.number, error)

    # -- the method -------------------------------------------------------------
    def _history(self, study: Study) -> tuple[list[FrozenTrial], list[FrozenTrial]]:
        trials = study._get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED,
                                                            TrialState.RUNNING), use_cache=True)  # fmt: skip
        done = [t for t in trials if np.isfinite(_observed(t))]
        running = [t for t in trials if t.state == TrialState.RUNNING and t.params]
        return done, running

    def _propose(self, study: Study, trial: FrozenTrial) -> dict[str, Any]:
        done, running = self._history(study)
        complete = [t for t in done if t.state == TrialState.COMPLETE]
        if len(complete) < self.n_startup_trials:
            return {}
        sign = 1.0 if study.direction == StudyDirection.MAXIMIZE else -1.0
        values = np.array([sign * _observed(t) for t in done])
        distributions: dict[str, BaseDistribution] = {}
        for t in done:
            distributions.update(t.distributions)
        configs = [dict(t.params) for t in done]
        encoder = ParamEncoder(distributions)
        x = encoder.encode(configs)
        param_d = encoder.deltas(x, x)

        # distances between trials for the region scores: network distances where both
        # recorded a network, else (and in the ablation) distances over the parameters
        with_net, net_d = self._network_distances(study, done)
        weights = np.ones(len(encoder.columns))  # the GP's metric (uniform unless metric="network")
        region_d = np.sqrt((param_d**2).sum(axis=2))
        if with_net is not None:
            if self.metric == "network":
                weights = fit_metric(param_d[np.ix_(with_net, with_net)], net_d, seed=self._seed)
            iu = np.triu_indices(len(with_net), 1)
            sub = region_d[np.ix_(with_net, with_net)]
            region_d = region_d * (np.median(net_d[iu]) / max(np.median(sub[iu]), 1e-12))
            region_d[np.ix_(with_net, with_net)] = net_d

        rng = np.random.default_rng([self._seed, trial.number])
        scores, top_mask = region_scores(region_d, values)
        anchors = choose_anchors(scores, top_mask, values, self.n_anchors)
        generator = CandidateGenerator(distributions, configs, rng)
        candidates = generator.generate(
            [configs[i] for i in anchors], [configs[i] for i in np.flatnonzero(top_mask)],
            self.n_candidates, self.mutations_per_anchor,
        )  # fmt: skip
        seen = {config_key(c) for c in configs} | {config_key(t.params) for t in running}
        unique: dict[tuple, dict[str, Any]] = {}
        for c in candidates:
            key = config_key(c)
            if key not in seen and key not in unique:
                unique[key] = c
        if not unique:
            return {}
        candidates = list(unique.values())

        # GP surrogate over the parameters; running trials enter as pessimistic lies
        train_x, train_y = x, values
        if self.constant_liar and running:
            train_x = np.vstack([x, encoder.encode([t.params for t in running])])
            train_y = np.concatenate([values, np.full(len(running), values.min())])
        gp = MetricGP(weights, encoder.deltas).fit(train_x, train_y)
        cand_x = encoder.encode(candidates)
        mean, std = gp.predict(cand_x)
        ei = expected_improvement(mean, std, float(values.max()))
        # prefer candidates predicted to land in dense, high-performing regions: the
        # region scores of the finished trials, smoothed onto candidates by the GP kernel
        kernel = gp.kernel(cand_x, x)
        landing = (kernel @ scores) / np.maximum(kernel.sum(axis=1), 1e-12)
        acquisition = ei * (1.0 + self.region_weight * landing / max(float(scores.max()), 1e-12))
        best = int(np.argmax(acquisition + 1e-12 * rng.random(len(ei))))
        self._annotate(study, trial, done, anchors, scores, mean[best], std[best], weights, encoder)
        return candidates[best]

    @property
    def manifold(self) -> NetworkManifold | None:
        """The network manifold of the study as of the last proposal (for plots), or None."""
        return self._manifold

    def _network_distances(self, study: Study, done: list[FrozenTrial]):
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

    def _annotate(self, study, trial, done, anchors, scores, mean, std, weights, encoder) -> None:
        """JSON user attributes that optuna-dashboard shows for the proposed trial."""
        sign = 1.0 if study.direction == StudyDirection.MAXIMIZE else -1.0
        info = {
            "anchors": [done[i].number for i in anchors[:3]],
            "region_score": float(scores[anchors[0]]) if len(anchors) else None,
            "predicted_value": float(sign * mean),
            "predicted_std": float(std),
            "metric_weights": {n: round(float(w), 4) for n, w in zip(encoder.columns, weights, strict=True)},
            "distance": "network" if self._manifold is not None and len(self._manifold) >= 3
            else "params",
        }
        try:
            study._storage.set_trial_user_attr(trial._trial_id, ATTR_PROPOSAL, info)
        except Exception as error:  # the proposal itself must not fail on a storage hiccup
            _logger.debug("could not annotate trial %d: %s", trial.number, error)


__all__ = ["ManifoldSampler"]
