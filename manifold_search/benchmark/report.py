"""Report of a benchmark directory: ``report.md``, ``results.json``, ``curves.png``.

Everything is recomputed from the run files, so a report can be regenerated at
any time (``manifold-search benchmark --report-only --out DIR``), also while
runs are missing: the paired statistics then use the seeds every sampler has.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from manifold_search._format import duration, number
from manifold_search.benchmark import stats, store
from manifold_search.benchmark.problems import get_problem

DEFAULT_BUDGETS = store.DEFAULT_BUDGETS

#: Fixed colours so that a sampler looks the same in every figure.
COLORS = {
    "random": "#7f7f7f",
    "tpe": "#1f77b4",
    "tpe-univariate": "#6baed6",
    "gp": "#2ca02c",
    "cmaes": "#ff7f0e",
    "qmc": "#9467bd",
    "manifold": "#d62728",
}
_EXTRA_COLORS = ["#8c564b", "#e377c2", "#bcbd22", "#17becf", "#393b79", "#637939"]


@dataclass
class Collected:
    """Run files of one directory as aligned arrays (samplers x seeds x trials)."""

    problem: str
    n_trials: int
    labels: list[str]
    specs: dict[str, dict[str, Any]]
    seeds: list[int]
    incomplete: dict[str, list[int]]
    regret: np.ndarray
    test_regret: np.ndarray | None
    seconds: np.ndarray
    wall: np.ndarray
    cpu: np.ndarray
    failed_trials: dict[tuple[str, int], tuple[int, str | None]]


def _as_array(values: Sequence[float | None]) -> np.ndarray:
    return np.array([math.nan if v is None else v for v in values], dtype=float)


def collect(out: Path, order: Sequence[str] = ()) -> Collected:
    """Load every run under ``out``; keep the seeds that all samplers finished."""
    meta = store.read_meta(out)
    runs: dict[str, dict[int, dict[str, Any]]] = {}
    specs: dict[str, dict[str, Any]] = {}
    for run in store.iter_runs(out):
        label = run["sampler"]["label"]
        runs.setdefault(label, {})[run["seed"]] = run
        specs[label] = run["sampler"]
    if not runs:
        raise store.ResultsDirError(
            f"{str(out)!r} holds no finished runs yet; run the benchmark first"
        )
    labels = [x for x in order if x in runs] + sorted(x for x in runs if x not in order)
    all_seeds = sorted(set().union(*(set(r) for r in runs.values())))
    seeds = [s for s in all_seeds if all(s in runs[x] for x in labels)]
    incomplete = {x: [s for s in all_seeds if s not in runs[x]] for x in labels}
    incomplete = {x: v for x, v in incomplete.items() if v}
    n_trials = int(meta["n_trials"])

    def stack(key: str) -> np.ndarray:
        arr = np.full((len(labels), len(seeds), n_trials), math.nan)
        for i, x in enumerate(labels):
            for j, s in enumerate(seeds):
                vals = runs[x][s].get(key)
                if vals is not None:
                    a = _as_array(vals)[:n_trials]
                    arr[i, j, : a.size] = a
        return arr

    failed_trials = {
        (x, s): (runs[x][s].get("failed_trials", 0), runs[x][s].get("first_error"))
        for x in labels for s in seeds if runs[x][s].get("failed_trials")
    }
    has_test = any(runs[x][s].get("test_regret") is not None for x in labels for s in seeds)
    wall = np.array([[runs[x][s]["wall_seconds"] for s in seeds] for x in labels], dtype=float)
    cpu = np.array([[runs[x][s].get("cpu_seconds", math.nan) for s in seeds] for x in labels],
                   dtype=float)
    return Collected(
        problem=meta["problem"], n_trials=n_trials, labels=labels, specs=specs, seeds=seeds,
        incomplete=incomplete, regret=stack("regret"),
        test_regret=stack("test_regret") if has_test else None,
        seconds=stack("sampler_seconds"), wall=wall.reshape(len(labels), len(seeds)),
        cpu=cpu.reshape(len(labels), len(seeds)),
        failed_trials=failed_trials,
    )


def compute(c: Collected, budgets: Sequence[int], reference: str | None) -> dict[str, Any]:
    """All statistics of a collected benchmark, JSON-serialisable."""
    budgets = sorted({b for b in budgets if 1 <= b <= c.n_trials} | {c.n_trials})
    if reference not in c.labels:
        reference = "tpe" if "tpe" in c.labels else c.labels[0]
    result: dict[str, Any] = {
        "budgets": budgets,
        "reference": reference,
        "seeds": c.seeds,
        "regret": {str(b): stats.budget_table(c.regret[:, :, b - 1], c.labels, reference)
                   for b in budgets},
        "curves": {x: stats.curve(c.regret[i]) for i, x in enumerate(c.labels)},
        "overhead": {x: {**stats.overhead(c.seconds[i]),
                         "mean_wall_per_run": stats.summarize(c.wall[i])["mean"],
                         "mean_cpu_per_run": stats.summarize(c.cpu[i])["mean"],
                         "total_wall": _sum(c.wall[i]), "total_cpu": _sum(c.cpu[i])}
                     for i, x in enumerate(c.labels)},
    }
    if c.test_regret is not None:
        result["test_regret"] = {
            str(b): stats.budget_table(c.test_regret[:, :, b - 1], c.labels, reference)
            for b in budgets
        }
        result["test_curves"] = {x: stats.curve(c.test_regret[i]) for i, x in enumerate(c.labels)}
    return result


# -- formatting -------------------------------------------------------------------------


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
    ref = result["reference"]
    digits = _digits(c)
    lines = [f"# Sampler benchmark: {c.problem}", ""]
    if problem_info.get("description"):
        lines += [problem_info["description"] + ".", ""]
    direction = problem_info.get("direction", "")
    lines += [
        f"- Objective: {problem_info.get('value_label', 'objective')}, {direction}d; "
        f"oracle (best value in the table / known optimum): {number(problem_info.get('optimum'), significant=6)}.",
        "- Regret: distance of the best value found so far from the oracle "
        f"(unit of the objective); {len(c.seeds)} paired seeds "
        f"({_seed_text(c.seeds)}) x {c.n_trials} trials per sampler.",
    ]
    if problem_info.get("test_label"):
        lines.append(
            f"- Test value: {problem_info['test_label']}, oracle {number(problem_info.get('test_optimum'), significant=6)}; "
            "test regret is that of the incumbent (the trial with the best objective so far)."
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

    exact = result.get("random_search_exact") or {}
    for b in result["budgets"]:
        lines += ["", f"## Regret after {b} trials", ""]
        lines += _regret_table(result["regret"][str(b)], ref, digits)
        if str(b) in exact:
            lines += ["", f"Exact expected regret of uniform random search after {b} trials "
                      f"(computed from the table): {_fmt(exact[str(b)]['regret'], digits)}"
                      + (f"; test regret {_fmt(exact[str(b)]['test_regret'], digits)}"
                         if exact[str(b)]["test_regret"] is not None else "") + "."]

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

    lines += ["", "## Sampler overhead", "",
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

    lines += ["", "## Curves", "", "![best-so-far regret](curves.png)", ""]
    lines += ["## How this was made", ""]
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
    return "\n".join(lines)


def _sum(x: np.ndarray) -> float | None:
    x = np.asarray(x, dtype=float)
    return float(x.sum()) if x.size and np.isfinite(x).all() else None


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


# -- figure -----------------------------------------------------------------------------


def _color(label: str, spec: dict[str, Any], i: int, taken: set[str] = frozenset()) -> str:
    """The sampler's fixed colour; a second label of the same sampler (an ablation,
    other keywords) gets a colour of its own so the two curves can be told apart."""
    for colour in (COLORS.get(label), COLORS.get(spec.get("name", ""))):
        if colour and colour not in taken:
            return colour
    free = [c for c in _EXTRA_COLORS if c not in taken] or _EXTRA_COLORS
    return free[i % len(free)]


def plot(c: Collected, result: dict[str, Any], path: Path, value_label: str) -> None:
    """Best-so-far regret (median + IQR, mean ± s.e.) and sampler time per trial."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker as mticker

    trials = np.arange(1, c.n_trials + 1)
    fig, axes = plt.subplots(1, 3, figsize=(16, 5.2), constrained_layout=True)
    # y scale from what is drawn: bands' lower edges and the lines themselves.
    lows = []
    for x in c.labels:
        cur = result["curves"][x]
        mean, se = _as_array(cur["mean"]), np.nan_to_num(_as_array(cur["se"]))
        lows += [_as_array(cur["q25"]), _as_array(cur["median"]), mean - se]
    drawn = np.concatenate(lows)
    drawn = drawn[np.isfinite(drawn)]
    positive = drawn[drawn > 0]
    floor = float(positive.min()) if positive.size else 1e-3
    has_zero = bool((drawn <= 0).any())
    peak = float(np.nanmax(c.regret)) if np.isfinite(c.regret).any() else 1.0
    log_y = positive.size > 0 and peak / floor > 20

    # labels with a fixed colour of their own first, so an ablation never takes it
    colours: dict[str, str] = {x: COLORS[x] for x in c.labels if x in COLORS}
    for i, x in enumerate(c.labels):
        if x not in colours:
            colours[x] = _color(x, c.specs[x], i, set(colours.values()))
    for i, x in enumerate(c.labels):
        col = colours[x]
        cur = result["curves"][x]
        med, q25, q75 = (_as_array(cur[k]) for k in ("median", "q25", "q75"))
        mean, se = _as_array(cur["mean"]), _as_array(cur["se"])
        axes[0].plot(trials, med, color=col, lw=2, label=x)
        axes[0].fill_between(trials, q25, q75, color=col, alpha=0.15, lw=0)
        axes[1].plot(trials, mean, color=col, lw=2, label=x)
        axes[1].fill_between(trials, mean - se, mean + se, color=col, alpha=0.2, lw=0)
        sec = np.nanmedian(c.seconds[i], axis=0)
        axes[2].plot(trials, np.maximum(sec, 1e-6), color=col, lw=1.5, label=x)

    # The first few random trials have huge regret; the y range starts at 10% of the
    # budget so that the differences that matter stay readable.
    k0 = min(c.n_trials, max(3, c.n_trials // 10)) - 1
    tops = [
        max(_as_array(result["curves"][x]["q75"])[k0] for x in c.labels),
        max(_as_array(result["curves"][x]["mean"])[k0] + np.nan_to_num(
            _as_array(result["curves"][x]["se"])[k0]) for x in c.labels),
    ]
    exact = result.get("random_search_exact_curve")
    if exact is not None:
        for ax in axes[:2]:
            ax.plot(trials, exact, color="black", lw=1, ls="--",
                    label="random search, exact expectation (mean)")
    for ax, top, title in [(axes[0], tops[0], "median and inter-quartile range"),
                           (axes[1], tops[1], "mean ± standard error")]:
        top = top * 1.6 if math.isfinite(top) and top > 0 else None
        if log_y and has_zero:
            # Regret can be exactly 0 (the oracle was found): a symmetric-log axis
            # keeps zeros visible and is logarithmic above the smallest drawn value.
            ax.set_yscale("symlog", linthresh=floor, linscale=0.4)
            ax.set_ylim(0, top)
            ax.yaxis.set_major_locator(
                mticker.SymmetricalLogLocator(linthresh=floor, base=10, subs=(1, 2, 5)))
            ax.yaxis.set_major_formatter(mticker.FormatStrFormatter("%g"))
        elif log_y:
            ax.set_yscale("log")
            ax.set_ylim(floor / 1.3, top)
            ax.yaxis.set_major_locator(mticker.LogLocator(base=10, subs=(1, 2, 5)))
            ax.yaxis.set_major_formatter(mticker.FormatStrFormatter("%g"))
            ax.yaxis.set_minor_formatter(mticker.NullFormatter())
        else:
            ax.set_ylim(0, top * 1.1 if math.isfinite(top) and top > 0 else None)
        ax.set_xlabel("trial")
        ax.set_ylabel(f"best-so-far regret, {value_label}")
        ax.set_title(f"Regret: {title}")
        ax.grid(True, which="major", alpha=0.3)
        ax.set_xlim(1, c.n_trials)
    axes[2].set_yscale("log")
    axes[2].set_xlabel("trial")
    axes[2].set_ylabel("seconds inside the sampler (median over seeds)")
    axes[2].set_title("Sampler overhead per trial")
    axes[2].grid(True, which="major", alpha=0.3)
    axes[2].set_xlim(1, c.n_trials)
    handles, names = axes[1].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=len(names), frameon=False)
    fig.suptitle(f"{c.problem}: best-so-far regret over {len(c.seeds)} seeds "
                 f"x {c.n_trials} trials", fontsize=12)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- entry point ------------------------------------------------------------------------


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
