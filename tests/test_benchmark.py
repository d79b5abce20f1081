"""The sampler-comparison harness: problems, samplers, runner, resume, stats, report, CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import optuna
import pytest
from scipy import stats as sps

from manifold_search.benchmark import (
    TEST_VALUE_ATTR,
    Problem,
    ProblemError,
    SamplerError,
    SamplerSpec,
    TimedSampler,
    execute,
    get_problem,
    list_problems,
    parse_samplers,
    register_problem,
    register_problem_family,
    run_benchmark,
    write_report,
)
from manifold_search.benchmark import stats as bstats
from manifold_search.benchmark.store import ResultsDirError
from manifold_search.cli import main

optuna.logging.set_verbosity(optuna.logging.WARNING)


class Toy(Problem):
    """Minimise (x - 3)^2 + [c == "b"] plus evaluation noise in [0, 0.1)."""

    name = "toy-test"
    direction = "minimize"
    optimum = 0.0
    test_optimum = 0.0
    test_label = "noise-free value"
    description = "toy problem of the tests"

    def search_space(self):
        return {
            "x": optuna.distributions.IntDistribution(0, 9),
            "c": optuna.distributions.CategoricalDistribution(["a", "b"]),
        }

    def objective(self, seed):
        rng = np.random.default_rng(seed)

        def objective(trial):
            x = trial.suggest_int("x", 0, 9)
            c = trial.suggest_categorical("c", ["a", "b"])
            clean = float((x - 3) ** 2 + (c == "b"))
            trial.set_user_attr(TEST_VALUE_ATTR, clean)
            return clean + float(rng.uniform(0, 0.1))

        return objective


register_problem("toy-test", Toy, description="toy problem of the tests", replace=True)


def toy_family(arg: str) -> Toy:
    """A problem family of the tests (families are registered by import path)."""
    return Toy()


def cli(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- problems ---------------------------------------------------------------------------


def test_registry_lists_builtin_problems_and_resolves_families_and_import_paths():
    names = list_problems()
    assert {"nasbench201-cifar10", "hpobench-nn-vehicle", "hpolib-naval_propulsion"} <= set(names)
    register_problem_family("toyfam", toy_family, replace=True)
    assert isinstance(get_problem("toyfam:anything"), Toy)
    with pytest.raises(ValueError, match="no import path"):  # a worker could not import it
        register_problem_family("toylambda", lambda arg: Toy())
    assert isinstance(get_problem(f"{__name__}:Toy"), Toy)  # import path to a Problem class
    with pytest.raises(ProblemError, match="nasbench201-cifar10"):
        get_problem("no-such-problem")
    with pytest.raises(ProblemError, match="did you mean nasbench201-cifar10"):
        get_problem("nasbench201-cifar1O")
    with pytest.raises(ProblemError, match="cannot import"):
        get_problem("no_such_module_xyz:Thing")


def test_nasbench201_is_the_package_table_with_its_oracle():
    p = get_problem("nasbench201-cifar10")
    space = p.search_space()
    assert list(space) == [f"Op{i}" for i in range(6)]
    assert all(len(d.choices) == 5 for d in space.values())
    assert p.is_all_categorical() and p.direction == "maximize"
    table = p._bench._dataset
    assert p.optimum == pytest.approx(max(max(v["val_acc"]) for v in table.values()))
    assert p.optimum == pytest.approx(91.72, abs=0.01)

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(p.objective(0), n_trials=5)
    for t in study.trials:
        row = table["".join(str(space[f"Op{i}"].choices.index(t.params[f"Op{i}"]))
                            for i in range(6))]
        assert t.value in row["val_acc"]
        assert t.user_attrs[TEST_VALUE_ATTR] == pytest.approx(np.mean(row["val_acc"]))
        assert p.regret(t.value) >= 0


def test_hpobench_numeric_parameters_are_ordinal_indices():
    p = get_problem("hpobench-nn-vehicle")
    space = p.search_space()
    assert set(space) == {f"{n}_index" for n in
                          ("alpha", "batch_size", "depth", "learning_rate_init", "width")}
    assert space["depth_index"] == optuna.distributions.IntDistribution(0, 2)
    config = p.config_from_params({k: d.high for k, d in space.items()})
    assert config == {"alpha": 1, "batch_size": 256, "depth": 3, "learning_rate_init": 1,
                      "width": 1024}
    assert not p.is_all_categorical()


# -- samplers ---------------------------------------------------------------------------


def test_parse_samplers_labels_kwargs_and_import_paths():
    specs = parse_samplers(
        "random,tpe,tpe20=tpe,optuna.samplers:RandomSampler",
        ['tpe20:{"n_startup_trials": 20}', "tpe:constant_liar=false,n_ei_candidates=8"],
    )
    assert [s.label for s in specs] == ["random", "tpe", "tpe20", "RandomSampler"]
    assert specs[2].kwargs == {"n_startup_trials": 20}
    assert specs[1].kwargs == {"constant_liar": False, "n_ei_candidates": 8}
    sampler = specs[3].build(7)
    assert isinstance(sampler, optuna.samplers.RandomSampler)
    assert specs[1].build(0)._n_ei_candidates == 8 and not specs[1].build(0)._constant_liar
    tpe = SamplerSpec("tpe", "tpe").build(0)  # Optuna 5 defaults: multivariate, constant liar
    assert tpe._constant_liar and tpe._is_multivariate(optuna.create_study())
    assert SamplerSpec("u", "tpe-univariate").build(0)._multivariate is False
    for bad, match in [("random,nope", "unknown sampler"), ("tpe,tpe", "twice"), ("", "no samplers")]:
        with pytest.raises(SamplerError, match=match):
            parse_samplers(bad)
    with pytest.raises(SamplerError, match="sampler labels"):
        parse_samplers("tpe", ["gp:n_startup_trials=3"])
    with pytest.raises(SamplerError, match="rejected its keyword"):
        parse_samplers("tpe", ["tpe:no_such_argument=1"])[0].check()


def test_cmaes_refused_on_all_categorical_space():
    spec = SamplerSpec("cmaes", "cmaes")
    assert spec.unsupported_reason(get_problem("nasbench201-cifar10"))  # categorical or no cmaes
    assert SamplerSpec("tpe", "tpe").unsupported_reason(get_problem("nasbench201-cifar10")) is None


def test_manifold_sampler_builds_by_any_case_and_unknown_names_get_a_hint():
    from manifold_search import ManifoldSampler

    for name in ("manifold", "Manifold", "MANIFOLD"):
        spec = parse_samplers(name)[0]
        spec.check()
        assert spec.label == "manifold" and isinstance(spec.build(3), ManifoldSampler)
    with pytest.raises(SamplerError, match="did you mean manifold"):
        parse_samplers("manifld")


def test_timed_sampler_times_every_trial_without_changing_the_search():
    problem = Toy()
    plain = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=3, n_startup_trials=4))
    plain.optimize(problem.objective(0), n_trials=12)
    timed_sampler = TimedSampler(optuna.samplers.TPESampler(seed=3, n_startup_trials=4))
    timed = optuna.create_study(sampler=timed_sampler)
    timed.optimize(problem.objective(0), n_trials=12)
    assert [t.params for t in plain.trials] == [t.params for t in timed.trials]
    assert sorted(timed_sampler.seconds) == list(range(12))
    assert all(s > 0 for s in timed_sampler.seconds.values())


# -- runner -----------------------------------------------------------------------------


def test_execute_records_best_so_far_regret_and_incumbent_test_value():
    rec = execute(Toy(), SamplerSpec("random", "random"), seed=0, n_trials=15)
    values = np.array(rec["values"])
    assert np.allclose(rec["best"], np.minimum.accumulate(values))
    assert np.allclose(rec["regret"], np.minimum.accumulate(values))  # optimum 0
    assert all(r >= 0 for r in rec["regret"])
    inc = int(np.argmin(values))
    assert rec["incumbent_test"][-1] == rec["test"][inc]
    assert len(rec["sampler_seconds"]) == 15 and rec["failed_trials"] == 0
    json.dumps(rec, allow_nan=False)


def test_run_benchmark_resumes_and_refuses_foreign_results(tmp_path):
    specs = parse_samplers("random,tpe")
    out = tmp_path / "bench"
    first = run_benchmark("toy-test", specs, [0, 1, 2], 10, out, jobs=1, progress=False)
    assert len(first.finished) == 6 and not first.skipped and not first.failed
    again = run_benchmark("toy-test", specs, [0, 1, 2], 10, out, jobs=1, progress=False)
    assert not again.finished and len(again.skipped) == 6

    (out / "runs" / "tpe" / "seed-0001.json").unlink()
    (out / "runs" / "random" / "seed-0002.json").write_text('{"truncated')  # torn write
    partial = run_benchmark("toy-test", specs, [0, 1, 2], 10, out, jobs=1, progress=False)
    assert sorted(partial.finished) == [("random", 2), ("tpe", 1)]

    with pytest.raises(ResultsDirError, match="another --out"):
        run_benchmark("toy-test", specs, [0], 20, out, jobs=1, progress=False)
    with pytest.raises(ResultsDirError, match="own label"):
        run_benchmark("toy-test", parse_samplers("tpe", ["tpe:n_startup_trials=3"]), [0], 10,
                      out, jobs=1, progress=False)

    doc = write_report(out, budgets=[5, 10])
    for name in ("report.md", "results.json", "curves.png"):
        assert (out / name).stat().st_size > 0
    assert doc["budgets"] == [5, 10] and doc["reference"] == "tpe"
    assert "## Regret after 10 trials" in (out / "report.md").read_text()


# -- stats ------------------------------------------------------------------------------


def test_ranks_win_rates_and_wilcoxon_on_a_hand_made_case():
    # samplers x seeds: A, B (reference), C
    r = np.array([
        [0.1, 0.2, 0.3, 0.0],
        [0.2, 0.2, 0.1, 0.5],
        [0.3, 0.1, 0.3, 0.0],
    ])
    # seed 0: A1 B2 C3; seed 1: A2.5 B2.5 C1; seed 2: A2.5 B1 C2.5; seed 3: A1.5 B3 C1.5
    assert np.allclose(bstats.mean_ranks(r), [7.5 / 4, 8.5 / 4, 8.0 / 4])
    rows = bstats.budget_table(r, ["A", "B", "C"], "B")
    a, b, c = rows
    assert (a["wins"], a["ties"], a["losses"]) == (2, 1, 1)
    assert (c["wins"], c["ties"], c["losses"]) == (2, 0, 2)
    assert b["wins"] is None and b["p_less"] is None
    assert a["median"] == pytest.approx(0.15) and a["mean"] == pytest.approx(0.15)
    assert a["se"] == pytest.approx(np.std([0.1, 0.2, 0.3, 0.0], ddof=1) / 2)
    # A - B = [-0.1, 0, 0.2, -0.5]: the zero is dropped, as scipy's wilcox method does
    expected = sps.wilcoxon([-0.1, 0.2, -0.5], alternative="less").pvalue
    assert a["p_less"] == pytest.approx(expected)
    # every difference negative on 6 seeds: exact one-sided p = 1 / 2^6
    assert bstats.wilcoxon_less(np.zeros(6), np.arange(1, 7.0)) == pytest.approx(1 / 64)
    # all tied: no evidence either way
    assert bstats.wilcoxon_less(np.ones(5), np.ones(5)) == 1.0
    assert bstats.win_tie_loss(np.ones(5), np.ones(5) + 1e-15) == (0, 5, 0)


def test_curve_and_overhead_summaries():
    regrets = np.array([[3.0, 2.0, 1.0], [5.0, 4.0, 0.0], [1.0, 1.0, 1.0]])
    cur = bstats.curve(regrets)
    assert cur["median"] == [3.0, 2.0, 1.0]
    assert cur["mean"][2] == pytest.approx(2 / 3)
    over = bstats.overhead(np.array([[0.1, 0.2, 0.3], [0.1, 0.2, 0.5]]))
    assert over["median_per_trial"] == pytest.approx(0.2)
    assert over["mean_per_run"] == pytest.approx(0.7)
    assert math.isfinite(over["mean_per_trial"])


# -- CLI --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--problem", "no-such-problem"], "unknown problem"),
        (["--problem", "toy-test", "--samplers", "random,nope"], "unknown sampler"),
        (["--problem", "toy-test", "--trials", "0"], "--trials"),
        (["--problem", "toy-test", "--seeds", "abc"], "--seeds"),
        (["--problem", "toy-test", "--jobs", "-1"], "--jobs"),
        (["--problem", "toy-test", "--budgets", "10,x"], "--budgets"),
        (["--problem", "toy-test", "--sampler-kwargs", "tpe:{bad json"], "JSON"),
        (["--problem", "toy-test", "--samplers", "tpe", "--sampler-kwargs", "tpe:n_startup_trials=ten"],
         "--sampler-kwargs tpe: n_startup_trials expects an integer, got 'ten' (a string)"),
        (["--problem", "toy-test", "--samplers", "manifold", "--sampler-kwargs",
          "manifold:region_weight=high"], "region_weight expects a number, got 'high'"),
        (["--problem", "toy-test", "--samplers", "nasbench:Nope"], "cannot import"),
        (["--samplers", "tpe"], "--problem is required"),
        (["--report-only", "--out", "/nonexistent/dir"], "no benchmark results"),
        (["--no-such-option"], "unrecognized arguments"),
    ],
)
def test_cli_errors_are_one_line_with_exit_code_2(capsys, args, needle):
    code, out, err = cli(capsys, "benchmark", *args)
    assert code == 2
    assert needle in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_cli_help_and_list(capsys):
    code, out, _ = cli(capsys, "benchmark", "--help")
    assert code == 0 and "--sampler-kwargs" in out and "--report-only" in out
    code, out, _ = cli(capsys, "benchmark", "--list")
    assert code == 0 and "nasbench201-cifar10" in out and "tpe-univariate" in out


def test_cli_benchmark_in_process_then_report_only(capsys, tmp_path):
    out = tmp_path / "b"
    code, stdout, err = cli(capsys, "benchmark", "--problem", "toy-test", "--samplers",
                            "random,tpe", "--seeds", "3", "--trials", "8", "--jobs", "1",
                            "--out", str(out), "--budgets", "4", "--no-progress")
    assert code == 0, err
    assert "regret after 8 trials" in stdout
    inv = [json.loads(x) for x in (out / "invocations.jsonl").read_text().splitlines()]
    assert inv[0]["command"].startswith("manifold-search benchmark --problem toy-test")
    assert inv[0]["environment"]["versions"]["optuna"] == optuna.__version__
    code, stdout, _ = cli(capsys, "benchmark", "--report-only", "--out", str(out))
    assert code == 0 and "random" in stdout
    results = json.loads((out / "results.json").read_text())
    assert results["budgets"] == [8]  # default budgets above 8 trials are dropped


def test_cli_parallel_workers_on_nasbench201(capsys, tmp_path):
    """Two spawned workers on the real table; a rerun reuses every run."""
    out = tmp_path / "nb"
    args = ["benchmark", "--problem", "nasbench201-cifar10", "--samplers", "random,tpe,cmaes",
            "--seeds", "2", "--trials", "12", "--jobs", "2", "--out", str(out),
            "--no-progress"]
    code, stdout, err = cli(capsys, *args)
    assert code == 0, err
    assert "skipping sampler 'cmaes'" in err
    assert len(list((out / "runs").glob("*/seed-*.json"))) == 4
    assert "cmaes not run" in (out / "report.md").read_text()
    code, _, err = cli(capsys, *args)
    assert code == 0 and "0 runs finished, 4 reused" in err


def test_exact_random_search_regret_matches_its_definition():
    p = get_problem("nasbench201-cifar10")
    table = p._bench._dataset
    # one trial: a uniform configuration, then a uniform seed of it
    mean_value = np.mean([np.mean(row["val_acc"]) for row in table.values()])
    regret1, test1 = p.random_search_regret(1)
    assert regret1 == pytest.approx(p.optimum - mean_value)
    assert test1 == pytest.approx(p.test_optimum - mean_value)
    curve = [p.random_search_regret(n)[0] for n in (1, 10, 100, 10_000)]
    assert all(a > b for a, b in zip(curve, curve[1:], strict=False)) and curve[-1] >= 0
    # Monte Carlo of the same protocol agrees (400 runs of 100 trials)
    rows = [np.asarray(r["val_acc"]) for r in table.values()]
    rng = np.random.default_rng(0)
    idx = rng.integers(len(rows), size=(400, 100))
    draws = np.array([[rows[i][rng.integers(rows[i].size)] for i in run] for run in idx])
    mc = p.optimum - draws.max(axis=1).mean()
    assert mc == pytest.approx(p.random_search_regret(100)[0], abs=0.1)


def test_mean_variant_is_noise_free_with_the_seed_mean_oracle():
    noisy, clean = get_problem("nasbench201-cifar10"), get_problem("mean:nasbench201-cifar10")
    assert clean.optimum == clean.test_optimum == noisy.test_optimum < noisy.optimum
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(clean.objective(0), n_trials=5)
    assert all(t.value == t.user_attrs[TEST_VALUE_ATTR] for t in study.trials)
    with pytest.raises(ProblemError, match="unknown table"):
        get_problem("mean:no-such-table")


def test_live_flag_is_the_live_problem_family(tmp_path):
    from manifold_search.cli import main

    assert main(["benchmark", "--live", "digits", "--problem", "x", "--out", str(tmp_path)]) == 2
    code = main(["benchmark", "--live", "digits,epochs=1,probe_size=32", "--samplers", "random",
                 "--seeds", "1", "--trials", "2", "--jobs", "1", "--out", str(tmp_path / "live"),
                 "--no-progress"])
    assert code == 0
    assert (tmp_path / "live" / "report.md").exists()
