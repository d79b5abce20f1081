"""The MNIST-1D NAS table as a benchmark problem, with recorded networks.

Every configuration of ``search_spaces.mnist1d_grid`` (1,056 of them) was
trained once (``scripts/build_mnist1d_table.py``); the table stores its
validation and test accuracy and its penultimate representation on the live
``mnist1d`` space's probe set (PCA-reduced, float16). A trial suggests a
configuration exactly as the live grid space does, looks it up, returns the
validation accuracy, stores the test accuracy, and records the stored
representation through ``record_representations`` -- the same artifact and
attribute a live ``record_network`` writes -- so the manifold sampler sees the
same kind of data as in a live study.

    >>> from manifold_search.benchmark.mnist1d_table import Mnist1DTable
    >>> table = Mnist1DTable.load()  # doctest: +SKIP
    >>> round(table.optimum, 3)  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import optuna

from manifold_search._attrs import TEST_VALUE
from manifold_search.benchmark.problems import Problem, register_problem
from manifold_search.representations import record_representations
from search_spaces.mnist1d_grid import grid_key, suggest_grid

TABLE_PATH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "tables", "mnist1d_nas.npz")


class Mnist1DTable(Problem):
    """Look-ups in the MNIST-1D NAS table; maximise validation accuracy.

    Args:
        path: the table file (default: the one shipped in the package).
        record: record each trial's stored representation (for the manifold
            sampler); off saves a little time for samplers that ignore it.
    """

    name = "mnist1d-table"
    direction = "maximize"
    description = "MNIST-1D NAS table: 1,056 MLP/CNN/GRU configurations, validation accuracy"
    value_label = "validation accuracy"
    test_label = "test accuracy"

    def __init__(self, path: str = TABLE_PATH, record: bool = True) -> None:
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"MNIST-1D table not found at {path}; build it with "
                "'python scripts/build_mnist1d_table.py'"
            )
        with np.load(path, allow_pickle=False) as data:
            self.params = [json.loads(p) for p in data["params"]]
            self.val_accuracy = data["val_accuracy"].astype(float)
            self.test_accuracy = data["test_accuracy"].astype(float)
            self.train_seconds = data["train_seconds"].astype(float)
            self.n_params = data["n_params"]
            self.representation = data["representation"]
            self.probe_labels = data["probe_labels"]
            self.meta = json.loads(str(data["meta"]))
        self.index = {grid_key(p): i for i, p in enumerate(self.params)}
        self.optimum = float(self.val_accuracy.max())
        self.test_optimum = float(self.test_accuracy.max())
        self.record = record

    @classmethod
    @functools.cache
    def load(cls) -> Mnist1DTable:
        """The shipped table, loaded once per process."""
        return cls()

    def lookup(self, params: dict[str, Any]) -> int:
        """Row of a configuration given as grid values (not indexes)."""
        try:
            return self.index[grid_key(params)]
        except KeyError:
            raise KeyError(f"configuration not in the MNIST-1D table: {params}") from None

    def objective(self, seed: int) -> Callable[[optuna.Trial], float]:
        def objective(trial: optuna.Trial) -> float:
            row = self.lookup(suggest_grid(trial))
            trial.set_user_attr(TEST_VALUE, float(self.test_accuracy[row]))
            trial.set_user_attr("test_accuracy", float(self.test_accuracy[row]))
            if self.record:
                record_representations(
                    trial,
                    {"penultimate": self.representation[row]},
                    self.meta["probe"],
                    self.probe_labels,
                    extra={"n_params": int(self.n_params[row]), "table_row": row},
                )
            return float(self.val_accuracy[row])

        return objective

    def random_draw_probabilities(self) -> np.ndarray:
        """Probability of each row under Optuna's RandomSampler on the grid space.

        The family is drawn first (1/3 each), then every parameter of that family
        uniformly: each row of a family has probability 1 / (3 x rows in the family).
        """
        families = [p["family"] for p in self.params]
        counts = {f: families.count(f) for f in set(families)}
        return np.array([1.0 / (len(counts) * counts[f]) for f in families])

    def random_search_regret(self, n_trials: int) -> tuple[float, None]:
        """Exact expected regret of RandomSampler after ``n_trials`` (draws with replacement).

        With rows sorted by value and ``F`` the probability of drawing a value at
        most ``v``, ``E[best] = sum_v v (F(v)^n - F(v-)^n)``.
        """
        values, inverse = np.unique(self.val_accuracy, return_inverse=True)
        mass = np.bincount(inverse, weights=self.random_draw_probabilities(), minlength=len(values))
        cdf = np.clip(np.cumsum(mass), 0.0, 1.0)
        below = np.concatenate([[0.0], cdf[:-1]])
        expected = float(values @ (cdf**n_trials - below**n_trials))
        return self.optimum - expected, None


register_problem("mnist1d-table", "manifold_search.benchmark.mnist1d_table:Mnist1DTable.load",
                 description=Mnist1DTable.description)
