"""Does the network manifold carry performance information the hyperparameters do not?

Reads recorded networks -- from a study (``--study runs/evidence/study.db``,
made by ``scripts/train_random_networks.py``) or from the MNIST-1D NAS table
(``--table``) -- builds the network manifold, and reports:

* leave-one-out k-NN regression of validation accuracy with the network
  distance against the same with a distance on the hyperparameter vectors
  (positions in [0, 1] per parameter, log scale where the parameter is log,
  1 for a parameter active in only one of two configurations): Spearman
  correlation and mean absolute error for both;
* the Spearman correlation of each manifold feature with accuracy;
* the PHATE embedding coloured by validation accuracy, one panel per feature (PNG).

    python scripts/manifold_evidence.py --study runs/evidence/study.db --out docs/evidence
"""

from __future__ import annotations

import argparse
import json
import os
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optuna  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from manifold_search._params import ParamEncoder  # noqa: E402
from manifold_search.manifold import NetworkManifold  # noqa: E402

PANELS = ("class_separation", "ward_label_agreement", "spectral_entropy", "h1_total_persistence")


def knn_loo(distances: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """Leave-one-out k-NN prediction: mean of the k nearest others."""
    d = distances.copy()
    np.fill_diagonal(d, np.inf)
    nearest = np.argsort(d, axis=1, kind="stable")[:, :k]
    return y[nearest].mean(axis=1)


def from_study(path: str):
    storage = f"sqlite:///{path}"
    name = optuna.get_all_study_names(storage)[0]
    study = optuna.load_study(study_name=name, storage=storage)
    manifold = NetworkManifold.from_study(study)
    trials = {t.number: t for t in study.trials}
    rows = [trials[k] for k in manifold.keys]
    dists = {}
    for t in rows:
        dists.update(t.distributions)
    return manifold, [t.params for t in rows], np.array([t.value for t in rows]), dists, f"study {name} ({path})"


def from_table(limit: int | None, seed: int):
    from manifold_search.benchmark.mnist1d_table import Mnist1DTable

    table = Mnist1DTable.load()
    idx = np.arange(len(table.params))
    if limit:
        idx = np.sort(np.random.default_rng(seed).choice(idx, limit, replace=False))
    manifold = NetworkManifold()
    manifold.add_many(((int(i), table.representation[i].astype(np.float32)) for i in idx),
                      labels=table.probe_labels)  # fmt: skip
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    from search_spaces.mnist1d_grid import suggest_grid

    dists: dict = {}
    for _ in range(400):  # collect the grid's distributions as a study would see them
        trial = study.ask()
        suggest_grid(trial)
        dists.update(trial.distributions)
        study.tell(trial, 0.0)
    params = [_grid_as_trial_params(table.params[i]) for i in idx]
    return manifold, params, table.val_accuracy[idx], dists, "MNIST-1D NAS table"


def _grid_as_trial_params(params: dict) -> dict:
    from search_spaces.mnist1d_grid import ORDINAL

    out = {}
    for name, value in params.items():
        if name in ORDINAL:
            out[f"{name}_index"] = list(ORDINAL[name]).index(value)
        else:
            out[name] = value
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--study", help="SQLite file of a study with recorded networks")
    source.add_argument("--table", action="store_true", help="use the MNIST-1D NAS table")
    parser.add_argument("--limit", type=int, default=None, help="table: random subset size")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="docs/evidence")
    args = parser.parse_args()

    start = time.time()
    if args.study:
        manifold, params, y, dists, label = from_study(args.study)
    else:
        manifold, params, y, dists, label = from_table(args.limit, args.seed)
    net_d = manifold.distances()
    encoder = ParamEncoder(dists)
    x = encoder.encode(params)
    hp_d = np.sqrt((encoder.deltas(x, x) ** 2).sum(axis=2))

    results = {}
    for name, d in (("network distance", net_d), ("hyperparameter distance", hp_d)):
        pred = knn_loo(d, y, args.k)
        results[name] = {"spearman": float(spearmanr(pred, y).statistic),
                         "mae": float(np.abs(pred - y).mean())}  # fmt: skip
    names, features = manifold.feature_matrix()
    correlations = {n: float(spearmanr(features[:, j], y).statistic) for j, n in enumerate(names)}
    coords = manifold.embed(seed=args.seed)
    elapsed = time.time() - start

    os.makedirs(args.out, exist_ok=True)
    png = os.path.join(args.out, "manifold.png")
    fig, axes = plt.subplots(1, 1 + len(PANELS), figsize=(4.2 * (1 + len(PANELS)), 4))
    panels = [("validation accuracy", y)] + [(p, features[:, names.index(p)]) for p in PANELS]
    for ax, (title, colour) in zip(axes, panels, strict=True):
        sc = ax.scatter(coords[:, 0], coords[:, 1], c=colour, s=14, cmap="viridis")
        ax.set_title(title if title == "validation accuracy"
                     else f"{title}\n(Spearman with accuracy {correlations[title]:+.2f})", fontsize=10)  # fmt: skip
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(sc, ax=ax, fraction=0.046)
    top = np.argsort(-y)[:5]
    axes[0].scatter(coords[top, 0], coords[top, 1], facecolors="none", edgecolors="red", s=80,
                    label="top 5")  # fmt: skip
    axes[0].legend(loc="best", fontsize=8)
    fig.suptitle(f"PHATE embedding of {len(y)} networks: {label}", fontsize=11)
    fig.tight_layout()
    fig.savefig(png, dpi=110)

    lines = [
        f"# Manifold evidence: {label}",
        "",
        f"{len(y)} networks; validation accuracy from {y.min():.3f} to {y.max():.3f} "
        f"(median {np.median(y):.3f}). Analysis took {elapsed:.0f} s.",
        "",
        f"Command: `python scripts/manifold_evidence.py {'--study ' + args.study if args.study else '--table'}"
        f"{' --limit ' + str(args.limit) if args.limit else ''} --out {args.out}`",
        "",
        f"## Leave-one-out {args.k}-NN regression of validation accuracy",
        "",
        "| distance | Spearman | MAE |",
        "|---|---|---|",
        *[f"| {n} | {r['spearman']:.3f} | {r['mae']:.4f} |" for n, r in results.items()],
        "",
        "## Spearman correlation of each feature with validation accuracy",
        "",
        "| feature | Spearman |",
        "|---|---|",
        *[f"| {n} | {c:+.3f} |" for n, c in sorted(correlations.items(), key=lambda kv: -abs(kv[1]))],
        "",
        f"![manifold]({os.path.basename(png)})",
        "",
    ]
    with open(os.path.join(args.out, "README.md"), "w") as handle:
        handle.write("\n".join(lines))
    with open(os.path.join(args.out, "results.json"), "w") as handle:
        json.dump({"knn": results, "feature_spearman": correlations, "n": len(y)}, handle, indent=1)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
