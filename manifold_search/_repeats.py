"""Show a repeated warning once per run, not once per trial.

Some samplers warn on every proposal with the same text but for the trial number
and parameter name (GPSampler: "The parameter `x` in Trial#12 is sampled
independently ..."); one benchmark run printed 6,683 such lines. Inside
:func:`repeated_warnings_once` a log record or Python warning is shown the first
time its text appears with numbers and `quoted names` blanked out, and dropped
after that. Other messages pass untouched.
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from collections.abc import Iterator
from typing import Any

_VARYING = re.compile(r"`[^`]*`|'[^']*'|\d+")
_NOTE = " (shown once per run; later repeats for other trials or parameters are not shown)"


def _shape(text: str) -> str:
    return _VARYING.sub("#", text)


class _FirstOfEach(logging.Filter):
    """Passes the first record of each message shape at WARNING and above."""

    def __init__(self, seen: set[tuple[str, str]]) -> None:
        super().__init__()
        self.seen = seen

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = ("log", _shape(record.getMessage()))
        if key in self.seen:
            return False
        self.seen.add(key)
        record.msg, record.args = record.getMessage() + _NOTE, None
        return True


@contextlib.contextmanager
def repeated_warnings_once() -> Iterator[None]:
    """Inside the block, each shape of warning (log record or ``warnings.warn``) shows once."""
    seen: set[tuple[str, str]] = set()
    first = _FirstOfEach(seen)
    handlers = [*logging.getLogger("optuna").handlers, *logging.getLogger().handlers]
    for handler in handlers:
        handler.addFilter(first)
    try:
        with warnings.catch_warnings():
            show = warnings.showwarning

            def show_first(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
                key = (category.__name__, _shape(str(message)))
                if key not in seen:
                    seen.add(key)
                    show(message, category, *args, **kwargs)

            warnings.showwarning = show_first
            yield
    finally:
        for handler in handlers:
            handler.removeFilter(first)


__all__ = ["repeated_warnings_once"]
