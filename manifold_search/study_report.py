"""The study report: best trials, history against random search, importances, manifold plots.

``write_report(study, output_dir)`` writes ``report.md`` and three PNGs into the
study's report directory (``<output_dir>/report/`` for the config's own study,
``<output_dir>/report-<study name>/`` for a comparison study run with another
sampler):

* ``history.png``: every trial's objective and the best so far, against the best
  so far of a random-search study of the same space *where one is available*: a
  study in the same storage run with the random sampler (``manifold-search run
  CONFIG --sampler random``) or a baseline file. Without one the plot shows the
  study alone and the report says so: the study's own values are no baseline.
* ``manifold.png``: the network manifold, a PHATE embedding of the diffusion
  distances between the trained networks (rebuilt from the study's storage and
  artifact store), coloured by the objective and by the four manifold features,
  best trials marked.
* ``features.png``: each feature against the objective, Spearman's rank
  correlation in the titles.

The same data feed :mod:`manifold_search.explore` (an interactive HTML page).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from manifold_search.runner import ERROR_ATTR, RUN_ATTR, RUN_FILE, RunError, open_storage

#: The manifold features shown in the report: (attribute name, title, what it measures).
FEATURES: tuple[tuple[str, str, str], ...] = (
    ("class_separation", "class separation", "between- over within-class spread of the probe points"),
    ("ward_label_agreement", "Ward label agreement", "agreement of the Ward hierarchy's clusters with the classes"),
    ("spectral_entropy", "spectral entropy", "diffusion spectral entropy (nats)"),
    ("h1_total_persistence", "H1 total persistence", "total persistence of loops (persistent homology)"),
)
NETWORK_ATTR = "manifold_search:manifold"  # set by ManifoldSampler (features, coordinates)
N_BEST = 5
N_MARKED = 3
DPI = 110


class ReportError(RunError):
    """No study to report on (the message says where it looked and what to give)."""


# -- finding a study --------------------------------------------------------------------


def report_dir(output_dir: Path, study_name: str, main: bool) -> Path:
    """``<output_dir>/report`` for the config's study, ``report-<name>`` for others."""
    return Path(output_dir) / ("report" if main else f"report-{study_name}")


def locate(
    study_dir: str | Path, study_name: str | None = None, storage: str | None = None
) -> tuple[str, str, Path, bool]:
    """Storage URL, study name, output directory and main flag of a study directory.

    ``study_dir`` is an output directory of ``manifold-search run`` (it holds
    ``run.json``, and by default ``study.db``) or a study config (``.toml``), whose
    ``output_dir`` is used.
    """
    path = Path(study_dir)
    if path.is_file() and path.suffix == ".toml":
        from manifold_search.study_config import load_config

        config = load_config(path)
        path = config.output_dir
        storage = storage or config.study.storage
    if not path.is_dir():
        raise ReportError(
            f"{study_dir}: no such directory; give the output directory of "
            "'manifold-search run' (e.g. runs/quickstart) or its config file"
        )
    info: dict[str, Any] = {}
    run_file = path / RUN_FILE
    if run_file.is_file():
        try:
            info = json.loads(run_file.read_text())
        except (OSError, ValueError) as exc:
            raise ReportError(f"{run_file}: unreadable ({exc}); give --storage URL and --study NAME") from None
    studies: dict[str, str] = info.get("studies") or {}
    main_name = info.get("study")
    name = study_name or main_name
    if storage is None:
        if name and name in studies:
            storage = studies[name]
        elif (path / "study.db").is_file():
            storage = "sqlite:///" + str((path / "study.db").resolve())
        elif studies:
            storage = next(iter(studies.values()))
        else:
            raise ReportError(
                f"{study_dir}: no study found (no {RUN_FILE} and no study.db); run "
                "'manifold-search run CONFIG' first, or give --storage URL"
            )
    names = optuna.get_all_study_names(open_storage(storage))
    if not names:
        raise ReportError(f"{storage} holds no study yet; run 'manifold-search run CONFIG' first")
    if name is None:
        if len(names) > 1:
            raise ReportError(f"{storage} holds several studies ({', '.join(names)}); choose one with --study")
        name = names[0]
    if name not in names:
        raise ReportError(f"{storage} holds no study {name!r}; choose one of: {', '.join(names)}")
    return storage, name, path, name == (main_name or name)


def load_study(storage: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(storage))


# -- what the report shows --------------------------------------------------------------


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


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def collect(study: optuna.Study, seed: int | None = None,
            log: Callable[[str], None] | None = None) -> StudyData:  # fmt: skip
    """Trials, the network manifold (PHATE layout, features) and notes of ``study``."""
    meta = study.user_attrs.get(RUN_ATTR) or {}
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    complete = [t for t in trials if t.state == TrialState.COMPLETE and _finite(t.value)]
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
            stored = by_number[key].user_attrs.get(NETWORK_ATTR)
            stored = json.loads(stored) if isinstance(stored, str) else stored
            feats = (stored or {}).get("features") or {}
            if all(name in feats for name, _, _ in FEATURES):
                data.features[key] = {k: float(v) for k, v in feats.items()}
            else:
                data.features[key] = manifold.features(key)
            if isinstance(stored, dict) and _finite(stored.get("region_score")):
                data.region[key] = float(stored["region_score"])
        data.keys = keys
        data.coords = manifold.embed(seed=seed) if keys else np.zeros((0, 2))
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


def find_baselines(study: optuna.Study, data: StudyData) -> tuple[list[Baseline], str | None]:
    """Random-search studies of the same space in the same storage; or why there are none."""
    meta = data.meta
    sampler = (meta.get("sampler") or {}).get("name")
    if sampler == "random":
        return [], "this study is itself random search"
    found = []
    try:
        names = optuna.get_all_study_names(study._storage)
    except Exception:  # pragma: no cover - storage hiccup
        names = []
    for name in names:
        if name == study.study_name:
            continue
        try:
            other = optuna.load_study(study_name=name, storage=study._storage)
        except Exception:  # pragma: no cover
            continue
        other_meta = other.user_attrs.get(RUN_ATTR) or {}
        if (other_meta.get("sampler") or {}).get("name") != "random":
            continue
        if other_meta.get("space") != meta.get("space") or other.direction != study.direction:
            continue
        values = [t.value for t in sorted(other.get_trials(deepcopy=False,
                  states=(TrialState.COMPLETE,)), key=lambda t: t.number) if _finite(t.value)]  # fmt: skip
        if values:
            same_seed = other_meta.get("seed") == meta.get("seed") and _startup_trials(meta)
            note = (f"same seed: its first {_startup_trials(meta)} trials are this study's "
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
    if not isinstance(values, list) or not values or not all(_finite(v) for v in values):
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
    values = {k: float(v) for k, v in values.items() if _finite(v)}
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


# -- formatting -------------------------------------------------------------------------


def fmt(value: Any, digits: int = 3) -> str:
    """Numbers for tables: 3 decimals for values in [0, 1], else 4 significant digits."""
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10000 else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "-"
        if 0 <= abs(value) <= 1 and value != 0 and abs(value) >= 1e-3:
            return f"{value:.{digits}f}"
        return f"{value:.4g}"
    return str(value)


def format_params(params: dict[str, Any]) -> str:
    """``family=cnn, lr=0.00993, ...``: floats to 3 significant digits."""
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def fmt_seconds(value: Any) -> str:
    return f"{value:.2f}" if _finite(value) else "-"


def _options(section: dict[str, Any] | None) -> str:
    if not section:
        return "-"
    opts = section.get("options") or {}
    inner = ", ".join(f"{k}={v}" for k, v in opts.items())
    return f"`{section.get('name')}`" + (f" ({inner})" if inner else "")


# -- plots ------------------------------------------------------------------------------


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _startup_trials(meta: dict[str, Any]) -> int | None:
    sampler = meta.get("sampler") or {}
    options = sampler.get("options") or {}
    if isinstance(options.get("n_startup_trials"), int):
        return options["n_startup_trials"]
    return 10 if sampler.get("name") in ("manifold", "tpe", "gp", "tpe-univariate") else None


def plot_history(data: StudyData, baselines: list[Baseline], path: Path) -> None:
    """Objective of every COMPLETE trial and the best so far, with baselines."""
    fig = _figure(7.5, 4.4)
    ax = fig.add_subplot()
    values = [t.value for t in data.complete]
    x = np.arange(1, len(values) + 1)
    sampler = (data.meta.get("sampler") or {}).get("name", "sampler")
    ax.scatter(x, values, s=18, color="0.55", alpha=0.8, label="trial value", zorder=2)
    ax.step(x, best_so_far(values, data.maximize), where="post", color="C0", lw=2.2,
            label=f"best so far ({sampler})", zorder=3)  # fmt: skip
    for i, b in enumerate(baselines):
        bx = np.arange(1, len(b.values) + 1)
        ax.step(bx, best_so_far(b.values, data.maximize), where="post", color=f"C{i + 1}",
                lw=1.8, ls="--", label=f"best so far, {b.label}", zorder=3)  # fmt: skip
    startup = _startup_trials(data.meta)
    if startup and startup < len(values):
        ax.axvline(startup + 0.5, color="0.3", ls=":", lw=1)
        ax.annotate(f"random start-up ({startup})", (startup + 0.5, 0.02), xycoords=("data", "axes fraction"),
                    rotation=90, ha="right", va="bottom", fontsize=8, color="0.3")  # fmt: skip
    ax.set_xlabel("completed trials (in trial order)")
    ax.set_ylabel(data.label)
    ax.set_xlim(0.5, max([len(values), *[len(b.values) for b in baselines]]) + 0.5)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right" if data.maximize else "upper right", fontsize=8, framealpha=0.9)
    ax.set_title(f"Optimisation history of '{data.study.study_name}'")
    fig.savefig(path)


def _mark_best(ax, data: StudyData, coords: np.ndarray, annotate: bool) -> None:
    index = {k: i for i, k in enumerate(data.keys)}
    for rank, key in enumerate(data.best_keys()):
        x, y = coords[index[key]]
        ax.scatter([x], [y], s=320, marker="*", facecolors="none", edgecolors="red", lw=1.5, zorder=5)
        if annotate:  # staggered, so that labels of nearby best trials do not overlap
            dx, dy, ha = ((9, 7, "left"), (9, -13, "left"), (-9, 7, "right"))[rank % 3]
            ax.annotate(f"#{key}" if rank else f"#{key} best", (x, y), xytext=(dx, dy),
                        textcoords="offset points", fontsize=8, color="darkred", ha=ha,
                        fontweight="bold" if rank == 0 else "normal", zorder=6)  # fmt: skip


def _categorical_param(data: StudyData) -> str | None:
    """A categorical parameter set in every network's trial (e.g. the architecture family)."""
    by_number = data.by_number
    trials = [by_number[k] for k in data.keys]
    if not trials:
        return None
    for name, dist in trials[0].distributions.items():
        if isinstance(dist, optuna.distributions.CategoricalDistribution) and all(
            name in t.params for t in trials
        ):
            return name
    return None


def _level_key(level: Any) -> tuple[int, Any]:
    """Numbers in numeric order, then everything else as text."""
    if isinstance(level, int | float) and not isinstance(level, bool):
        return (0, level)
    return (1, str(level))


def plot_manifold(data: StudyData, path: Path) -> None:
    """PHATE layout of the networks, one panel per colouring, best trials marked."""
    coords = data.coords
    by_number = data.by_number
    values = np.array([by_number[k].value for k in data.keys], dtype=float)
    panels: list[tuple[str, np.ndarray, str]] = [(data.label, values, "viridis")]
    for name, title, _ in FEATURES:
        panels.append((title, np.array([data.features[k].get(name, np.nan) for k in data.keys]), "plasma"))
    category = _categorical_param(data)
    fig = _figure(13.5, 8.2)
    axes = fig.subplots(2, 3)
    for ax, (title, colour, cmap) in zip(axes.flat, panels, strict=False):
        finite = np.isfinite(colour)
        sc = ax.scatter(coords[finite, 0], coords[finite, 1], c=colour[finite], cmap=cmap, s=42,
                        edgecolor="0.25", lw=0.4, zorder=3)  # fmt: skip
        if (~finite).any():
            ax.scatter(coords[~finite, 0], coords[~finite, 1], s=30, color="0.8", marker="x", zorder=2,
                       label="not defined")  # fmt: skip
        fig.colorbar(sc, ax=ax, shrink=0.85, pad=0.01).set_label(title, fontsize=9)
        _mark_best(ax, data, coords, annotate=ax is axes.flat[0])
        ax.set_title(f"coloured by {title}", fontsize=11)
    ax = axes.flat[5]
    if category:
        levels = sorted({by_number[k].params[category] for k in data.keys}, key=_level_key)
        levels = [str(level) for level in levels]
        for i, level in enumerate(levels):
            rows = [j for j, k in enumerate(data.keys) if str(by_number[k].params[category]) == level]
            ax.scatter(coords[rows, 0], coords[rows, 1], s=42, color=f"C{i % 10}", edgecolor="0.25",
                       lw=0.4, label=f"{level} ({len(rows)})", zorder=3)  # fmt: skip
        _mark_best(ax, data, coords, annotate=False)
        ax.legend(title=category, fontsize=8, title_fontsize=9, loc="best", framealpha=0.9)
        ax.set_title(f"coloured by parameter '{category}'", fontsize=11)
    else:
        ax.axis("off")
    for ax in axes.flat[: 6 if category else 5]:
        ax.set_xlabel("PHATE 1", fontsize=9)
        ax.set_ylabel("PHATE 2", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.margins(0.1)
    fig.suptitle(
        f"Network manifold of '{data.study.study_name}': {len(data.keys)} trained networks, PHATE "
        "on diffusion-operator distances (red stars: best 3 trials)", fontsize=12,
    )  # fmt: skip
    fig.savefig(path)


def plot_features(data: StudyData, path: Path) -> list[tuple[str, float, float]]:
    """Each feature against the objective; returns (feature, rho, p) per panel."""
    by_number = data.by_number
    y = np.array([by_number[k].value for k in data.keys], dtype=float)
    fig = _figure(13.5, 3.9)
    axes = fig.subplots(1, len(FEATURES), sharey=True)
    best = set(data.best_keys())
    rows = []
    for ax, (name, title, _) in zip(axes, FEATURES, strict=True):
        x = np.array([data.features[k].get(name, np.nan) for k in data.keys], dtype=float)
        rho, p = spearman(x, y)
        rows.append((name, rho, p))
        is_best = np.array([k in best for k in data.keys], dtype=bool)
        ax.scatter(x[~is_best], y[~is_best], s=22, color="C0", alpha=0.75, edgecolor="none",
                   label="other trials")
        ax.scatter(x[is_best], y[is_best], s=120, marker="*", color="red", edgecolor="darkred",
                   lw=0.6, label="best 3", zorder=4)  # fmt: skip
        rho_text = "undefined" if not math.isfinite(rho) else f"{rho:+.2f}"
        ax.set_title(f"{title}\nSpearman ρ = {rho_text} (n = {int(np.isfinite(x).sum())})", fontsize=10)
        ax.set_xlabel(title, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(data.label)
    axes[0].legend(fontsize=8, loc="best", framealpha=0.9)
    fig.suptitle(f"Manifold features against {data.label} ('{data.study.study_name}')", fontsize=12)
    fig.savefig(path)
    return rows


# -- the report -------------------------------------------------------------------------


def _trial_table(data: StudyData) -> list[str]:
    lines = [
        f"| rank | trial | {data.label} | test accuracy | parameters | train s | configuration |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    for rank, t in enumerate(data.ranked()[:N_BEST], start=1):
        ua = t.user_attrs
        lines.append(
            f"| {rank} | {t.number} | {fmt(t.value)} | {fmt(ua.get('test_accuracy'))} | "
            f"{fmt(ua.get('n_params'))} | {fmt_seconds(ua.get('train_seconds'))} | {format_params(t.params)} |"
        )
    return lines


def _history_text(data: StudyData, baselines: list[Baseline], note: str | None) -> list[str]:
    values = [t.value for t in data.complete]
    curve = best_so_far(values, data.maximize)
    budgets = sorted({b for b in (10, 25, 50, 100, 200) if b < len(values)} | {len(values)})
    head = "| completed trials | " + " | ".join(str(b) for b in budgets) + " |"
    lines = ["", head, "|---|" + "---:|" * len(budgets)]
    lines.append(f"| best {data.label}, this study | " + " | ".join(fmt(curve[b - 1]) for b in budgets) + " |")
    for b in baselines:
        bc = best_so_far(b.values, data.maximize)
        cells = [fmt(bc[n - 1]) if n <= len(bc) else "-" for n in budgets]
        lines.append(f"| best {data.label}, {b.label} | " + " | ".join(cells) + " |")
    lines.append("")
    if baselines:
        lines.append(
            "The baseline is a random-search run of the same search space "
            + "; ".join(f"({b.source}, {len(b.values)} completed trials"
                        + (f"; {b.note})" if b.note else ")") for b in baselines)
            + ". One run of each sampler: the gap is an observation on this study, not a "
            "significance test (`manifold-search benchmark` compares samplers over seeds)."
        )
    elif note:
        lines.append(f"Note: {note}.")
    return lines


def render(data: StudyData, baselines: list[Baseline], baseline_note: str | None,
           imp: dict[str, float], imp_note: str | None,
           corr: list[tuple[str, float, float]], has_manifold: bool) -> str:  # fmt: skip
    """The Markdown text of the report."""
    study = data.study
    meta = data.meta
    counts = {s.name: 0 for s in TrialState}
    for t in data.trials:
        counts[t.state.name] += 1
    seconds = [t.user_attrs.get("train_seconds") for t in data.complete]
    seconds = [s for s in seconds if _finite(s)]
    starts = [t.datetime_start for t in data.trials if t.datetime_start]
    ends = [t.datetime_complete for t in data.trials if t.datetime_complete]
    span = (max(ends) - min(starts)).total_seconds() if starts and ends else math.nan
    from manifold_search.runner import format_seconds

    lines = [
        f"# Study report: {study.study_name}",
        "",
        f"- Search space: {_options(meta.get('space'))}",
        f"- Sampler: {_options(meta.get('sampler'))}, seed {meta.get('seed', '-')}",
        f"- Objective: {study.direction.name.lower()} {data.label}",
        f"- Trials: {counts['COMPLETE']} complete, {counts['PRUNED']} pruned, {counts['FAIL']} failed, "
        f"{counts['RUNNING']} running (target {meta.get('n_trials', '-')})",
        f"- Training time: {format_seconds(sum(seconds))} in total, median "
        f"{fmt_seconds(float(np.median(seconds))) if seconds else '-'} s per trial; first trial start "
        f"to last trial end {format_seconds(span)}",
        f"- Config: `{meta.get('config', '-')}`; written "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} by `manifold-search report`",
        "",
        "## Best trials",
        "",
        "Validation accuracy is the objective the sampler saw; test accuracy is measured "
        "once per trial on the held-out test split and never used for the search."
        if data.label == "validation accuracy" else "Test accuracy, where recorded, was not used for the search.",
        "",
        *_trial_table(data),
        "",
        "## Optimisation history",
        "",
        "![optimisation history](history.png)",
        *_history_text(data, baselines, baseline_note),
        "",
        "## Parameter importances",
        "",
    ]
    if imp:
        n = len(data.complete)
        lines += [
            "Optuna's `get_param_importances` with its default evaluator, PED-ANOVA: how "
            "differently each parameter is distributed among the top 10% of completed trials "
            "than among all of them (conditional parameters included). Importances sum to 1."
            + (f" With {n} completed trials the top 10% holds {max(1, math.ceil(0.1 * n))} "
               "trial(s); Optuna recommends at least 5 there, so read these as rough."
               if n < 50 else ""),
            "",
            "| parameter | importance |",
            "|---|---:|",
            *[f"| {k} | {v:.3f} |" for k, v in imp.items()],
        ]
    else:
        lines.append(f"Note: {imp_note}.")
    lines += ["", "## Network manifold", ""]
    if has_manifold:
        best = data.best_keys()
        lines += [
            "![network manifold](manifold.png)",
            "",
            f"Each point is one trained network ({len(data.keys)} in all), placed by PHATE on "
            "the distances between the networks' diffusion operators on the fixed probe set "
            "(what each network computes, not its hyperparameters). Red stars mark the best "
            f"trials ({', '.join(f'#{k}' for k in best)}). Panels: the objective, then the four "
            "manifold features:",
            "",
            *[f"- **{title}**: {what}" for _, title, what in FEATURES],
            "",
            "An interactive version (hover for each trial's parameters and metrics): "
            "`manifold-search explore` writes `manifold.html` beside this report.",
            "",
            "## Features against the objective",
            "",
            "![features against the objective](features.png)",
            "",
            "| feature | Spearman ρ with the objective | p |",
            "|---|---:|---:|",
            *[f"| {name} | {fmt(rho) if math.isfinite(rho) else '-'} | "
              f"{(f'{p:.2g}' if math.isfinite(p) else '-')} |" for name, rho, p in corr],  # fmt: skip
            "",
            f"Rank correlations over {len(data.keys)} networks of one study; p-values are "
            "per feature, not corrected for testing four.",
        ]
    else:
        lines.append("No manifold plot: " + "; ".join(data.notes or ["no network recorded"]) + ".")
    failed = [t for t in data.trials if t.state == TrialState.FAIL]
    if failed:
        lines += ["", "## Failed trials", "", "| trial | error |", "|---:|---|"]
        for t in failed[:20]:
            error = str(t.user_attrs.get(ERROR_ATTR, "no error recorded")).replace("|", "\\|")
            lines.append(f"| {t.number} | {error} |")
        if len(failed) > 20:
            lines.append(f"| ... | {len(failed) - 20} more |")
    other_notes = [n for n in data.notes if has_manifold]
    if other_notes:
        lines += ["", "## Notes", "", *[f"- {n}" for n in other_notes]]
    return "\n".join(lines) + "\n"


def write_report(
    study: optuna.Study,
    output_dir: str | Path,
    *,
    main: bool = True,
    baseline_files: Sequence[str | Path] = (),
    out: str | Path | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Write ``report.md`` and its PNGs; return the path of ``report.md``."""
    target = Path(out) if out else report_dir(Path(output_dir), study.study_name, main)
    target.mkdir(parents=True, exist_ok=True)
    data = collect(study, log=log)
    if not data.complete:
        raise ReportError(f"study {study.study_name!r} has no COMPLETE trial yet; nothing to report")
    baselines, baseline_note = find_baselines(study, data)
    baselines += [read_baseline_file(p) for p in baseline_files]
    if baselines:
        baseline_note = None
    imp, imp_note = importances(study)
    plot_history(data, baselines, target / "history.png")
    has_manifold = len(data.keys) >= 3
    corr: list[tuple[str, float, float]] = []
    if has_manifold:
        plot_manifold(data, target / "manifold.png")
        corr = plot_features(data, target / "features.png")
    else:
        data.notes.append(f"{len(data.keys)} network(s) on the manifold; the plots need at least 3")
        for stale in ("manifold.png", "features.png"):
            (target / stale).unlink(missing_ok=True)
    path = target / "report.md"
    path.write_text(render(data, baselines, baseline_note, imp, imp_note, corr, has_manifold))
    return path


__all__ = [
    "FEATURES",
    "Baseline",
    "ReportError",
    "StudyData",
    "collect",
    "find_baselines",
    "locate",
    "read_baseline_file",
    "write_report",
]
