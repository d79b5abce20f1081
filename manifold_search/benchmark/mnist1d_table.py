"""The MNIST-1D NAS table as a benchmark problem, with recorded networks.

Every configuration of ``search_spaces.mnist1d_grid`` (1,056 of them) was
trained once (``scripts/build_mnist1d_table.py``); the table stores its
validation and test accuracy and its penultimate representation on the live
``mnist1d`` space's probe set (PCA-reduced, float16). Serving is shared with
the other recorded tables (:class:`~manifold_search.benchmark.recorded_table.RecordedTable`).

    >>> from manifold_search.benchmark.mnist1d_table import Mnist1DTable
    >>> table = Mnist1DTable.load()  # doctest: +SKIP
    >>> round(table.optimum, 3)  # doctest: +SKIP
"""

from __future__ import annotations

import os

from manifold_search.benchmark.problems import Problem, register_problem
from manifold_search.benchmark.recorded_table import TABLES_DIR, RecordedTable

TABLE_PATH = os.path.join(TABLES_DIR, "mnist1d_nas.npz")


class Mnist1DTable(RecordedTable):
    """Look-ups in the MNIST-1D NAS table; maximise validation accuracy."""

    name = "mnist1d-table"
    description = "MNIST-1D NAS table: 1,056 MLP/CNN/GRU configurations, validation accuracy"
    table_file = "mnist1d_nas.npz"
    grid = "search_spaces.mnist1d_grid"
    build_script = "scripts/build_mnist1d_table.py"


def _factory() -> Problem:
    return Mnist1DTable.load()


_factory.__module__ = __name__
register_problem("mnist1d-table", _factory, description=Mnist1DTable.description)
