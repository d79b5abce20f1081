"""The digits grid, the shared table builder, and recorded tables served as problems."""

import json
import os

import numpy as np
import optuna
import pytest

from manifold_search._attrs import RECORD
from manifold_search.benchmark import get_problem
from manifold_search.benchmark.digits_table import DigitsTable
from manifold_search.benchmark.mnist1d_table import Mnist1DTable
from manifold_search.benchmark.problems import TEST_VALUE_ATTR
from manifold_search.benchmark.table_builder import TableSpec, build, reduce_pca, train_one
from manifold_search.representations import load_representation
from search_spaces.digits_grid import (
    DigitsGridSpace,
    all_params,
    grid_key,
    suggest_grid,
    to_config,
)

SHIPPED = os.path.join(os.path.dirname(os.path.dirname(__file__)), "manifold_search", "tables")
SPEC = TableSpec(grid="search_spaces.digits_grid", space="search_spaces.digits_grid:DigitsGridSpace",
                 epochs=2, workdir="unused", out="unused")  # fmt: skip


def test_grid_size_uniqueness_and_family_split():
    params = all_params()
    assert len(params) == 720
    assert len({grid_key(p) for p in params}) == 720
    assert sum(p["family"] == "mlp" for p in params) == 432
    assert sum(p["family"] == "cnn" for p in params) == 288


def test_every_family_builds_from_its_grid_params():
    space = DigitsGridSpace(epochs=1)
    built = {}
    for params in all_params():
        if params["family"] not in built:
            model = space.build(to_config(params))
            built[params["family"]] = sum(p.numel() for p in model.parameters())
    assert set(built) == {"mlp", "cnn"} and all(n > 0 for n in built.values())


def test_suggest_grid_hits_grid_points_of_both_families():
    keys = {grid_key(p) for p in all_params()}
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    families = set()
    for _ in range(40):
        trial = study.ask()
        params = suggest_grid(trial)
        assert grid_key(params) in keys
        families.add(params["family"])
        study.tell(trial, 0.0)
    assert families == {"mlp", "cnn"}


def test_reduce_pca_keeps_pairwise_distances_of_low_rank_data():
    rng = np.random.default_rng(0)
    rep = rng.normal(size=(50, 3)) @ rng.normal(size=(3, 40))  # rank 3 in 40 dimensions
    reduced, kept = reduce_pca(rep, 8)
    assert reduced.shape == (50, 8) and reduced.dtype == np.float16
    assert kept == pytest.approx(1.0)
    d_full = np.linalg.norm(rep[:, None] - rep[None], axis=-1)
    d_red = np.linalg.norm(reduced.astype(float)[:, None] - reduced.astype(float)[None], axis=-1)
    assert np.abs(d_full - d_red).max() < 1e-2 * d_full.max()


def test_builder_parts_resume_and_pack_into_a_servable_table(tmp_path):
    """Two real trainings, a resumed build that trains nothing, and the packed table served."""
    workdir, out = str(tmp_path / "work"), str(tmp_path / "t.npz")
    os.makedirs(os.path.join(workdir, "parts"))
    grid = all_params()
    for i in (0, 1):
        index, val, seconds = train_one(SPEC, i, grid[i], workdir, 32)
        assert index == i and 0.0 <= val <= 1.0 and seconds > 0
    before = {f: os.path.getmtime(os.path.join(workdir, "parts", f)) for f in os.listdir(os.path.join(workdir, "parts"))}
    build(SPEC, workdir, out, jobs=1, limit=2)  # everything is done: only packs
    after = {f: os.path.getmtime(os.path.join(workdir, "parts", f)) for f in before}
    assert before == after and sorted(before) == ["0000.npz", "0001.npz"]
    with np.load(out, allow_pickle=False) as data:
        assert data["representation"].shape == (2, 256, 32)
        assert data["val_curve"].shape == (2, 2)
        assert json.loads(str(data["meta"]))["probe"] == DigitsGridSpace(epochs=2).probe().fingerprint
    table = DigitsTable(path=out)
    assert table.lookup(grid[1]) == 1
    with pytest.raises(KeyError, match="not in the digits-table table"):
        table.lookup(grid[2])


def test_missing_table_names_the_build_script(tmp_path):
    with pytest.raises(FileNotFoundError, match="scripts/build_digits_table.py"):
        DigitsTable(path=str(tmp_path / "none.npz"))


@pytest.mark.parametrize("name,cls,rows", [("digits-table", DigitsTable, 720),
                                           ("mnist1d-table", Mnist1DTable, 1056)])  # fmt: skip
def test_shipped_table_is_registered_and_consistent(name, cls, rows):
    if not os.path.exists(os.path.join(SHIPPED, cls.table_file)):
        pytest.skip(f"{cls.table_file} not built")
    problem = get_problem(name)
    assert isinstance(problem, cls) and len(problem.params) == rows
    assert problem.optimum == pytest.approx(problem.val_accuracy.max())
    assert all(problem.lookup(p) == i for i, p in enumerate(problem.params))
    assert problem.random_draw_probabilities().sum() == pytest.approx(1.0)
    regret_1, _ = problem.random_search_regret(1)
    expected_1 = problem.random_draw_probabilities() @ problem.val_accuracy
    assert regret_1 == pytest.approx(problem.optimum - expected_1)
    assert problem.random_search_regret(100)[0] < regret_1


def test_digits_table_trial_records_the_stored_representation():
    if not os.path.exists(os.path.join(SHIPPED, DigitsTable.table_file)):
        pytest.skip("digits_nas.npz not built")
    problem = DigitsTable.load()
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=3))
    study.optimize(problem.objective(0), n_trials=3)
    for trial in study.trials:
        row = trial.user_attrs[RECORD]["table_row"]
        assert trial.value == pytest.approx(problem.val_accuracy[row])
        assert trial.user_attrs[TEST_VALUE_ATTR] == pytest.approx(problem.test_accuracy[row])
        stored = load_representation(study, trial)
        np.testing.assert_array_equal(stored, problem.representation[row].astype(np.float32))
