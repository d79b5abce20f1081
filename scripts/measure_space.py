"""Measure a search space: trial time and accuracy spread over random configurations.

Trains ``--n`` random configurations at the space's default budget (one
thread each, no pruning) in a SQLite study, so an interrupted run resumes where
it stopped, then prints and writes a Markdown summary.

    python scripts/measure_space.py --space mnist1d --n 30 --out docs/search_spaces.md
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import optuna
import torch

from search_spaces import get_space


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="mnist1d")
    parser.add_argument("--n", type=int, default=30, help="random configurations to train")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", default="runs/measure_space")
    parser.add_argument("--out", default="docs/search_spaces.md")
    args = parser.parse_args()

    os.makedirs(args.workdir, exist_ok=True)
    space = get_space(args.space, record=False)
    study = optuna.create_study(
        study_name=f"{args.space}-random-{args.seed}",
        storage=f"sqlite:///{args.workdir}/{args.space}.db",
        load_if_exists=True,
        direction="maximize",
        sampler=optuna.samplers.RandomSampler(seed=args.seed),
        pruner=optuna.pruners.NopPruner(),
    )
    done = len(study.get_trials(states=[optuna.trial.TrialState.COMPLETE]))
    if done < args.n:
        study.optimize(space.objective, n_trials=args.n - done)
    trials = study.get_trials(states=[optuna.trial.TrialState.COMPLETE])[: args.n]

    seconds = np.array([t.user_attrs["train_seconds"] for t in trials])
    test = np.array([t.user_attrs["test_accuracy"] for t in trials])
    val = np.array([t.value for t in trials])
    rows = []
    for family in sorted({t.params["family"] for t in trials}):
        idx = [i for i, t in enumerate(trials) if t.params["family"] == family]
        rows.append(
            f"| {family} | {len(idx)} | {np.median(seconds[idx]):.2f} | {seconds[idx].max():.2f} "
            f"| {np.median(test[idx]):.3f} | {test[idx].max():.3f} |"
        )
    best = trials[int(np.argmax(val))]
    q = np.quantile(test, [0, 0.25, 0.5, 0.75, 1])
    text = f"""# Search space `{args.space}`: measured trial time and accuracy spread

{len(trials)} random configurations (RandomSampler seed {args.seed}) at the default budget
({space.epochs} epochs, one torch thread, no pruning), measured on {platform.processor() or platform.machine()}
with {os.cpu_count()} cores, torch {torch.__version__}, {time.strftime('%Y-%m-%d')}.

Command: `python scripts/measure_space.py --space {args.space} --n {args.n} --seed {args.seed}`

- median trial time: **{np.median(seconds):.2f} s** (max {seconds.max():.2f} s)
- test accuracy quantiles (min, 25%, median, 75%, max): {", ".join(f"{v:.3f}" for v in q)}
- best validation accuracy {best.value:.3f} (test {best.user_attrs['test_accuracy']:.3f}): `{best.params}`

| family | n | median s | max s | median test acc | best test acc |
|---|---|---|---|---|---|
""" + "\n".join(rows) + "\n"
    print(text)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as handle:
        handle.write(text)


if __name__ == "__main__":
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    main()
