"""Samplers to compare: the shared sampler registry plus benchmark specs.

Samplers are built by name or import path in :mod:`manifold_search.samplers`
(names in :data:`manifold_search.registry.SAMPLERS`, case-insensitive);
:func:`register_sampler` adds a name. This module adds what only a comparison
needs: a support check per sampler (cmaes is refused on all-categorical
spaces, where it would sample every parameter with its independent
RandomSampler, i.e. be random search) and the sampler *spec*.

A sampler *spec* on the command line is ``NAME`` or ``LABEL=NAME``; the label
names the sampler in results and reports (default: the name, or the class name
of an import path). Keyword arguments are given per label as a JSON object or
as ``key=value`` pairs separated by commas (values parsed as JSON when they
can be, else kept as strings).
"""

from __future__ import annotations

import importlib.util
import json
import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from manifold_search.registry import SAMPLERS
from manifold_search.samplers import (
    SamplerError,
    SamplerOptionError,
    build_sampler,
    canonical_name,
    sampler_label,
)

#: Why a sampler cannot run on a problem (by registered name), for the few that cannot.
Unsupported = Callable[[Any], str | None]


def _cmaes_unsupported(problem: Any) -> str | None:
    if importlib.util.find_spec("cmaes") is None:
        return (
            "Optuna's CmaEsSampler needs the 'cmaes' package, which is not installed "
            "(pip install cmaes)"
        )
    if problem.is_all_categorical():
        return (
            "CmaEsSampler does not model categorical parameters and this search space is "
            "all-categorical: every parameter would come from its independent "
            "RandomSampler, so it would only repeat random search"
        )
    return None


UNSUPPORTED: dict[str, Unsupported] = {"cmaes": _cmaes_unsupported}


def register_sampler(
    name: str,
    build: str | Callable[..., Any],
    *,
    description: str = "",
    unsupported: Unsupported | None = None,
    replace: bool = False,
) -> None:
    """Add ``name``: ``build(seed, **kwargs)`` (module level, or its import path) returns a
    fresh sampler."""
    SAMPLERS.register(name, build, description, replace=replace)
    if unsupported is not None:
        UNSUPPORTED[name] = unsupported


_LABEL_RE = re.compile(r"^[A-Za-z0-9_.+-]+$")


@dataclass(frozen=True)
class SamplerSpec:
    """One sampler of a comparison: its label, name and keyword arguments."""

    label: str
    name: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "name": self.name, "kwargs": dict(self.kwargs)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SamplerSpec:
        return cls(data["label"], data["name"], dict(data.get("kwargs", {})))

    def build(self, seed: int) -> Any:
        """A fresh sampler seeded with ``seed``."""
        return build_sampler(self.name, seed, self.kwargs, label=self.label)

    def unsupported_reason(self, problem: Any) -> str | None:
        """Why this sampler should not run on ``problem`` (``None`` if it can)."""
        check = UNSUPPORTED.get(sampler_label(self.name))
        return None if check is None else check(problem)

    def check(self) -> None:
        """Build once so that bad names or keyword arguments fail early."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. ExperimentalWarning, shown per run
                self.build(0)
        except SamplerOptionError as exc:
            raise SamplerError(f"--sampler-kwargs {self.label}: {exc}") from None
        except SamplerError:
            raise
        except TypeError as exc:
            raise SamplerError(
                f"sampler {self.label!r} ({self.name}) rejected its keyword arguments "
                f"{dict(self.kwargs)} ({exc}); fix --sampler-kwargs"
            ) from exc
        except (ValueError, ImportError) as exc:
            raise SamplerError(f"sampler {self.label!r} ({self.name}) failed to build: {exc}") from exc


def parse_kwargs(text: str) -> dict[str, Any]:
    """``'{"a": 1}'`` or ``'a=1,b=true,c=name'`` -> a dict (JSON values when they parse)."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SamplerError(f"sampler keyword arguments {text!r} are not valid JSON ({exc})") from exc
        if not isinstance(value, dict):
            raise SamplerError(f"sampler keyword arguments {text!r} must be a JSON object")
        return value
    out: dict[str, Any] = {}
    for pair in text.split(","):
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise SamplerError(
                f"bad sampler keyword argument {pair!r}; write key=value pairs separated by "
                "commas, or a JSON object"
            )
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw.strip()
    return out


def parse_samplers(
    text: str, kwargs_args: Iterable[str] = ()
) -> list[SamplerSpec]:
    """Parse ``"random,tpe,fast=tpe,pkg.mod:Cls"`` and ``["LABEL:KWARGS", ...]``."""
    entries = [e.strip() for e in text.split(",") if e.strip()]
    if not entries:
        raise SamplerError("no samplers given; write e.g. --samplers random,tpe,gp")
    specs: list[SamplerSpec] = []
    for entry in entries:
        label, sep, name = entry.partition("=")
        name = canonical_name((name if sep else entry).strip())
        label = label.strip() if sep else sampler_label(name)
        if not _LABEL_RE.match(label):
            raise SamplerError(
                f"bad sampler label {label!r}; use letters, digits and _.+- (LABEL=NAME)"
            )
        if any(s.label == label for s in specs):
            raise SamplerError(
                f"sampler label {label!r} given twice; name variants LABEL=NAME, e.g. tpe5=tpe"
            )
        specs.append(SamplerSpec(label, name, {}))

    by_label = {s.label: s for s in specs}
    for arg in kwargs_args:
        label, sep, rest = arg.partition(":")
        if not sep or label not in by_label:
            raise SamplerError(
                f"--sampler-kwargs {arg!r} must start with one of the sampler labels "
                f"({', '.join(by_label)}) and a colon, e.g. tpe:n_startup_trials=20"
            )
        spec = by_label[label]
        by_label[label] = SamplerSpec(spec.label, spec.name, {**spec.kwargs, **parse_kwargs(rest)})
    return [by_label[s.label] for s in specs]
