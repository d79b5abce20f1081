"""A recorded NAS table as a benchmark problem: look-ups that carry trained networks.

A recorded table (``manifold_search/tables/*.npz``, built by
``manifold_search.benchmark.table_builder``) holds, for every configuration of
a discrete grid trained once, its validation and test accuracy and its
penultimate representation on the live space's probe set (PCA-reduced,
float16). A trial suggests a configuration exactly as the live grid space
does, looks it up, returns the validation accuracy, stores the test accuracy,
and records the stored representation through ``record_representations`` --
the same artifact and attribute a live ``record_network`` writes -- so the
manifold sampler sees the same kind of data as in a live study.

Subclasses name the table file and the grid module (``suggest_grid`` and
``grid_key``); everything else is shared (``mnist1d_table``, ``digits_table``).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import optuna
from scipy.special import gammaln

from manifold_search.benchmark.problems import TEST_VALUE_ATTR, Problem
from manifold_search.registry import import_object
from manifold_search.representations import record_representations

TABLES_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "tables")


class RecordedTable(Problem):
    """Look-ups in a recorded NAS table; maximise validation accuracy.

    Class attributes a subclass sets: ``name``, ``description``, ``table_file``
    (a file name under ``manifold_search/tables``), ``grid`` (module with
    ``suggest_grid`` and ``grid_key``) and ``build_script``.

    Args:
        path: the table file (default: the one shipped in the package).
        record: record each trial's stored representation (for the manifold
            sampler); off saves a little time for samplers that ignore it.
    """

    direction = "maximize"
    value_label = "validation accuracy"
    test_label = "test accuracy"
    table_file: str = ""
    grid: str = ""
    build_script: str = ""

    def __init__(self, path: str | None = None, record: bool = True) -> None:
        path = path or os.path.join(TABLES_DIR, self.table_file)
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"{self.name} table not found at {path}; build it with 'python {self.build_script}'"
            )
        self.path = path
        with np.load(path, allow_pickle=False) as data:
            self.params = [json.loads(p) for p in data["params"]]
            self.val_accuracy = data["val_accuracy"].astype(float)
            self.test_accuracy = data["test_accuracy"].astype(float)
            self.train_seconds = data["train_seconds"].astype(float)
            self.n_params = data["n_params"]
            self.representation = data["representation"]
            self.probe_labels = data["probe_labels"]
            self.meta = json.loads(str(data["meta"]))
        self._suggest: Callable[[optuna.Trial], dict[str, Any]] = import_object(f"{self.grid}:suggest_grid")
        self._key: Callable[[dict[str, Any]], str] = import_object(f"{self.grid}:grid_key")
        self.index = {self._key(p): i for i, p in enumerate(self.params)}
        self.optimum = float(self.val_accuracy.max())
        self.test_optimum = float(self.test_accuracy.max())
        self.record = record

    @classmethod
    @functools.cache
    def load(cls) -> RecordedTable:
        """The shipped table, loaded once per process (per subclass)."""
        return cls()

    def lookup(self, params: dict[str, Any]) -> int:
        """Row of a configuration given as grid values (not indexes)."""
        try:
            return self.index[self._key(params)]
        except KeyError:
            raise KeyError(f"configuration not in the {self.name} table: {params}") from None

    def objective(self, seed: int) -> Callable[[optuna.Trial], float]:
        def objective(trial: optuna.Trial) -> float:
            row = self.lookup(self._suggest(trial))
            trial.set_user_attr(TEST_VALUE_ATTR, float(self.test_accuracy[row]))
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

    def expected_random_best(self, n_trials: int) -> np.ndarray:
        """Exact expected best validation accuracy of random search without replacement.

        For draws of ``m`` distinct configurations out of ``N``, the best is the
        value of rank ``r`` (in descending order, 1-based) with probability
        ``C(N - r, m - 1) / C(N, m)``; returns the expectation for m = 1..n_trials.
        Note: samplers draw *parameters*, and conditional families make grid
        points unequally likely; this curve is for uniform draws over the table.
        """
        values = np.sort(self.val_accuracy)[::-1]
        n = len(values)
        out = np.empty(n_trials)
        for m in range(1, n_trials + 1):
            r = np.arange(1, n - m + 2)
            # log C(N - r, m - 1) - log C(N, m), computed with gammaln for stability
            log_p = (gammaln(n - r + 1) - gammaln(m) - gammaln(n - r - m + 2)
                     - (gammaln(n + 1) - gammaln(m + 1) - gammaln(n - m + 1)))  # fmt: skip
            out[m - 1] = float(np.exp(log_p) @ values[: len(r)])
        return out

    def random_draw_probabilities(self) -> np.ndarray:
        """Probability of each row under Optuna's RandomSampler on the grid space.

        The family is drawn first (uniformly), then every parameter of that
        family uniformly; each family's rows are a full product of its
        parameters, so a row of family ``f`` has probability
        1 / (families x rows in ``f``).
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
