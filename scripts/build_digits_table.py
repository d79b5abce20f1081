"""Build the digits NAS table: train every configuration of ``search_spaces.digits_grid`` once.

720 configurations of scikit-learn's 8x8 digits (offline), each trained for 10
epochs with seed 0 and recorded on the live ``digits`` space's probe set (256
of the 270 validation images, class-stratified, seed 1); penultimate
representations reduced by PCA to 32 components in float16. Resumable (one part
file per configuration under ``--workdir``), ``--jobs`` spawned workers with one
torch thread each, niced by ``--nice`` (default 10). The machinery is shared with
the MNIST-1D table (``manifold_search.benchmark.table_builder``).

    nohup python scripts/build_digits_table.py --jobs 2 > runs/digits_table.log 2>&1 &
"""

from __future__ import annotations

import sys

from manifold_search.benchmark.table_builder import TableSpec, main

SPEC = TableSpec(
    grid="search_spaces.digits_grid",
    space="search_spaces.digits_grid:DigitsGridSpace",
    epochs=10,
    workdir="runs/digits_table",
    out="manifold_search/tables/digits_nas.npz",
)

if __name__ == "__main__":
    sys.exit(main(SPEC, "Build the digits NAS table (resumable)."))
