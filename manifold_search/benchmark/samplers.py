"""Samplers to compare, built by name with a seed.

Built-in names (:data:`SAMPLERS`):

========================  ===================================================
``random``                ``RandomSampler(seed=...)``
``tpe``                   ``TPESampler(seed=...)``: Optuna 5 defaults, i.e.
                          multivariate TPE (``multivariate=None`` means True for
                          one objective) with ``constant_liar=True``
``tpe-univariate``        ``TPESampler(seed=..., multivariate=False)``
``gp``                    ``GPSampler(seed=...)``
``cmaes``                 ``CmaEsSampler(seed=...)``; refused on all-categorical
                          spaces, where it would sample every parameter with its
                          independent RandomSampler (i.e. be random search)
``qmc``                   ``QMCSampler(seed=..., scramble=True)`` (scrambled so
                          that seeds differ; Optuna's default is unscrambled)
``manifold``              ``manifold_search.ManifoldSampler(seed=...)``
========================  ===================================================

Any other sampler is given by import path ``"package.module:Class"`` (a
``BaseSampler`` subclass or a factory returning one; ``seed`` is passed when
its signature accepts it). ``register_sampler`` adds names.

A sampler *spec* on the command line is ``NAME`` or ``LABEL=NAME``; the label
names the sampler in results and reports (default: the name, or the class name
of an import path). Keyword arguments are given per label as a JSON object or
as ``key=value`` pairs separated by commas (values parsed as JSON when they
can be, else kept as strings).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.samplers import BaseSampler

from manifold_search._imports import import_object
from manifold_search.benchmark.problems import Problem


class SamplerError(ValueError):
    """An unknown sampler or bad sampler arguments; the message says how to fix it."""


@dataclass(frozen=True)
class SamplerEntry:
    """A registered sampler: ``build(seed, **kwargs)`` and an optional support check."""

    build: Callable[..., BaseSampler]
    description: str
    unsupported: Callable[[Problem], str | None] | None = None


def _cmaes_unsupported(problem: Problem) -> str | None:
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


def _manifold(seed: int, **kwargs: Any) -> BaseSampler:
    try:
        import manifold_search
    except ImportError as exc:  # pragma: no cover - the package itself is importable
        raise SamplerError(f"cannot import manifold_search ({exc})") from exc
    cls = getattr(manifold_search, "ManifoldSampler", None)
    if cls is None:
        raise SamplerError(
            "sampler 'manifold' needs manifold_search.ManifoldSampler, which this install "
            "does not provide yet; benchmark another sampler or give one as 'module:Class'"
        )
    return cls(seed=seed, **kwargs)


SAMPLERS: dict[str, SamplerEntry] = {
    "random": SamplerEntry(
        lambda seed, **kw: optuna.samplers.RandomSampler(seed=seed, **kw),
        "RandomSampler",
    ),
    "tpe": SamplerEntry(
        lambda seed, **kw: optuna.samplers.TPESampler(seed=seed, **kw),
        "TPESampler with Optuna's defaults (Optuna 5: multivariate, constant liar)",
    ),
    "tpe-univariate": SamplerEntry(
        lambda seed, **kw: optuna.samplers.TPESampler(
            seed=seed, **{"multivariate": False, **kw}
        ),
        "TPESampler(multivariate=False): independent TPE per parameter",
    ),
    "gp": SamplerEntry(
        lambda seed, **kw: optuna.samplers.GPSampler(seed=seed, **kw),
        "GPSampler (Gaussian-process Bayesian optimisation)",
    ),
    "cmaes": SamplerEntry(
        lambda seed, **kw: optuna.samplers.CmaEsSampler(seed=seed, **kw),
        "CmaEsSampler (numeric parameters only)",
        _cmaes_unsupported,
    ),
    "qmc": SamplerEntry(
        lambda seed, **kw: optuna.samplers.QMCSampler(seed=seed, **{"scramble": True, **kw}),
        "QMCSampler, scrambled Sobol",
    ),
    "manifold": SamplerEntry(_manifold, "manifold_search.ManifoldSampler (this project)"),
}


def register_sampler(
    name: str,
    build: Callable[..., BaseSampler],
    *,
    description: str = "",
    unsupported: Callable[[Problem], str | None] | None = None,
    replace: bool = False,
) -> None:
    """Add ``name``: ``build(seed, **kwargs)`` must return a fresh sampler."""
    if name in SAMPLERS and not replace:
        raise ValueError(f"sampler {name!r} is already registered")
    SAMPLERS[name] = SamplerEntry(build, description, unsupported)


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

    def _import(self) -> Callable[..., BaseSampler]:
        try:
            obj = import_object(self.name)
        except ValueError as exc:
            raise SamplerError(
                f"{exc} for sampler {self.name!r}; give an importable 'package.module:Class'"
            ) from exc
        if not callable(obj):
            raise SamplerError(f"{self.name!r} is not a sampler class or factory")
        return obj

    def build(self, seed: int) -> BaseSampler:
        """A fresh sampler seeded with ``seed``."""
        kwargs = dict(self.kwargs)
        if ":" in self.name:
            factory = self._import()
            if "seed" not in kwargs and _accepts(factory, "seed"):
                kwargs["seed"] = seed
            sampler = factory(**kwargs)
        else:
            entry = SAMPLERS.get(self.name)
            if entry is None:
                raise SamplerError(
                    f"unknown sampler {self.name!r}; choose one of: {', '.join(SAMPLERS)} "
                    "(or give an import path 'package.module:Class')"
                )
            kwargs.pop("seed", None)
            sampler = entry.build(seed, **kwargs)
        if not isinstance(sampler, BaseSampler):
            raise SamplerError(
                f"sampler {self.label!r} built a {type(sampler).__name__}, "
                "not an optuna.samplers.BaseSampler"
            )
        return sampler

    def unsupported_reason(self, problem: Problem) -> str | None:
        """Why this sampler should not run on ``problem`` (``None`` if it can)."""
        entry = SAMPLERS.get(self.name)
        if entry is None or entry.unsupported is None:
            return None
        return entry.unsupported(problem)

    def check(self) -> None:
        """Build once so that bad names or keyword arguments fail early."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. ExperimentalWarning, shown per run
                self.build(0)
        except SamplerError:
            raise
        except TypeError as exc:
            raise SamplerError(
                f"sampler {self.label!r} ({self.name}) rejected its keyword arguments "
                f"{dict(self.kwargs)} ({exc}); fix --sampler-kwargs"
            ) from exc
        except (ValueError, ImportError) as exc:
            raise SamplerError(f"sampler {self.label!r} ({self.name}) failed to build: {exc}") from exc


def _accepts(factory: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


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
        if not sep:
            name = entry
            label = entry.rsplit(":", 1)[-1].rsplit(".", 1)[-1] if ":" in entry else entry
        label, name = label.strip(), name.strip()
        if ":" not in name and name not in SAMPLERS:
            raise SamplerError(
                f"unknown sampler {name!r}; choose one of: {', '.join(SAMPLERS)} "
                "(or give an import path 'package.module:Class')"
            )
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
