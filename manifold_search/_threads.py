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
