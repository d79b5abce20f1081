"""Benchmark problems: the interface every problem implements, and the registry.

A *problem* is what a sampler is benchmarked on: an Optuna objective, the
direction it is optimised in, and the oracle value that defines regret. The
harness (``runner``) knows nothing else about a problem, so tabular look-ups
(NAS-Bench-201, HPOBench, the project's MNIST-1D table) and live training can
all be benchmarked the same way.

Problems are looked up by name in two :class:`manifold_search.registry.Registry`
objects (:data:`PROBLEMS`, :data:`FAMILIES`): name -> import path of a factory,
with a description, resolved when the problem is used. Three ways to add one:

* ``register_problem("my-problem", factory)`` at import time of a module, where
  ``factory()`` returns a :class:`Problem` and is a module-level class or function
  (or its import path). Worker processes are started with the ``spawn`` method and
  import the factory's module: register from an importable module, not from
  ``__main__``, and no lambdas.
* ``register_problem_family("live", factory)``: ``factory(arg)`` builds the
  problem for any name ``"live:<arg>"`` (for example a live-training problem per
  search space).
* An import path ``"package.module:attribute"`` naming a :class:`Problem`
  instance, subclass or factory, used as the problem name directly.

Built-in problems live in the modules listed in :data:`PROBLEM_MODULES`; they
are imported lazily the first time the registry is consulted.
"""

from __future__ import annotations

import importlib
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import optuna

from manifold_search._attrs import TEST_VALUE
from manifold_search.registry import Registry, import_object

#: Trial user attribute in which an objective may record a held-out ("test")
#: value of the configuration it evaluated. The harness reports the test value
#: of the incumbent (the trial with the best objective value so far).
TEST_VALUE_ATTR = TEST_VALUE

#: Modules that register the built-in problems when imported. The project's
#: MNIST-1D tabular benchmark registers itself by adding its module here, e.g.
#: ``"manifold_search.benchmark.mnist1d_table"``; a live-training mode can
#: register a problem family (``register_problem_family("live", ...)``) from
#: its own module listed here.
PROBLEM_MODULES: list[str] = [
    "manifold_search.benchmark.tabular",
    "manifold_search.benchmark.mnist1d_table",
    "manifold_search.benchmark.digits_table",
    "manifold_search.benchmark.live",
]


class ProblemError(ValueError):
    """An unknown or unusable problem name; the message says how to fix it."""


class Problem(ABC):
    """A benchmark problem.

    Subclasses set the class or instance attributes below and implement
    :meth:`objective`.

    Attributes:
        name: registry name, e.g. ``"nasbench201-cifar10"``.
        direction: ``"minimize"`` or ``"maximize"``.
        optimum: the oracle best objective value; regret is the distance of the
            best value found from it (always >= 0 when the oracle is exact).
        description: one line shown by ``manifold-search benchmark --list``.
        value_label: what the objective value is, with its unit (for reports).
        test_label: what the optional test value is (``None`` if the problem
            records none).
        test_optimum: oracle of the test value (``None`` if unknown); test
            regret is reported when it is set.
    """

    name: str = ""
    direction: str = "minimize"
    optimum: float = math.nan
    description: str = ""
    value_label: str = "objective"
    test_label: str | None = None
    test_optimum: float | None = None
    #: True when ``objective(seed, prune=True)`` reports intermediate values, so that a
    #: pruner (``benchmark --pruner``) can stop trials; tables have one value per trial.
    supports_pruning: bool = False

    @abstractmethod
    def objective(self, seed: int) -> Callable[[optuna.Trial], float]:
        """Return an Optuna objective for one benchmark run.

        ``seed`` fixes everything random on the problem's side (for tabular
        benchmarks: which of the recorded training seeds a look-up returns), so
        a run is reproducible given (sampler seed, problem seed). The objective
        may store a test value with ``trial.set_user_attr(TEST_VALUE_ATTR, v)``.
        """

    def search_space(self) -> dict[str, optuna.distributions.BaseDistribution] | None:
        """The fixed search space, or ``None`` for a define-by-run space."""
        return None

    def regret(self, value: float) -> float:
        """Distance of an objective value from the oracle, >= 0 when exact."""
        if self.direction == "maximize":
            return float(self.optimum - value)
        return float(value - self.optimum)

    def test_regret(self, value: float) -> float:
        """Distance of a test value from ``test_optimum`` (nan when unknown)."""
        if self.test_optimum is None:
            return math.nan
        if self.direction == "maximize":
            return float(self.test_optimum - value)
        return float(value - self.test_optimum)

    def random_search_regret(self, n_trials: int) -> tuple[float, float | None] | None:
        """Exact expected (regret, test regret) of random search after ``n_trials``.

        ``None`` when the problem cannot compute it (only finite tables can). It
        anchors a benchmark: the measured random sampler should agree with it
        within its standard error.
        """
        return None

    def is_all_categorical(self) -> bool:
        """True when every parameter of the fixed search space is categorical."""
        space = self.search_space()
        if not space:
            return False
        return all(
            isinstance(d, optuna.distributions.CategoricalDistribution) for d in space.values()
        )

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable summary used in reports."""
        space = self.search_space()
        return {
            "name": self.name,
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "direction": self.direction,
            "optimum": self.optimum,
            "description": self.description,
            "value_label": self.value_label,
            "test_label": self.test_label,
            "test_optimum": self.test_optimum,
            "search_space": None
            if space is None
            else {k: repr(v) for k, v in space.items()},
        }


PROBLEMS = Registry("problem")
FAMILIES = Registry("problem family")
_loaded_modules: set[str] = set()
_cached: dict[str, Problem] = {}


def register_problem(
    name: str, factory: str | Callable[..., Problem], *, description: str = "",
    arg: str | None = None, replace: bool = False,
) -> None:  # fmt: skip
    """Register ``factory`` under ``name``: a module-level class or function, or its import
    path ``package.module:attribute``; called as ``factory()``, or ``factory(arg)`` when an
    ``arg`` is given (one factory serving several names).

    The factory is imported and called lazily, once per process that needs the problem,
    so registering is cheap even for problems backed by large tables.
    """
    if ":" in name:
        raise ValueError(f"problem names cannot contain ':' (got {name!r})")
    PROBLEMS.register(name, factory, description, arg=arg, replace=replace)
    _cached.pop(name, None)


def register_problem_family(
    prefix: str,
    factory: str | Callable[[str], Problem],
    *,
    description: str = "",
    replace: bool = False,
) -> None:
    """Register a family: ``get_problem(f"{prefix}:{arg}")`` returns ``factory(arg)``."""
    if ":" in prefix or "." in prefix:
        raise ValueError(f"family prefixes cannot contain ':' or '.' (got {prefix!r})")
    FAMILIES.register(prefix, factory, description, replace=replace)


def _load_builtin_modules(extra: tuple[str, ...] = ()) -> None:
    for module in (*PROBLEM_MODULES, *extra):
        if module and module not in _loaded_modules and module != "__main__":
            importlib.import_module(module)
            _loaded_modules.add(module)


def list_problems() -> dict[str, str]:
    """Registered problem names (and ``prefix:<arg>`` families) with descriptions."""
    _load_builtin_modules()
    out = dict(sorted(PROBLEMS.descriptions().items()))
    out.update({f"{p}:<arg>": d for p, d in sorted(FAMILIES.descriptions().items())})
    return out


def _from_import_path(path: str) -> Problem:
    try:
        obj = import_object(path)
    except ValueError as exc:
        raise ProblemError(f"{exc}; check the import path 'package.module:attribute'") from exc
    if isinstance(obj, Problem):
        return obj
    if callable(obj):
        made = obj()
        if isinstance(made, Problem):
            return made
    raise ProblemError(
        f"{path!r} is not a Problem, a Problem subclass or a factory returning one"
    )


def _build(name: str) -> Problem:
    if name in PROBLEMS:
        entry = PROBLEMS.lookup(name)
        factory = entry.load()
        return factory() if entry.arg is None else factory(entry.arg)
    prefix, sep, arg = name.partition(":")
    if sep and prefix in FAMILIES:
        return FAMILIES.lookup(prefix).load()(arg)
    if sep:
        return _from_import_path(name)
    raise ProblemError(
        PROBLEMS.unknown_message(name, extra=", " + ", ".join(f"{p}:<arg>" for p in FAMILIES)
                                 + " (or give an import path 'package.module:attribute')")
    )  # fmt: skip


def get_problem(name: str) -> Problem:
    """Return the problem registered as ``name`` (built once per process).

    Raises:
        ProblemError: unknown name, with the list of known names in the message.
    """
    if name in _cached:
        return _cached[name]
    _load_builtin_modules()
    problem = _build(name)
    if not isinstance(problem, Problem):
        raise ProblemError(f"the factory of problem {name!r} did not return a Problem")
    if not problem.name:
        problem.name = name
    if problem.direction not in ("minimize", "maximize"):
        raise ProblemError(
            f"problem {name!r} has direction {problem.direction!r}; "
            "it must be 'minimize' or 'maximize'"
        )
    _cached[name] = problem
    return problem


def problem_module(name: str) -> str:
    """The module that registered ``name``: worker processes import it first."""
    _load_builtin_modules()
    if name in PROBLEMS:
        return PROBLEMS.lookup(name).module
    prefix, sep, _ = name.partition(":")
    if sep and prefix in FAMILIES:
        return FAMILIES.lookup(prefix).module
    return ""


def ensure_registered(module: str) -> None:
    """Import ``module`` (in a worker) so that the problems it registers exist."""
    _load_builtin_modules((module,) if module else ())
