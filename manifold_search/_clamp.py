"""Options clamped to what the data allows, said aloud once.

A value that cannot be honoured as given (a probe larger than the validation set,
more neighbours than there are points) is replaced by the nearest value that can,
and a warning names the option, the value asked and the value used, once per
option and value in a process, so a study that asks the same thing every trial
says it one time.

>>> import warnings
>>> with warnings.catch_warnings(record=True) as seen:
...     warnings.simplefilter("always")
...     clamp_option("knn", 9, 1, 4, "with 5 points")
...     clamp_option("knn", 9, 1, 4, "with 5 points")
4
4
>>> [str(w.message) for w in seen]
['knn = 9 cannot be used with 5 points; using 4']
"""

from __future__ import annotations

import threading
import warnings
from typing import TypeVar

Number = TypeVar("Number", int, float)

_said: set[tuple[str, object]] = set()
_lock = threading.Lock()


def clamp_option(name: str, asked: Number, low: Number, high: Number, why: str,
                 stacklevel: int = 3) -> Number:  # fmt: skip
    """``asked`` clipped to ``[low, high]``; a warning the first time it changes."""
    used = min(max(asked, low), high)
    if used != asked:
        with _lock:
            fresh = (name, asked) not in _said
            _said.add((name, asked))
        if fresh:
            warnings.warn(f"{name} = {asked} cannot be used {why}; using {used}",
                          UserWarning, stacklevel=stacklevel)  # fmt: skip
    return used


__all__ = ["clamp_option"]
