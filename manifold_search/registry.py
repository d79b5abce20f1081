"""Named things, one registry shape: name -> ``"package.module:attribute"`` + a description.

Search spaces, samplers, benchmark problems and CLI commands are all found by
name in a :class:`Registry`. An entry holds the *import path* of its object,
not the object, so listing names (``--help``, ``benchmark --list``, a "did you
mean" hint) imports nothing heavy; the module is imported when the entry is
used. An entry may carry one string argument for a factory that serves several
names (the benchmark tables: one factory, one entry per dataset).

Names are matched case-insensitively; an unknown name raises
:class:`UnknownName` (a ``ValueError``) whose message lists the known names
and the closest one.

>>> reg = Registry("colour", {"red": ("builtins:str", "a colour")})
>>> reg.lookup("RED").description
'a colour'
>>> reg.lookup("rad")
Traceback (most recent call last):
...
manifold_search.registry.UnknownName: unknown colour 'rad'; did you mean red? choose one of: red
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any


class UnknownName(ValueError):
    """A name that is not in a registry; the message lists the known names."""


def import_object(path: str) -> Any:
    """The object at ``package.module:attribute`` (the attribute may be dotted)."""
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"{path!r} is not an import path of the form 'package.module:attribute'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import module {module_name!r} ({exc})") from exc
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def import_path_of(obj: Any) -> str:
    """The import path of a module-level class or function (what spawned workers can import)."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not module or not qualname or "<" in qualname or module == "__main__":
        raise ValueError(
            f"{obj!r} has no import path: register a class or function defined at module "
            "level of an importable module (not a lambda, a local function or __main__)"
        )
    return f"{module}:{qualname}"


def did_you_mean(name: str, known: list[str]) -> str:
    """``"did you mean X? "`` for the closest of ``known`` (case-insensitive), else ``""``."""
    lowered = {k.lower(): k for k in known}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1)
    return f"did you mean {lowered[close[0]]}? " if close else ""


@dataclass(frozen=True)
class Entry:
    """One registered name: where its object lives and what it is."""

    name: str
    path: str
    description: str = ""
    arg: str | None = None  # passed to the factory by callers that build from entries

    def load(self) -> Any:
        """Import and return the object (a class, a factory, a function)."""
        return import_object(self.path)

    @property
    def module(self) -> str:
        return self.path.partition(":")[0]


class Registry(Mapping[str, Entry]):
    """Entries by name, in registration order; lookups ignore case."""

    def __init__(self, kind: str, entries: Mapping[str, tuple[str, str]] | None = None) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}
        for name, (path, description) in (entries or {}).items():
            self.register(name, path, description)

    def register(self, name: str, target: str | Callable[..., Any], description: str = "", *,
                 arg: str | None = None, replace: bool = False) -> Entry:  # fmt: skip
        """Add ``name``; ``target`` is an import path or a module-level class/function."""
        path = target if isinstance(target, str) else import_path_of(target)
        if ":" not in path:
            raise ValueError(f"{path!r} is not an import path 'package.module:attribute'")
        if name.lower() in self._lower() and not replace:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries.pop(self._lower().get(name.lower(), name), None)
        entry = Entry(name, path, description, arg)
        self._entries[name] = entry
        return entry

    def _lower(self) -> dict[str, str]:
        return {k.lower(): k for k in self._entries}

    def canonical(self, name: str) -> str | None:
        """The registered spelling of ``name`` (any case), or None."""
        return self._lower().get(name.lower())

    def lookup(self, name: str) -> Entry:
        """The entry of ``name`` (any case); :class:`UnknownName` when there is none."""
        key = self.canonical(name)
        if key is None:
            raise UnknownName(self.unknown_message(name))
        return self._entries[key]

    def unknown_message(self, name: str, extra: str = "") -> str:
        known = list(self._entries)
        return (f"unknown {self.kind} {name!r}; {did_you_mean(name, known)}choose one of: "
                f"{', '.join(known)}{extra}")  # fmt: skip

    def descriptions(self) -> dict[str, str]:
        return {name: entry.description for name, entry in self._entries.items()}

    def __getitem__(self, name: str) -> Entry:
        key = self.canonical(name)
        if key is None:
            raise KeyError(name)
        return self._entries[key]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.canonical(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)


#: The bundled search spaces (classes on :class:`search_spaces.base.SearchSpace`).
SPACES = Registry("search space", {
    "mnist1d": ("search_spaces.mnist1d:Mnist1DSpace",
                "MLP, 1-D CNN and GRU families on generated MNIST-1D (offline)"),
    "digits": ("search_spaces.digits:DigitsSpace", "small CNNs on scikit-learn's 8x8 digits"),
    "images": ("search_spaces.images:ImageSpace",
               "CNNs on torchvision image data sets (CIFAR-10, ...; fakedata offline)"),
})  # fmt: skip

#: Samplers by name: factories ``build(seed, **kwargs)`` in :mod:`manifold_search.samplers`.
SAMPLERS = Registry("sampler", {
    "random": ("manifold_search.samplers:random", "RandomSampler"),
    "tpe": ("manifold_search.samplers:tpe",
            "TPESampler with Optuna's defaults (Optuna 5: multivariate, constant liar)"),
    "tpe-univariate": ("manifold_search.samplers:tpe_univariate",
                       "TPESampler(multivariate=False): independent TPE per parameter"),
    "gp": ("manifold_search.samplers:gp", "GPSampler (Gaussian-process Bayesian optimisation)"),
    "cmaes": ("manifold_search.samplers:cmaes", "CmaEsSampler (numeric parameters only)"),
    "qmc": ("manifold_search.samplers:qmc", "QMCSampler, scrambled Sobol"),
    "manifold": ("manifold_search.samplers:manifold",
                 "manifold_search.ManifoldSampler (this project)"),
})  # fmt: skip

#: Subcommands of ``manifold-search``: each path names the module's ``add_arguments``.
COMMANDS = Registry("command", {
    "run": ("manifold_search.commands.run:add_arguments",
            "run or resume a study from a study config (trains networks for real)"),
    "report": ("manifold_search.commands.report:add_arguments",
               "write a study's Markdown report and plots"),
    "explore": ("manifold_search.commands.explore:add_arguments",
                "write the network manifold as an interactive HTML page"),
    "export": ("manifold_search.commands.export:add_arguments",
               "write a trained network (config, safetensors weights, model card) to a folder"),
    "sparsify": ("manifold_search.commands.sparsify:add_arguments",
                 "sparsify a study's best networks and report how much function they keep"),
    "check": ("manifold_search.commands.check:add_arguments",
              "verify a study's network records; --drop leaves broken ones out"),
    "benchmark": ("manifold_search.benchmark.command:add_arguments",
                  "compare samplers on a benchmark problem (regret tables, curves, overhead)"),
})  # fmt: skip

__all__ = ["COMMANDS", "SAMPLERS", "SPACES", "Entry", "Registry", "UnknownName", "import_object"]
