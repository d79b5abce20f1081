"""Report of a benchmark directory: ``report.md``, ``results.json``, ``curves.png``.

Everything is recomputed from the run files (:mod:`.results`), so a report can be
regenerated at any time (``manifold-search benchmark --report-only --out DIR``),
also while runs are missing: the paired statistics then use the seeds every
sampler has. The text is :mod:`.markdown`, the figure :mod:`.curves`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from manifold_search.benchmark import store
from manifold_search.benchmark.curves import COLORS, plot
from manifold_search.benchmark.markdown import render_markdown
from manifold_search.benchmark.problems import get_problem
from manifold_search.benchmark.results import Collected, collect, compute

DEFAULT_BUDGETS = store.DEFAULT_BUDGETS


def write_report(
    out: Path | str, budgets: Sequence[int] = DEFAULT_BUDGETS, reference: str | None = "tpe",
    order: Sequence[str] = (),
) -> dict[str, Any]:
    """Compute the statistics of ``out`` and write report.md, results.json and curves.png."""
    out = Path(out)
    invocations = store.read_invocations(out)
    if not order:  # the order of the samplers in the latest invocations
        order = list(dict.fromkeys(
            s["label"] for inv in reversed(invocations) for s in inv.get("samplers", [])
        ))
    c = collect(out, order)
    result = compute(c, budgets, reference)
    try:
        problem = get_problem(c.problem)
        info = problem.describe()
    except ValueError:  # problem no longer registered: report from the run files alone
        problem, info = None, {"name": c.problem}
    if problem is not None:
        exact = {b: problem.random_search_regret(b) for b in result["budgets"]}
        if all(v is not None for v in exact.values()):
            result["random_search_exact"] = {
                str(b): {"regret": v[0], "test_regret": v[1]} for b, v in exact.items()
            }
            result["random_search_exact_curve"] = [
                problem.random_search_regret(n)[0] for n in range(1, c.n_trials + 1)
            ]
    env = invocations[-1].get("environment", {}) if invocations else store.environment()
    errors = list(store.iter_errors(out))
    doc = {
        "problem": info,
        "n_trials": c.n_trials,
        "samplers": {x: c.specs[x] for x in c.labels},
        "incomplete": c.incomplete,
        **result,
        "invocations": invocations,
        "environment": env,
        "failed_runs": [{"path": p, "error": e} for p, e in errors],
    }
    store.write_json_atomic(out / "results.json", doc)
    (out / "report.md").write_text(render_markdown(c, result, info, invocations, env, errors))
    plot(c, result, out / "curves.png", info.get("value_label", "objective"))
    return doc


__all__ = ["COLORS", "DEFAULT_BUDGETS", "Collected", "collect", "compute", "write_report"]
