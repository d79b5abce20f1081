"""Train random configurations of a search space into a SQLite study, recording every network.

The first half of the manifold evidence (``scripts/manifold_evidence.py``
analyses the result). Resumable: the study lives in ``WORKDIR/study.db`` with
its artifacts beside it; a rerun trains only the missing trials. No pruning;
one torch thread per process.

    nohup python scripts/train_random_networks.py --n 160 > runs/evidence_train.log 2>&1 &
"""

from __future__ import annotations

import argparse
import os
import time

import optuna

from search_spaces import get_space


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="mnist1d")
    parser.add_argument("--n", type=int, default=160)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", default="runs/evidence")
    args = parser.parse_args()

    os.makedirs(args.workdir, exist_ok=True)
    space = get_space(args.space)
    storage = f"sqlite:///{os.path.join(args.workdir, 'study.db')}"
    done = 0
    if os.path.exists(os.path.join(args.workdir, "study.db")):
        previous = optuna.load_study(study_name=f"{args.space}-random", storage=storage)
        done = len(previous.get_trials(states=[optuna.trial.TrialState.COMPLETE]))
    # a resumed run must not replay the first run's draws: offset the seed by the trials done
    study = optuna.create_study(
        study_name=f"{args.space}-random",
        storage=storage,
        load_if_exists=True,
        direction="maximize",
        sampler=optuna.samplers.RandomSampler(seed=args.seed + done),
        pruner=optuna.pruners.NopPruner(),
    )
    start = time.time()

    def progress(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        n = len(study.get_trials(states=[optuna.trial.TrialState.COMPLETE]))
        print(f"[{n}/{args.n}] trial {trial.number} {trial.state.name} value={trial.value} "
              f"({time.time() - start:.0f}s)", flush=True)  # fmt: skip

    if done < args.n:
        study.optimize(space.objective, n_trials=args.n - done, callbacks=[progress])
    print("done", flush=True)


if __name__ == "__main__":
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    main()
