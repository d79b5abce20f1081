"""SIGTERM handled like Ctrl-C, for every long-running command.

Schedulers and ``kill`` send SIGTERM; its default action ends the process at
once, so ``finally`` blocks and ``atexit`` handlers never run: a running trial
stays RUNNING, temporary folders stay on disk. Turning it into
KeyboardInterrupt sends it down the same path as Ctrl-C, which every command
already handles (finished work kept, exit 130).
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator
from typing import Any


def sigterm_as_interrupt() -> None:
    """Raise KeyboardInterrupt on SIGTERM; a second SIGTERM terminates for real."""

    def interrupt(_signum: int, _frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM really terminates
        raise KeyboardInterrupt

    with contextlib.suppress(ValueError):  # not the main thread (e.g. a test runner's)
        signal.signal(signal.SIGTERM, interrupt)


@contextlib.contextmanager
def interrupts_kept() -> Iterator[None]:
    """Keep a KeyboardInterrupt that lands while Optuna records a trial's result.

    Optuna's ``_run_trial`` (checked on 5.0) catches only ``Exception`` around
    ``_tell_with_warning`` (which runs the sampler's ``after_trial``) and then reads
    ``updated_state`` in a ``finally`` block, so an interrupt there surfaces as
    ``UnboundLocalError`` and would pass for a failed run. Raise the interrupt instead.
    """
    try:
        yield
    except UnboundLocalError as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):
            raise KeyboardInterrupt from exc
        raise


__all__ = ["interrupts_kept", "sigterm_as_interrupt"]


def die_with_parent() -> None:
    """Ask Linux to send this worker SIGTERM when its parent dies, so a SIGKILLed ``run``
    or ``benchmark`` leaves no orphan training on (``prctl(PR_SET_PDEATHSIG)``; elsewhere a no-op)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
