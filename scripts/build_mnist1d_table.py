"""Build the MNIST-1D NAS table: train every configuration of ``search_spaces.mnist1d_grid`` once.

1,056 configurations, each trained for 15 epochs with seed 0 and recorded on
the live ``mnist1d`` space's probe set (256 validation inputs, seed 0);
penultimate representations reduced by PCA to 32 components in float16.
Resumable (one part file per configuration under ``--workdir``), ``--jobs``
spawned workers with one torch thread each, niced by ``--nice`` (default 10).
The machinery is shared with the digits table
(``manifold_search.benchmark.table_builder``).

    nohup python scripts/build_mnist1d_table.py --jobs 2 > runs/table.log 2>&1 &
"""

from __future__ import annotations

import sys

from manifold_search.benchmark.table_builder import TableSpec, main

SPEC = TableSpec(
    grid="search_spaces.mnist1d_grid",
    space="search_spaces.mnist1d_grid:Mnist1DGridSpace",
    epochs=15,
    workdir="runs/mnist1d_table",
    out="manifold_search/tables/mnist1d_nas.npz",
)

if __name__ == "__main__":
    sys.exit(main(SPEC, "Build the MNIST-1D NAS table (resumable)."))
