"""Sparsify a study's winners: the table, a plot per network, the sparse weights.

:func:`refine_study` takes the best ``top`` trials (their kept weights, or the
configuration retrained from its seed where they were not kept), runs each
method through the target sparsities, and writes into a report folder:

- ``refine.md``: one row per network, method and sparsity: test accuracy,
  share of the dense network's test accuracy kept, network distance to the
  dense network (diffusion distance on the study's probe set), real share of
  zeros among the prunable weights, seconds from the start of the run to that
  snapshot;
- ``refine_trial<N>.png``: test accuracy against sparsity, one line per method;
- ``refine.json``: the same rows for other tools.

Sparse weights and masks go to the study's artifact store as safetensors, and
each sparse network's representation on the study's probe set beside them (so
the report and the explore page place it on the network manifold next to its
dense original), both indexed in the study attribute ``manifold_search:sparse``
(see :mod:`manifold_search.sparse_networks`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from manifold_search._attrs import SPARSE, read_attr
from manifold_search.refine.data import SparsifyData, accuracy
from manifold_search.refine.export import study_space, trial_model
from manifold_search.refine.masks import sparsity_of
from manifold_search.refine.settings import RefineSettings
from manifold_search.refine.sparsify import sparsify
from manifold_search.refine.weights import upload_weights
from manifold_search.representations import default_artifact_store
from manifold_search.sparse_networks import (
    check_probe,
    index_entry,
    record_sparse,
    remove_artifacts,
)

TABLE, RESULTS = "refine.md", "refine.json"
COLUMNS = ("trial", "method", "sparsity", "test_accuracy", "kept", "distance", "zeros", "seconds")

#: The methods that rank weights across layers by ``[refine] criterion`` (the others
#: fine-tune on labels with torch's global L1 / magnitude masks, as their papers do).
CRITERION_METHODS = ("fip", "magnitude")


def winners(study: optuna.Study, top: int) -> list[optuna.trial.FrozenTrial]:
    """The best ``top`` COMPLETE trials, best first."""
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.value is not None and t.value == t.value]  # fmt: skip
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    return sorted(done, key=lambda t: (-t.value if maximize else t.value, t.number))[:top]


def _network_rows(built, settings: RefineSettings, store, study, progress: bool) -> list[dict[str, Any]]:
    space, model = built.space, built.model
    data = SparsifyData.from_space(space)
    x_test, y_test = space.data.x_test, space.data.y_test
    dense = accuracy(model, x_test, y_test)
    rows = [{"trial": built.trial.number, "method": "dense", "sparsity": 0.0, "test_accuracy": dense,
             "kept": 1.0, "distance": 0.0, "zeros": sparsity_of(model)[0], "seconds": 0.0,
             "retrained": built.retrained, "n_prunable": sparsity_of(model)[1]}]  # fmt: skip
    index = dict(read_attr(study.user_attrs, SPARSE, {}) or {})
    entry = index.setdefault(str(built.trial.number), {})
    for method in settings.methods:
        ranked = {"criterion": settings.criterion} if method in CRITERION_METHODS else {}
        result = sparsify(model, data, settings.sparsity, method=method, steps=settings.steps,
                          progress=progress, **ranked)  # fmt: skip
        for s in result.targets:
            sparse = result.models[s]
            test = accuracy(sparse, x_test, y_test)
            row = {"trial": built.trial.number, "method": method, "sparsity": s, "test_accuracy": test,
                   "kept": test / dense if dense else float("nan"),
                   "distance": result.snapshot_metrics[s]["distance"], "zeros": sparsity_of(sparse)[0],
                   "seconds": result.seconds[s], "steps": result.steps}  # fmt: skip
            meta = {"trial": built.trial.number, "method": method, "sparsity": s, "config": built.config,
                    "test_accuracy": test, "settings": result.settings}  # fmt: skip
            artifact = upload_weights(study, sparse, store, result.masks[s], meta)
            record = record_sparse(study, sparse, data.probe, store)
            replaced = entry.setdefault(method, {}).get(str(s))
            entry[method][str(s)] = index_entry(artifact, record, row)
            if replaced is not None:
                remove_artifacts(store, replaced)
            rows.append(row)
    study.set_user_attr(SPARSE, index)
    return rows


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if value == value else "n/a"
    return str(value)


def render_table(rows: list[dict[str, Any]], settings: RefineSettings) -> str:
    lines = [
        "# Refine: sparsified winners", "",
        f"Methods {', '.join(settings.methods)} (fip and one-shot rank weights by {settings.criterion}); "
        f"{settings.steps} gradient steps per method and "
        "network (one run through all sparsities, a snapshot at each); `fip` uses no labels. "
        "kept = share of the dense network's test accuracy; distance = network distance to the "
        "dense network on the probe set; zeros = real share of zeros among the prunable weights "
        "(Linear/Conv/GRU weight matrices; biases and norm layers stay dense); seconds = from the "
        "start of the method's run to the snapshot. On the network manifold (the report's "
        "[manifold.png](manifold.png) and `manifold-search explore`'s manifold.html) each sparse "
        "network is a hollow diamond joined to its dense original.", "",
        "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS),
    ]  # fmt: skip
    lines += ["| " + " | ".join(_fmt(row.get(c)) for c in COLUMNS) + " |" for row in rows]
    retrained = sorted({r["trial"] for r in rows if r.get("retrained")})
    if retrained:
        lines += ["", f"Trials {retrained} had no kept weights: retrained from their seed first."]
    return "\n".join(lines) + "\n"


def plot_network(rows: list[dict[str, Any]], path: Path) -> None:
    """Test accuracy against sparsity for one network, a line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dense = next(r for r in rows if r["method"] == "dense")
    fig, ax = plt.subplots(figsize=(5.5, 3.6), dpi=110)
    for method in dict.fromkeys(r["method"] for r in rows if r["method"] != "dense"):
        points = sorted((r["sparsity"], r["test_accuracy"]) for r in rows if r["method"] == method)
        ax.plot(*zip(*points, strict=True), marker="o", label=method)
    ax.axhline(dense["test_accuracy"], color="grey", linestyle="--", label="dense")
    ax.set_xlabel("sparsity (share of prunable weights at zero)")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"trial {dense['trial']} ({dense['n_prunable']:,} prunable weights)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def refine_study(study: optuna.Study, report_dir: str | Path, settings: RefineSettings | None = None,
                 space: Any | None = None, artifact_store: Any | None = None, progress: bool = True,
                 log: Callable[[str], None] = print) -> Path:  # fmt: skip
    """Sparsify the study's best ``settings.top`` trials; returns the path of ``refine.md``."""
    settings = settings or RefineSettings()
    space = space if space is not None else study_space(study)
    store = artifact_store if artifact_store is not None else default_artifact_store(study)
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    check_probe(study, space.probe())  # before any training: the sparse networks are probed like the dense
    rows: list[dict[str, Any]] = []
    for trial in winners(study, settings.top):
        built = trial_model(study, trial, space, store, log=log)
        network_rows = _network_rows(built, settings, store, study, progress)
        plot_network(network_rows, report_dir / f"refine_trial{trial.number}.png")
        rows += network_rows
        log(f"refine: trial {trial.number} sparsified ({', '.join(settings.methods)})")
    (report_dir / RESULTS).write_text(json.dumps(rows, indent=1) + "\n")
    path = report_dir / TABLE
    path.write_text(render_table(rows, settings))
    return path
