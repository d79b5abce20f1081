"""Samplers by name: the factories behind :data:`manifold_search.registry.SAMPLERS`.

Every factory is ``build(seed, **kwargs) -> BaseSampler``. Both the study runner
and the benchmark harness build samplers here, so neither depends on the other.

========================  ===================================================
``random``                ``RandomSampler(seed=...)``
``tpe``                   ``TPESampler(seed=...)``: Optuna 5 defaults, i.e.
                          multivariate TPE (``multivariate=None`` means True for
                          one objective) with ``constant_liar=True``
``tpe-univariate``        ``TPESampler(seed=..., multivariate=False)``
``gp``                    ``GPSampler(seed=...)``
``cmaes``                 ``CmaEsSampler(seed=...)`` (the benchmark refuses it on
                          all-categorical spaces, where it would be random search)
``qmc``                   ``QMCSampler(seed=..., scramble=True)`` (scrambled so
                          that seeds differ; Optuna's default is unscrambled)
``manifold``              ``manifold_search.ManifoldSampler(seed=...)``
========================  ===================================================

Any other sampler is given by import path ``"package.module:Class"`` (a
``BaseSampler`` subclass or a factory returning one; ``seed`` is passed when its
signature accepts it). Names are case-insensitive.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from manifold_search.registry import SAMPLERS, UnknownName, import_object


class SamplerError(ValueError):
    """An unknown sampler or bad sampler arguments; the message says how to fix it."""


class SamplerOptionError(SamplerError):
    """A sampler option of the wrong type: ``n_startup_trials expects an integer, got
    'ten' (a string)``."""


def random(seed: int, **kwargs: Any) -> Any:
    import optuna

    return optuna.samplers.RandomSampler(seed=seed, **kwargs)


def tpe(seed: int, **kwargs: Any) -> Any:
    import optuna

    return optuna.samplers.TPESampler(seed=seed, **kwargs)


def tpe_univariate(seed: int, **kwargs: Any) -> Any:
    return tpe(seed, **{"multivariate": False, **kwargs})


def gp(seed: int, **kwargs: Any) -> Any:
    import optuna

    return optuna.samplers.GPSampler(seed=seed, **kwargs)


def cmaes(seed: int, **kwargs: Any) -> Any:
    import optuna

    return optuna.samplers.CmaEsSampler(seed=seed, **kwargs)


def qmc(seed: int, **kwargs: Any) -> Any:
    import optuna

    return optuna.samplers.QMCSampler(seed=seed, **{"scramble": True, **kwargs})


def manifold(seed: int, **kwargs: Any) -> Any:
    from manifold_search.sampler import ManifoldSampler

    return ManifoldSampler(seed=seed, **kwargs)


def canonical_name(name: str) -> str:
    """A registered name in its registered spelling (``TPE`` -> ``tpe``); import paths as given."""
    if ":" in name:
        return name
    try:
        return SAMPLERS.lookup(name).name
    except UnknownName as exc:
        raise SamplerError(f"{exc} (or give an import path 'package.module:Class')") from None


def sampler_label(name: str) -> str:
    """A short label of a sampler name: ``TPE`` -> ``tpe``, ``pkg.mod:Cls`` -> ``Cls``."""
    if ":" in name:
        return name.rsplit(":", 1)[-1].rsplit(".", 1)[-1]
    return SAMPLERS.canonical(name) or name


def sampler_defaults(name: str) -> dict[str, Any]:
    """Keyword defaults of a registered sampler's class (``n_startup_trials``, ...).

    Read from the class's ``__init__`` signature, so the report never restates them.
    """
    cls = _sampler_class(name)
    if cls is None:
        return {}
    try:
        params = inspect.signature(cls.__init__).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


def _sampler_class(name: str) -> type | None:
    if ":" in name:
        try:
            obj = import_object(name)
        except ValueError:
            return None
        return obj if isinstance(obj, type) else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return type(build_sampler(name, 0))
        except (SamplerError, TypeError, ValueError, ImportError):
            return None


def _factory(name: str) -> tuple[Callable[..., Any], bool]:
    """The factory of ``name`` and whether the seed is passed positionally (registered)."""
    if ":" not in name:
        return SAMPLERS.lookup(canonical_name(name)).load(), True
    try:
        obj = import_object(name)
    except ValueError as exc:
        raise SamplerError(
            f"{exc} for sampler {name!r}; give an importable 'package.module:Class'"
        ) from exc
    if not callable(obj):
        raise SamplerError(f"{name!r} is not a sampler class or factory")
    return obj, False


def accepts(factory: Callable[..., Any], name: str) -> bool:
    """Whether ``factory`` takes a keyword argument ``name`` (or ``**kwargs``)."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def check_option_types(name: str, kwargs: Mapping[str, Any]) -> None:
    """Check ``kwargs`` against the annotations of sampler ``name``'s constructor, so a value
    of the wrong type is one line now, not ``'<' not supported`` at the first proposal."""
    from manifold_search._option_types import option_type_error

    if not kwargs:
        return
    target = _sampler_class(name) if ":" not in name else _factory(name)[0]
    if target is None:
        return
    for key, value in kwargs.items():
        problem = option_type_error(target, key, value)
        if problem is not None:
            raise SamplerOptionError(problem)


def build_sampler(name: str, seed: int, kwargs: Mapping[str, Any] | None = None,
                  label: str | None = None) -> Any:  # fmt: skip
    """A fresh sampler ``name`` seeded with ``seed``; :class:`SamplerError` on bad names."""
    from optuna.samplers import BaseSampler

    kwargs = dict(kwargs or {})
    factory, registered = _factory(name)
    check_option_types(name, kwargs)
    if registered:
        kwargs.pop("seed", None)
        sampler = factory(seed, **kwargs)
    else:
        if "seed" not in kwargs and accepts(factory, "seed"):
            kwargs["seed"] = seed
        sampler = factory(**kwargs)
    if not isinstance(sampler, BaseSampler):
        raise SamplerError(
            f"sampler {label or sampler_label(name)!r} built a {type(sampler).__name__}, "
            "not an optuna.samplers.BaseSampler"
        )
    return sampler


__all__ = [
    "SamplerError",
    "SamplerOptionError",
    "check_option_types",
    "build_sampler",
    "canonical_name",
    "sampler_defaults",
    "sampler_label",
]
