"""Numbers and durations as text, one way for every report and message.

>>> number(0.96251), number(12345), number(3.14159, significant=6), duration(75.3)
('0.963', '12,345', '3.14159', '1m15s')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def number(value: Any, digits: int = 3, *, fixed: bool = False,
           significant: int | None = None) -> str:  # fmt: skip
    """A table cell: ``-`` for missing or non-finite values, integers grouped from 10,000.

    Floats get ``digits`` decimals when they are at most 1 in size (or always, with
    ``fixed``; regret tables align on the decimal point), else ``digits + 1``
    significant digits; values too small for ``digits`` decimals get two significant
    digits instead of printing as zero. ``significant`` asks for that many
    significant digits whatever the size.
    """
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10000 else str(value)
    if not isinstance(value, float):
        try:
            value = float(value)
        except (TypeError, ValueError):
            return str(value)
    if not math.isfinite(value):
        return "-"
    if significant is not None:
        return f"{value:.{significant}g}"
    if value == 0:
        return "0"
    if abs(value) < 0.5 * 10.0**-digits:
        return f"{value:.2g}"
    if fixed or abs(value) <= 1:
        return f"{value:.{digits}f}"
    return f"{value:.{digits + 1}g}"


def duration(seconds: Any) -> str:
    """``0.0004`` -> ``400 µs``, ``0.25`` -> ``250.0 ms``, ``3.2`` -> ``3.20 s``, ``75`` -> ``1m15s``."""
    if seconds is None or isinstance(seconds, bool):
        return "-"
    seconds = float(seconds)
    if not math.isfinite(seconds):
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    whole = int(round(seconds))
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def param_value(value: Any) -> str:
    """A parameter's value: floats to 3 significant digits (``0.00993``, ``0.0014``,
    ``1e-06``: never fixed decimals, which print log-scale values as 0.010 and 0.001),
    anything else as it is. The explore page's ``param()`` mirrors this."""
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def params(values: Mapping[str, Any]) -> str:
    """``family=cnn, lr=0.00993, ...``: floats to 3 significant digits."""
    return ", ".join(f"{k}={param_value(v)}" for k, v in values.items())
