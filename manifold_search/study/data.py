"""What the report and the explore page show about a study, gathered once.

:func:`collect` reads the trials, rebuilds the network manifold from the study's
storage and artifact store (PHATE layout, features), and keeps notes of what is
missing; :func:`find_baselines` looks for random-search studies of the same space
in the same storage. Plots and pages only draw what is gathered here.
"""

from __future__ import annotations

import contextlib
import json
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from manifold_search._attrs import PLACEMENT, RUN, read_attr
from manifold_search.samplers import sampler_defaults
from manifold_search.study.storage import ReportError, open_storage

#: The manifold features shown: (attribute name, title, what it measures).
FEATURES: tuple[tuple[str, str, str], ...] = (
    ("class_separation", "class separation", "between- over within-class spread of the probe points"),
    ("ward_label_agreement", "Ward label agreement", "agreement of the Ward hierarchy's clusters with the classes"),
    ("spectral_entropy", "spectral entropy", "diffusion spectral entropy (nats)"),
    ("h1_total_persistence", "H1 total persistence", "total persistence of loops (persistent homology)"),
)
N_MARKED = 3  # best trials marked on the manifold


@dataclass
class Baseline:
    """Objective values of a random-search run of the same space, in trial order."""

    label: str
    values: list[float]
    source: str
    note: str = ""


@dataclass
class StudyData:
    """Everything the report and the explorer show about one study."""

    study: optuna.Study
    meta: dict[str, Any]
    label: str
    maximize: bool
    trials: list[FrozenTrial]
    complete: list[FrozenTrial]
    keys: list[int] = field(default_factory=list)  # trial numbers on the manifold
    coords: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    features: dict[int, dict[str, float]] = field(default_factory=dict)
    region: dict[int, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sparse: list[Any] = field(default_factory=list)  # the refine stage's SparsePoints (study.sparse)

    @property
    def by_number(self) -> dict[int, FrozenTrial]:
        return {t.number: t for t in self.trials}

    def ranked(self) -> list[FrozenTrial]:
        """COMPLETE trials, best first."""
        sign = -1.0 if self.maximize else 1.0
        return sorted(self.complete, key=lambda t: (sign * t.value, t.number))

    def best_keys(self, n: int = N_MARKED) -> list[int]:
        on = set(self.keys)
        return [t.number for t in self.ranked() if t.number in on][:n]


def finite(value: Any) -> bool:
    """A finite number."""
    return isinstance(value, int | float) and math.isfinite(value)


def collect(study: optuna.Study, seed: int | None = None,
            log: Callable[[str], None] | None = None) -> StudyData:  # fmt: skip
    """Trials, the network manifold (PHATE layout, features) and notes of ``study``."""
    meta = read_attr(study.user_attrs, RUN) or {}
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    complete = [t for t in trials if t.state == TrialState.COMPLETE and finite(t.value)]
    data = StudyData(
        study=study, meta=meta, label=meta.get("objective", "objective"),
        maximize=study.direction == optuna.study.StudyDirection.MAXIMIZE,
        trials=trials, complete=complete,
    )  # fmt: skip
    if not complete:
        data.notes.append("no COMPLETE trial yet: nothing to place on the manifold")
        return data
    from manifold_search.manifold import NetworkManifold

    seed = int(meta.get("seed", 0)) if seed is None else seed
    by_number = data.by_number
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            manifold = NetworkManifold.from_study(study)
        except Exception as exc:  # e.g. the artifact store is not on this machine
            data.notes.append(f"network manifold unavailable: {type(exc).__name__}: {exc}")
            return data
        keys = list(manifold.keys)
        if log and keys:
            log(f"report: placing {len(keys)} networks on the manifold (features, PHATE)")
        for key in keys:
            stored = read_attr(by_number[key].user_attrs, PLACEMENT)
            stored = json.loads(stored) if isinstance(stored, str) else stored
            feats = (stored or {}).get("features") or {}
            if all(name in feats for name, _, _ in FEATURES):
                data.features[key] = {k: float(v) for k, v in feats.items()}
            else:
                data.features[key] = manifold.features(key)
            if isinstance(stored, dict) and finite(stored.get("region_score")):
                data.region[key] = float(stored["region_score"])
        data.keys = keys
        data.coords = manifold.embed(seed=seed) if keys else np.zeros((0, 2))
        data.sparse = _sparse_points(study, manifold, data)
    for w in caught:
        text = str(w.message)
        if "diverged" in text or "left out" in text:
            data.notes.append(text)
    missing = len(complete) - len(keys)
    if missing:
        data.notes.append(
            f"{missing} COMPLETE trial(s) recorded no network and are not on the manifold"
        )
    return data


def _sparse_points(study: optuna.Study, manifold: Any, data: StudyData) -> list[Any]:
    """The refine stage's sparse networks placed beside their originals, or a note why not."""
    from manifold_search.study.sparse import place_sparse

    try:
        return place_sparse(study, manifold, data.coords, data.notes)
    except Exception as exc:  # the picture of the dense networks never depends on them
        data.notes.append(f"sparse networks not shown: {type(exc).__name__}: {exc}")
        return []


def find_baselines(study: optuna.Study, data: StudyData,
                   storage_url: str | None) -> tuple[list[Baseline], str | None]:  # fmt: skip
    """Random-search studies of the same space in the same storage; or why there are none."""
    meta = data.meta
    sampler = (meta.get("sampler") or {}).get("name")
    if sampler == "random":
        return [], "this study is itself random search"
    found = []
    storage = None
    names: list[str] = []
    with contextlib.suppress(Exception):  # no URL, or a storage hiccup: no baseline
        storage = open_storage(storage_url, create=False) if storage_url else None
        names = optuna.get_all_study_names(storage) if storage is not None else []
    for name in names:
        if name == study.study_name:
            continue
        try:
            other = optuna.load_study(study_name=name, storage=storage)
        except Exception:  # pragma: no cover
            continue
        other_meta = read_attr(other.user_attrs, RUN) or {}
        if (other_meta.get("sampler") or {}).get("name") != "random":
            continue
        if other_meta.get("space") != meta.get("space") or other.direction != study.direction:
            continue
        values = [t.value for t in sorted(other.get_trials(deepcopy=False,
                  states=(TrialState.COMPLETE,)), key=lambda t: t.number) if finite(t.value)]  # fmt: skip
        if values:
            same_seed = other_meta.get("seed") == meta.get("seed") and startup_trials(meta)
            note = (f"same seed: its first {startup_trials(meta)} trials are this study's "
                    "random start-up trials" if same_seed else "")  # fmt: skip
            found.append(Baseline(f"random search ({name})", values, f"study {name!r}", note))
    if found:
        return found, None
    return [], (
        "no random-search baseline is available for this study: run one into the same "
        "storage with `manifold-search run CONFIG --sampler random` (or pass a baseline "
        "file to `manifold-search report --baseline`), then rerun the report"
    )


def read_baseline_file(path: str | Path) -> Baseline:
    """A baseline file: JSON ``{"label": ..., "values": [...]}`` or a list of values."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ReportError(f"--baseline {path}: unreadable ({exc}); give a JSON file "
                          '{"label": "random search", "values": [0.5, 0.61, ...]}') from None  # fmt: skip
    values = doc.get("values") if isinstance(doc, dict) else doc
    if not isinstance(values, list) or not values or not all(finite(v) for v in values):
        raise ReportError(f"--baseline {path}: needs a non-empty list of numbers as 'values' "
                          "(objective values in trial order)")  # fmt: skip
    label = doc.get("label", Path(path).stem) if isinstance(doc, dict) else Path(path).stem
    return Baseline(str(label), [float(v) for v in values], f"file {path}")


def best_so_far(values: Sequence[float], maximize: bool) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    return np.maximum.accumulate(v) if maximize else np.minimum.accumulate(v)


def importances(study: optuna.Study) -> tuple[dict[str, float], str | None]:
    """Optuna's parameter importances (PED-ANOVA by default), or why there are none."""
    n = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    if n < 2:
        return {}, f"parameter importances need at least 2 COMPLETE trials ({n} so far)"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = optuna.importance.get_param_importances(study)
    except Exception as exc:
        return {}, f"parameter importances unavailable: {type(exc).__name__}: {exc}"
    # largest first, ties by name: Optuna's order among equal importances follows set
    # iteration, which changes with the process's hash seed (reports differed run to run)
    ranked = sorted(((k, float(v)) for k, v in values.items() if finite(v)), key=lambda kv: (-kv[1], kv[0]))
    values = dict(ranked)
    if not values:
        return {}, "parameter importances unavailable: the evaluator returned none"
    return values, None


def spearman(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Spearman's rho and its p-value (nan when undefined: < 3 points or constant)."""
    from scipy.stats import spearmanr

    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan
    result = spearmanr(x, y)
    return float(result.statistic), float(result.pvalue)


def startup_trials(meta: dict[str, Any]) -> int | None:
    """Random start-up trials of the study's sampler: its option, else its class default."""
    sampler = meta.get("sampler") or {}
    options = sampler.get("options") or {}
    value = options.get("n_startup_trials")
    if value is None and sampler.get("name"):
        value = sampler_defaults(sampler["name"]).get("n_startup_trials")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def categorical_params(data: StudyData) -> list[str]:
    """Categorical parameters set in every network's trial (e.g. the architecture family)."""
    by_number = data.by_number
    trials = [by_number[k] for k in data.keys]
    if not trials:
        return []
    return [name for name, dist in trials[0].distributions.items()
            if isinstance(dist, optuna.distributions.CategoricalDistribution)
            and all(name in t.params for t in trials)]  # fmt: skip
