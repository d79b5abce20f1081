"""``report.md`` of a benchmark: regret tables, test regret, sampler overhead, provenance."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from manifold_search._format import duration, number
from manifold_search.benchmark.results import Collected


def _fmt(x: float | None, digits: int = 3) -> str:
    return number(x, digits, fixed=True)


def _fmt_p(p: float | None) -> str:
    if p is None:
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _spec_text(spec: dict[str, Any]) -> str:
    kwargs = spec.get("kwargs") or {}
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    return f"`{spec['name']}`" + (f" ({args})" if args else "")


def _regret_table(rows: list[dict[str, Any]], reference: str, digits: int) -> list[str]:
    lines = [
        f"| sampler | median [IQR] | mean ± s.e. | mean rank | vs {reference}: W / T / L "
        f"| p (Wilcoxon, lower than {reference}) |",
        "|---|---|---|---|---|---|",
    ]
    best_mean = min((r["mean"] for r in rows if r["mean"] is not None), default=None)
    for r in rows:
        mean = f"{_fmt(r['mean'], digits)} ± {_fmt(r['se'], digits)}"
        if r["mean"] is not None and r["mean"] == best_mean:
            mean = f"**{mean}**"
        wtl = "-" if r["wins"] is None else f"{r['wins']} / {r['ties']} / {r['losses']}"
        lines.append(
            f"| {r['sampler']} | {_fmt(r['median'], digits)} "
            f"[{_fmt(r['q25'], digits)}, {_fmt(r['q75'], digits)}] | {mean} "
            f"| {_fmt(r['mean_rank'], 2)} | {wtl} | {_fmt_p(r['p_less'])} |"
        )
    return lines


def _digits(c: Collected) -> int:
    finite = c.regret[np.isfinite(c.regret) & (c.regret > 0)]
    if finite.size == 0:
        return 3
    scale = float(np.median(finite))
    return max(3, min(6, 2 - int(math.floor(math.log10(scale))))) if scale > 0 else 3


def render_markdown(
    c: Collected, result: dict[str, Any], problem_info: dict[str, Any],
    invocations: list[dict[str, Any]], env: dict[str, Any], errors: list[tuple[str, str]],
) -> str:
    """The Markdown text of ``report.md``."""
    digits = _digits(c)
    lines = [
        *_head(c, result, problem_info, invocations, errors),
        *_regret_sections(c, result, digits),
        *_test_regret_section(c, result, digits),
        *_time_to_target_section(result),
        *_overhead_section(c, result),
        "", "## Curves", "", "![best-so-far regret](curves.png)", "",
        *_provenance(invocations, env),
    ]  # fmt: skip
    return "\n".join(lines)


def _head(c: Collected, result: dict[str, Any], problem_info: dict[str, Any],
          invocations: list[dict[str, Any]], errors: list[tuple[str, str]]) -> list[str]:  # fmt: skip
    ref = result["reference"]
    lines = [f"# Sampler benchmark: {c.problem}", ""]
    if problem_info.get("description"):
        lines += [problem_info["description"] + ".", ""]
    direction = problem_info.get("direction", "")
    lines += [
        f"- Objective: {problem_info.get('value_label', 'objective')}, {direction}d; "
        f"oracle (best value in the table / known optimum): {number(problem_info.get('optimum'), significant=6)}.",
        "- Regret: **observed regret**, the distance of the best value found so far from the oracle "
        f"(unit of the objective); {len(c.seeds)} paired seeds "
        f"({_seed_text(c.seeds)}) x {c.n_trials} trials per sampler.",
    ]
    if problem_info.get("test_label"):
        lines.append(
            f"- Test value: {problem_info['test_label']}, oracle {number(problem_info.get('test_optimum'), significant=6)}; "
            "**test regret** is that of the incumbent (the trial with the best objective so far)."
        )
    lines.append(
        f"- Paired comparison against **{ref}**: per seed, W = lower regret than {ref}, "
        "T = equal, L = higher; p = one-sided Wilcoxon signed-rank test that the regret is "
        f"lower than {ref}'s (zero differences dropped; 1 when all are tied). Mean rank: 1 = best "
        "on every seed, ties share ranks."
    )
    lines += ["", "Samplers:", ""]
    for x in c.labels:
        lines.append(f"- **{x}**: {_spec_text(c.specs[x])}")
    notes = _notes(c, invocations, errors)
    if notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    return lines


def _regret_sections(c: Collected, result: dict[str, Any], digits: int) -> list[str]:
    ref = result["reference"]
    lines: list[str] = []
    exact = result.get("random_search_exact") or {}
    for b in result["budgets"]:
        lines += ["", f"## Regret after {b} trials", ""]
        lines += _regret_table(result["regret"][str(b)], ref, digits)
        if str(b) in exact:
            lines += ["", f"Exact expected regret of uniform random search after {b} trials "
                      f"(computed from the table): {_fmt(exact[str(b)]['regret'], digits)}"
                      + (f"; test regret {_fmt(exact[str(b)]['test_regret'], digits)}"
                         if exact[str(b)]["test_regret"] is not None else "") + "."]
    return lines


def _test_regret_section(c: Collected, result: dict[str, Any], digits: int) -> list[str]:
    lines: list[str] = []
    if "test_regret" in result:
        lines += ["", "## Test regret of the incumbent (mean ± s.e.; median)", ""]
        head = "| sampler | " + " | ".join(f"{b} trials" for b in result["budgets"]) + " |"
        lines += [head, "|---|" + "---|" * len(result["budgets"])]
        for i, x in enumerate(c.labels):
            cells = []
            for b in result["budgets"]:
                r = result["test_regret"][str(b)][i]
                cells.append(f"{_fmt(r['mean'], digits)} ± {_fmt(r['se'], digits)}; "
                             f"{_fmt(r['median'], digits)}")
            lines.append(f"| {x} | " + " | ".join(cells) + " |")
    return lines


def _time_to_target_section(result: dict[str, Any]) -> list[str]:
    reached = result.get("time_to_target")
    if not reached:
        return []
    ref = reached["reference"]
    lines = [
        "", f"## Time to reach {ref}'s best", "",
        f"Per seed the target is {ref}'s best value after all trials; a sampler reaches it at "
        "its first trial at least as good. Cost there: wall seconds since its study began "
        "(sampler time included) and training steps reported over all its trials (epochs "
        "a pruner let through). A seed never reached counts as slower; medians count it as "
        "infinite ('-' when half the seeds or more never reached it). W / T / L: faster / "
        f"equal / slower than {ref} on the same seed; p: one-sided sign test for faster.", "",
        "| sampler | reached | median seconds | vs " + ref + ": W / T / L, p "
        "| median steps | vs " + ref + ": W / T / L, p |",
        "|---|---|---|---|---|---|",
    ]
    for r in reached["rows"]:
        cells = []
        for kind in ("seconds", "steps"):
            cmp = r.get(kind)
            cells.append("-" if cmp is None else
                         f"{cmp['wins']} / {cmp['ties']} / {cmp['losses']}, {_fmt_p(cmp['p_sign'])}")
        seconds = "-" if r["median_seconds"] is None else duration(r["median_seconds"])
        steps = "-" if r["median_steps"] is None else f"{r['median_steps']:.0f}"
        lines.append(f"| {r['sampler']} | {r['reached']}/{r['seeds']} | {seconds} | {cells[0]} "
                     f"| {steps} | {cells[1]} |")
    return lines


def _overhead_section(c: Collected, result: dict[str, Any]) -> list[str]:
    lines = ["", "## Sampler overhead", "",
              "Wall time spent inside the sampler (all Optuna sampler hooks), per trial.", "",
              "| sampler | median per trial | mean per trial | median, last 10 trials "
              "| mean per run (sampler) | mean per run (study wall) | mean per run (study CPU) "
              "| all runs (study wall) |",
              "|---|---|---|---|---|---|---|---|"]
    for x in c.labels:
        o = result["overhead"][x]
        lines.append(
            f"| {x} | {duration(o['median_per_trial'])} | {duration(o['mean_per_trial'])} "
            f"| {duration(o['median_last10'])} | {duration(o['mean_per_run'])} "
            f"| {duration(o['mean_wall_per_run'])} | {duration(o['mean_cpu_per_run'])} "
            f"| {duration(o['total_wall'])} |"
        )
    return lines


def _provenance(invocations: list[dict[str, Any]], env: dict[str, Any]) -> list[str]:
    lines = ["## How this was made", ""]
    for inv in invocations:
        lines.append(
            f"- `{inv.get('command', '?')}`  \n  started {inv.get('started', '?')}, "
            f"{inv.get('jobs', '?')} jobs, {inv.get('finished', 0)} runs run, "
            f"{inv.get('skipped', 0)} reused, {inv.get('failed', 0)} failed, "
            f"wall time {inv.get('wall_seconds', 0):.0f} s"
            + (" (interrupted)" if inv.get("interrupted") else "")
        )
    versions = ", ".join(f"{k} {v}" for k, v in env.get("versions", {}).items() if v)
    lines += [
        "",
        f"Environment: Python {env.get('python')}, {versions}; {env.get('platform')}, "
        f"{env.get('cpu_count')} CPUs; git {env.get('git_commit')}.",
        "",
    ]
    return lines


def _seed_text(seeds: Sequence[int]) -> str:
    if seeds and list(seeds) == list(range(seeds[0], seeds[-1] + 1)):
        return f"seeds {seeds[0]}-{seeds[-1]}"
    return "seeds " + ", ".join(map(str, seeds))


def _notes(
    c: Collected, invocations: list[dict[str, Any]], errors: list[tuple[str, str]]
) -> list[str]:
    notes = []
    skipped: dict[str, str] = {}
    for inv in invocations:
        skipped.update(inv.get("skipped_samplers") or {})
    for label, reason in skipped.items():
        if label not in c.labels:
            notes.append(f"{label} not run: {reason}.")
    for label, missing in c.incomplete.items():
        notes.append(
            f"{label} has no finished run for seeds {missing}; those seeds are left out of "
            "every table (paired statistics need all samplers)."
        )
    for (label, seed), (n, first) in sorted(c.failed_trials.items()):
        notes.append(f"{label} seed {seed}: {n} of {c.n_trials} trials failed (first: {first}).")
    for path, last in errors:
        notes.append(f"failed run {path}: {last}")
    return notes
