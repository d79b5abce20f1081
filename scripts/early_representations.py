"""Do a few epochs place a network where full training will put it? (issue 14, item 3)

The third idea of issue 14's item 3: train a candidate briefly, record its
representations, and place it on the manifold before paying for full training
(as representation-guided NAS does). It can only help if the early network
distances already resemble the final ones and say more about the final
accuracy than the cheap signals a sampler has anyway: the parameters, and the
early validation accuracy itself (a learning-curve predictor). This script
measures exactly that on the live ``mnist1d`` space:

* ``--networks`` configurations drawn by Optuna's RandomSampler (seed 0), each
  trained twice from the same initial weights: ``--early`` epochs and
  ``--epochs`` epochs (a separate short run, as a sampler would train it);
* network distances (the sampler's diffusion-operator distance) among the
  early networks and among the final ones; Spearman correlation of the two;
* leave-one-out k-nearest-neighbour predictions (k = 5) of each network's
  final validation accuracy from: early network distances, final network
  distances (an upper bound: not available before training), parameter
  distances, and early validation accuracy (and the mean of the first and the
  last); Spearman correlation of each prediction with the truth (what ranking
  candidates needs), with a 90% bootstrap interval over networks.

Resumable: each trained network is cached under ``--out``. Prints a table and
writes ``--out/summary.md``.

    nice -n 5 python scripts/early_representations.py --networks 48 --out runs/early
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import optuna
import torch
from scipy.stats import spearmanr


def train_pair(config_index: int, params: dict, spaces: dict, out: Path) -> dict:
    """Train one configuration briefly and fully; cache representations and accuracies."""
    path = out / f"net-{config_index:03d}.npz"
    if path.exists():
        data = np.load(path, allow_pickle=False)
        return {k: data[k] for k in data.files} | {"params": params}
    from manifold_search.representations import capture_representations

    result = {}
    for tag, space in spaces.items():
        model = space.seeded_build(params)
        start = time.perf_counter()
        metrics = space.train_and_evaluate(model, params)
        result[f"{tag}_seconds"] = np.array(time.perf_counter() - start)
        result[f"{tag}_val"] = np.array(metrics["val_accuracy"])
        result[f"{tag}_rep"] = capture_representations(model, space.probe())["penultimate"]
    result["labels"] = space.probe().labels
    np.savez(path, **result)
    return result | {"params": params}


def knn_loo(d: np.ndarray, y: np.ndarray, k: int = 5) -> np.ndarray:
    """Leave-one-out mean of the k nearest others' values."""
    d = d.copy()
    np.fill_diagonal(d, np.inf)
    return np.array([y[np.argsort(row, kind="stable")[:k]].mean() for row in d])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=48)
    parser.add_argument("--early", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", default="runs/early")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    from search_spaces import get_space

    spaces = {"early": get_space("mnist1d", epochs=args.early),
              "final": get_space("mnist1d", epochs=args.epochs)}  # fmt: skip
    space = spaces["final"]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    configs = []
    for _ in range(args.networks):  # the configurations only; training happens below
        trial = study.ask()
        configs.append((space.suggest(trial), dict(trial.distributions)))
        study.tell(trial, 0.0)
    nets = []
    for i, (params, _) in enumerate(configs):
        nets.append(train_pair(i, params, spaces, out))
        print(f"\r{i + 1}/{len(configs)} networks", end="", flush=True)
    print()
    finite = [n for n in nets if np.isfinite(n["early_rep"]).all() and np.isfinite(n["final_rep"]).all()]

    from manifold_search._params import ParamEncoder
    from manifold_search.manifold import NetworkManifold

    distances = {}
    for tag in ("early", "final"):
        manifold = NetworkManifold(cache=None)
        for i, n in enumerate(finite):
            manifold.add(i, n[f"{tag}_rep"], n["labels"])
        distances[tag] = manifold.distances()
    all_distributions = {}
    for _, dists in configs:
        all_distributions.update(dists)
    encoder = ParamEncoder(all_distributions)
    x = encoder.encode([n["params"] for n in finite])
    distances["params"] = np.sqrt((encoder.deltas(x, x) ** 2).sum(axis=2))
    y = np.array([float(n["final_val"]) for n in finite])
    early_val = np.array([float(n["early_val"]) for n in finite])
    distances["early accuracy"] = np.abs(early_val[:, None] - early_val[None, :])
    iu = np.triu_indices(len(finite), 1)
    geometry = spearmanr(distances["early"][iu], distances["final"][iu]).statistic
    cost = np.mean([float(n["early_seconds"]) / float(n["final_seconds"]) for n in finite])
    preds = {name: knn_loo(distances[name], y) for name in ("early", "final", "params", "early accuracy")}
    preds["early distances + early accuracy"] = (preds["early"] + preds["early accuracy"]) / 2
    rng = np.random.default_rng(0)
    boot = [rng.integers(0, len(y), len(y)) for _ in range(1000)]
    rows = []
    for name, pred in preds.items():
        rhos = [spearmanr(pred[b], y[b]).statistic for b in boot]
        low, high = np.nanpercentile(rhos, [5, 95])
        rows.append((name, spearmanr(pred, y).statistic, float(low), float(high),
                     float(np.sqrt(np.mean((pred - y) ** 2)))))  # fmt: skip
    lines = [
        f"# Early representations on the mnist1d space ({len(finite)} networks, "
        f"{args.early} against {args.epochs} epochs)", "",
        f"`python scripts/early_representations.py --networks {args.networks} --early {args.early} "
        f"--epochs {args.epochs}`; {len(nets) - len(finite)} networks left out (non-finite).", "",
        f"- Spearman correlation of early and final network distances (all pairs): {geometry:.3f}",
        f"- Spearman correlation of early and final validation accuracy: "
        f"{spearmanr(early_val, y).statistic:.3f}",
        f"- Early training costs {cost:.2f} of a full training (mean ratio of seconds)", "",
        "Leave-one-out 5-nearest-neighbour prediction of the final validation accuracy:", "",
        "| predictor | Spearman with truth [90% bootstrap interval] | RMSE |", "|---|---|---|",
        *[f"| {name} | {rho:.3f} [{low:.2f}, {high:.2f}] | {rmse:.4f} |"
          for name, rho, low, high, rmse in rows], "",
    ]  # fmt: skip
    text = "\n".join(lines)
    print(text)
    (out / "summary.md").write_text(text)
    (out / "summary.json").write_text(json.dumps({"rows": rows, "geometry": geometry, "cost": cost}))


if __name__ == "__main__":
    main()
