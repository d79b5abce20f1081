"""Thread limits for spawned worker processes.

Small networks and small BLAS calls run fastest with one thread per process;
with two processes on two cores, more threads only oversubscribe. Spawned
workers read these variables when they import numpy or torch.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@contextlib.contextmanager
def thread_env(threads: int) -> Iterator[None]:
    """Set the thread variables for the processes spawned inside the block; restore after."""
    saved = {var: os.environ.get(var) for var in THREAD_VARS}
    try:
        for var in THREAD_VARS:
            os.environ[var] = str(threads)
        yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


@contextlib.contextmanager
def process_threads(threads: int) -> Iterator[None]:
    """Limit this process's torch and BLAS/OpenMP threads inside the block; restore after.

    For work that runs in this process rather than in spawned workers (a benchmark with
    ``--jobs 1``): the variables alone would not reach libraries already loaded, so
    torch is told directly and loaded BLAS/OpenMP pools through threadpoolctl; the
    variables cover libraries loaded inside the block.
    """
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with thread_env(threads), threadpool_limits(limits=threads):
            yield
    finally:
        torch.set_num_threads(before)


__all__ = ["THREAD_VARS", "process_threads", "thread_env"]
