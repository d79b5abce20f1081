"""The study report: ``report.md`` beside the three PNGs of :mod:`.plots`.

``write_report(study, output_dir)`` writes into the study's report directory
(``<output_dir>/report/`` for the config's own study, ``<output_dir>/report-<study
name>/`` for a comparison study run with another sampler):

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
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from manifold_search._attrs import ERROR, read_attr
from manifold_search._format import duration, number
from manifold_search._format import params as format_params
from manifold_search.study.data import (
    FEATURES,
    Baseline,
    StudyData,
    best_so_far,
    collect,
    find_baselines,
    finite,
    importances,
    read_baseline_file,
    startup_trials,
)
from manifold_search.study.locate import report_dir
from manifold_search.study.plots import plot_features, plot_history, plot_manifold, zoom_limits
from manifold_search.study.sparse_plot import plot_sparse_zoom
from manifold_search.study.storage import ReportError, stale_note, trials_span

N_BEST = 5  # rows of the best-trials table


def _options(section: dict[str, Any] | None) -> str:
    if not section:
        return "-"
    opts = section.get("options") or {}
    inner = ", ".join(f"{k}={v}" for k, v in opts.items())
    return f"`{section.get('name')}`" + (f" ({inner})" if inner else "")


def _trial_table(data: StudyData) -> list[str]:
    lines = [
        f"| rank | trial | {data.label} | test accuracy | parameters | training time | configuration |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    for rank, t in enumerate(data.ranked()[:N_BEST], start=1):
        ua = t.user_attrs
        lines.append(
            f"| {rank} | {t.number} | {number(t.value)} | {number(ua.get('test_accuracy'))} | "
            f"{number(ua.get('n_params'))} | {duration(ua.get('train_seconds'))} | {format_params(t.params)} |"
        )
    ranked = data.ranked()
    if ranked:  # the table rounds for reading; a configuration is copied from here
        best = ranked[0]
        exact = ", ".join(f"{k}={v!r}" for k, v in sorted(best.params.items()))
        lines += ["", f"Trial {best.number} at full precision: `{exact}`. Export it (configuration, "
                  f"weights, model card): `manifold-search export STUDY_DIR --trial {best.number}`."]
    return lines


def _history_text(data: StudyData, baselines: list[Baseline], note: str | None) -> list[str]:
    values = [t.value for t in data.complete]
    curve = best_so_far(values, data.maximize)
    budgets = sorted({b for b in (10, 25, 50, 100, 200) if b < len(values)} | {len(values)})
    head = "| completed trials | " + " | ".join(str(b) for b in budgets) + " |"
    lo, hi = zoom_limits(values, [b.values for b in baselines], data.maximize, startup_trials(data.meta))
    lines = ["", f"Left: every completed trial on the full axis. Right: the best so far zoomed on the "
             f"best values ({number(lo, significant=4)} to {number(hi, significant=4)}: from the best "
             "value at the end of the random start-up, kept between the median and the top quarter "
             "of the trials' values)" + (", with the random-search baseline dashed." if baselines else "."),
             "", head, "|---|" + "---:|" * len(budgets)]  # fmt: skip
    lines.append(f"| best {data.label}, this study | " + " | ".join(number(curve[b - 1]) for b in budgets) + " |")
    for b in baselines:
        bc = best_so_far(b.values, data.maximize)
        cells = [number(bc[n - 1]) if n <= len(bc) else "-" for n in budgets]
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


def _summary(data: StudyData) -> list[str]:
    """The report's head: space, sampler, objective, trial counts, times, config."""
    study, meta = data.study, data.meta
    counts = {s.name: 0 for s in TrialState}
    for t in data.trials:
        counts[t.state.name] += 1
    seconds = [t.user_attrs.get("train_seconds") for t in data.complete]
    seconds = [s for s in seconds if finite(s)]
    median = duration(float(np.median(seconds))) if seconds else "-"
    return [
        f"# Study report: {study.study_name}",
        "",
        f"- Search space: {_options(meta.get('space'))}",
        f"- Sampler: {_options(meta.get('sampler'))}, seed {meta.get('seed', '-')}",
        f"- Objective: {study.direction.name.lower()} {data.label}",
        f"- Trials: {counts['COMPLETE']} complete, {counts['PRUNED']} pruned, {counts['FAIL']} failed, "
        f"{counts['RUNNING']} running (target {meta.get('n_trials', '-')})",
        f"- Training time: {duration(sum(seconds))} in total, median {median} per trial; first "
        f"trial start to last trial end {duration(trials_span(study))}",
        f"- Config: `{meta.get('config', '-')}`; written "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} by `manifold-search report`",
    ]


def _importance_text(data: StudyData, imp: dict[str, float], imp_note: str | None) -> list[str]:
    if not imp:
        return [f"Note: {imp_note}."]
    n = len(data.complete)
    return [
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
    ]  # fmt: skip


def _manifold_text(data: StudyData, corr: list[tuple[str, float, float]]) -> list[str]:
    best = data.best_keys()
    return [
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
        *_sparse_text(data),
        "An interactive version (hover for each trial's parameters and metrics): "
        "`manifold-search explore` writes `manifold.html` beside this report.",
        "",
        "## Features against the objective",
        "",
        "![features against the objective](features.png)",
        "",
        "| feature | Spearman ρ with the objective | p |",
        "|---|---:|---:|",
        *[f"| {name} | {number(rho)} | {number(p, significant=2)} |" for name, rho, p in corr],
        "",
        f"Rank correlations over {len(data.keys)} networks of one study; p-values are "
        "per feature, not corrected for testing four.",
    ]


def _sparse_text(data: StudyData) -> list[str]:
    """What the hollow diamonds of the objective's panel are, when the refine stage made any."""
    if not data.sparse:
        return []
    trials = sorted({p.trial for p in data.sparse})
    methods = ", ".join(dict.fromkeys(p.method for p in data.sparse))
    return [
        f"Hollow diamonds (objective panel): the {len(data.sparse)} sparse networks of the refine "
        f"stage ([refine.md](refine.md); methods {methods}; trials {', '.join(f'#{t}' for t in trials)}), "
        "each joined by a line to its dense original and sized by its sparsity. They are placed "
        "without refitting the layout, at the mean of their nearest dense networks weighted by "
        "inverse squared network distance: one that arranges the probe inputs as its original "
        "does lands on it; one unlike every dense network lands among its nearest ones, so its "
        "distance to the original is read in refine.md or on the explore page, not from the "
        "line's length. They are not trials; the sampler never sees them.",
        "",
        "![sparse networks beside their dense originals](sparse.png)",
        "",
    ]


def _failed_text(data: StudyData) -> list[str]:
    failed = [t for t in data.trials if t.state == TrialState.FAIL]
    if not failed:
        return []
    lines = ["", "## Failed trials", "", "| trial | error |", "|---:|---|"]
    for t in failed[:20]:
        error = read_attr(t.user_attrs, ERROR) or stale_note(t, data.trials) or "no error recorded"
        error = str(error).replace("|", "\\|")
        lines.append(f"| {t.number} | {error} |")
    if len(failed) > 20:
        lines.append(f"| ... | {len(failed) - 20} more |")
    return lines


def render(data: StudyData, baselines: list[Baseline], baseline_note: str | None,
           imp: dict[str, float], imp_note: str | None,
           corr: list[tuple[str, float, float]], has_manifold: bool) -> str:  # fmt: skip
    """The Markdown text of the report."""
    test_note = (
        "Validation accuracy is the objective the sampler saw; test accuracy is measured "
        "once per trial on the held-out test split and never used for the search."
        if data.label == "validation accuracy"
        else "Test accuracy, where recorded, was not used for the search."
    )
    lines = [
        *_summary(data), "", "## Best trials", "", test_note, "", *_trial_table(data), "",
        "## Optimisation history", "", "![optimisation history](history.png)",
        *_history_text(data, baselines, baseline_note), "",
        "## Parameter importances", "", *_importance_text(data, imp, imp_note),
        "", "## Network manifold", "",
    ]  # fmt: skip
    if has_manifold:
        lines += _manifold_text(data, corr)
    else:
        lines.append("No manifold plot: " + "; ".join(data.notes or ["no network recorded"]) + ".")
    lines += _failed_text(data)
    if has_manifold and data.notes:
        lines += ["", "## Notes", "", *[f"- {n}" for n in data.notes]]
    return "\n".join(lines) + "\n"


def write_report(
    study: optuna.Study,
    output_dir: str | Path,
    *,
    main: bool = True,
    baseline_files: Sequence[str | Path] = (),
    out: str | Path | None = None,
    log: Callable[[str], None] | None = None,
    storage_url: str | None = None,
) -> Path:
    """Write ``report.md`` and its PNGs; return the path of ``report.md``.

    ``storage_url`` is where random-search baselines of the same space are looked for.
    """
    target = Path(out) if out else report_dir(Path(output_dir), study.study_name, main)
    target.mkdir(parents=True, exist_ok=True)
    data = collect(study, log=log)
    if not data.complete:
        raise ReportError(f"study {study.study_name!r} has no COMPLETE trial yet; nothing to report")
    baselines, baseline_note = find_baselines(study, data, storage_url)
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
        if not plot_sparse_zoom(data, target / "sparse.png"):
            (target / "sparse.png").unlink(missing_ok=True)
    else:
        data.notes.append(f"{len(data.keys)} network(s) on the manifold; the plots need at least 3")
        for stale in ("manifold.png", "features.png", "sparse.png"):
            (target / stale).unlink(missing_ok=True)
    path = target / "report.md"
    path.write_text(render(data, baselines, baseline_note, imp, imp_note, corr, has_manifold))
    return path
