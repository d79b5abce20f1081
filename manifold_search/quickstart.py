"""The README's main job until the study runner lands: a short real MNIST-1D study.

Trains networks from the ``mnist1d`` search space in an Optuna study stored in
SQLite (``runs/quickstart/study.db``, artifacts beside it), records each trained
network on the space's probe set, and prints the best trials. Running it again
resumes the same study up to ``--trials``.

    python -m manifold_search.quickstart --trials 20
"""

from __future__ import annotations

import argparse
import os
import sys

import optuna

from manifold_search.representations import load_representation
from search_spaces import get_space


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a short real MNIST-1D study (resumable).")
    parser.add_argument("--trials", type=int, default=20, help="target number of finished trials")
    parser.add_argument("--out", default="runs/quickstart", help="directory for the SQLite study")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.trials < 1:
        parser.error(f"--trials must be at least 1, got {args.trials}")

    os.makedirs(args.out, exist_ok=True)
    storage = f"sqlite:///{os.path.join(args.out, 'study.db')}"
    space = get_space("mnist1d", seed=args.seed)
    study = optuna.create_study(
        study_name="quickstart",
        storage=storage,
        load_if_exists=True,
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=args.seed),
    )
    finished = [t for t in study.trials if t.state.is_finished()]
    remaining = args.trials - len(finished)
    print(f"study 'quickstart' in {storage}: {len(finished)} finished, running {max(remaining, 0)} more")
    if remaining > 0:
        study.optimize(space.objective, n_trials=remaining, show_progress_bar=True)
    best = sorted(study.get_trials(states=[optuna.trial.TrialState.COMPLETE]), key=lambda t: -t.value)[:3]
    for trial in best:
        shape = load_representation(study, trial).shape
        print(
            f"trial {trial.number}: val {trial.value:.3f} test {trial.user_attrs['test_accuracy']:.3f} "
            f"representation {shape} params {trial.params}"
        )
    return 0


if __name__ == "__main__":
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sys.exit(main())
