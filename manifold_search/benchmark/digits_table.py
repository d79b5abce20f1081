"""The digits NAS table as a benchmark problem, with recorded networks.

The second recorded table, built to check that what was tuned on the MNIST-1D
table transfers: every configuration of ``search_spaces.digits_grid`` (720 MLP
and 2-D CNN configurations on scikit-learn's 8x8 digits) was trained once
(``scripts/build_digits_table.py``); the table stores its validation and test
accuracy and its penultimate representation on the live ``digits`` space's
probe set (256 validation images, PCA-32, float16). Served exactly as
``mnist1d-table`` (:class:`~manifold_search.benchmark.recorded_table.RecordedTable`).

    >>> from manifold_search.benchmark.digits_table import DigitsTable
    >>> table = DigitsTable.load()  # doctest: +SKIP
"""

from __future__ import annotations

from manifold_search.benchmark.problems import Problem, register_problem
from manifold_search.benchmark.recorded_table import RecordedTable


class DigitsTable(RecordedTable):
    """Look-ups in the digits NAS table; maximise validation accuracy."""

    name = "digits-table"
    description = "digits (8x8) NAS table: 720 MLP/CNN configurations, validation accuracy"
    table_file = "digits_nas.npz"
    grid = "search_spaces.digits_grid"
    build_script = "scripts/build_digits_table.py"


def _factory() -> Problem:
    return DigitsTable.load()


_factory.__module__ = __name__
register_problem("digits-table", _factory, description=DigitsTable.description)
