"""NetworkManifold grows incrementally, caches, embeds, and rebuilds from a study."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest
import torch

import manifold_search.manifold as manifold_module
from manifold_search.embedding import align_to, phate_embedding
from manifold_search.geometry import diffusion_operator, network_distances
from manifold_search.manifold import NetworkManifold
from manifold_search.representations import Probe, record_network

N = 48
LABELS = np.repeat(np.arange(4), N // 4)


def representation(seed: int, width: int | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    width = width or int(rng.integers(4, 40))
    latent = np.random.default_rng(0).normal(size=(N, 3)) + LABELS[:, None]
    return np.tanh(latent @ rng.normal(size=(3, width))) + 0.2 * rng.normal(size=(N, width))


def test_adding_the_kth_network_computes_k_minus_1_distances(monkeypatch) -> None:
    rows_computed = []
    original = manifold_module.distances_to

    def counting(operator, operators, *args, **kwargs):
        rows_computed.append(len(operators))
        return original(operator, operators, *args, **kwargs)

    monkeypatch.setattr(manifold_module, "distances_to", counting)
    manifold = NetworkManifold()
    reps = [representation(seed) for seed in range(12)]  # 12 > the initial capacity of 8
    for k, rep in enumerate(reps, start=1):
        before = manifold.n_distance_computations
        manifold.add(100 + k, rep, LABELS)
        assert manifold.n_distance_computations - before == k - 1
    assert rows_computed == list(range(1, 12))
    assert manifold.keys == [100 + k for k in range(1, 13)]
    # the grown matrix equals a from-scratch computation
    full = network_distances(np.stack([diffusion_operator(r) for r in reps]))
    np.testing.assert_allclose(manifold.distances(), full, atol=1e-6)
    np.testing.assert_array_equal(manifold.operator(101), diffusion_operator(reps[0]))


def test_add_many_matches_one_by_one() -> None:
    reps = {key: representation(key) for key in range(6)}
    one_by_one = NetworkManifold()
    for key, rep in reps.items():
        one_by_one.add(key, rep, LABELS)
    batched = NetworkManifold()
    batched.add_many(list(reps.items())[:2], labels=LABELS)
    batched.add_many(list(reps.items())[2:])
    assert batched.keys == one_by_one.keys
    assert batched.n_distance_computations == one_by_one.n_distance_computations == 15
    np.testing.assert_allclose(batched.distances(), one_by_one.distances(), atol=1e-6)


def test_features_are_computed_once_and_cached(monkeypatch) -> None:
    calls = []
    original = manifold_module.network_features
    monkeypatch.setattr(
        manifold_module,
        "network_features",
        lambda *a, **k: calls.append(1) or original(*a, **k),
    )
    manifold = NetworkManifold()
    for key in range(3):
        manifold.add(key, representation(key), LABELS)
    first = manifold.features()
    assert manifold.features() == first and manifold.features(1) == first[1]
    assert len(calls) == 3
    manifold.add(3, representation(3))
    manifold.features()
    assert len(calls) == 4
    names, table = manifold.feature_matrix()
    assert table.shape == (4, len(names)) and "spectral_entropy" in names
    json.dumps(first)  # JSON friendly
    # the topological second distance grows the same way
    w = manifold.wasserstein_distances(dim=1)
    assert w.shape == (4, 4) and np.allclose(w, w.T) and np.all(np.diag(w) == 0)


def test_bad_networks_are_refused_with_a_fix() -> None:
    manifold = NetworkManifold()
    manifold.add(0, representation(0), LABELS)
    with pytest.raises(
        ValueError, match="has 10 probe points but this manifold's networks have 48"
    ):
        manifold.add(1, representation(1)[:10])
    with pytest.raises(ValueError, match="already holds network 0"):
        manifold.add(0, representation(2))
    with pytest.raises(ValueError, match="labels"):
        manifold.add(2, representation(2), LABELS[::-1])
    assert len(manifold) == 1 and 0 in manifold and 1 not in manifold
    with pytest.raises(ValueError, match="needs the probe labels|features need"):
        unlabeled = NetworkManifold()
        unlabeled.add(0, representation(0))
        unlabeled.features()


def test_embedding_is_deterministic_and_works_from_three_networks() -> None:
    manifold = NetworkManifold()
    assert manifold.embed().shape == (0, 2)
    manifold.add(0, representation(0), LABELS)
    np.testing.assert_array_equal(manifold.embed(), np.zeros((1, 2)))
    manifold.add(1, representation(1), LABELS)
    two = manifold.embed()
    assert np.linalg.norm(two[0] - two[1]) == pytest.approx(manifold.distances()[0, 1])
    manifold.add(2, representation(2), LABELS)
    three = manifold.embed(seed=3)
    assert three.shape == (3, 2) and np.all(np.isfinite(three))
    for key in range(3, 10):
        manifold.add(key, representation(key), LABELS)
    first = manifold.embed(seed=7)
    again = phate_embedding(manifold.distances(), seed=7)
    np.testing.assert_array_equal(first, again)
    # the layout does not depend on the order the networks arrived in
    shuffled = NetworkManifold()
    for key in [9, 3, 0, 7, 1, 8, 2, 6, 4, 5]:
        shuffled.add(key, representation(key), LABELS)
    rows = [shuffled.keys.index(key) for key in manifold.keys]
    np.testing.assert_allclose(shuffled.embed(seed=7)[rows], first, atol=1e-6)
    # a refit can be aligned onto the previous layout for display
    manifold.add(10, representation(10), LABELS)
    aligned = align_to(manifold.embed(seed=7), first)
    assert aligned.shape == (11, 2)


def _objective(probe: Probe):
    def objective(trial: optuna.Trial) -> float:
        width = trial.suggest_int("width", 4, 24)
        torch.manual_seed(trial.number)
        model = torch.nn.Sequential(
            torch.nn.Linear(6, width), torch.nn.Tanh(), torch.nn.Linear(width, 3)
        )
        record_network(trial, model, probe)
        return float(width)

    return objective


REBUILD = """
import json, sys, optuna
from manifold_search.manifold import NetworkManifold
study = optuna.load_study(study_name="nets", storage=sys.argv[1])
manifold = NetworkManifold.from_study(study)
print(json.dumps({"keys": manifold.keys, "distances": manifold.distances().tolist(),
                  "spectral_entropy": manifold.features(manifold.keys[0])["spectral_entropy"]}))
"""


def test_rebuilds_from_a_sqlite_study_in_a_new_process(tmp_path: Path) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.manual_seed(0)
    probe = Probe(torch.randn(N, 6), LABELS)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(
        study_name="nets", storage=storage, sampler=optuna.samplers.RandomSampler(seed=0)
    )
    study.optimize(_objective(probe), n_trials=4)
    study.optimize(lambda trial: 0.0, n_trials=1)  # a trial without a network is ignored

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    result = subprocess.run(
        [sys.executable, "-c", REBUILD, storage],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rebuilt = json.loads(result.stdout.strip().splitlines()[-1])
    assert rebuilt["keys"] == [0, 1, 2, 3]

    here = NetworkManifold.from_study(study)
    np.testing.assert_allclose(np.array(rebuilt["distances"]), here.distances(), atol=1e-9)
    assert rebuilt["spectral_entropy"] == pytest.approx(here.features(0)["spectral_entropy"])
    assert here.distances()[0, 1] > 0

    # the study grows: update adds only the new trials and only their distances
    study.optimize(_objective(probe), n_trials=2)
    before = here.n_distance_computations
    assert here.update_from_study(study) == [5, 6]
    assert here.keys == [0, 1, 2, 3, 5, 6]
    assert here.n_distance_computations - before == 2 * 4 + 1
    assert here.update_from_study(study) == []
    np.testing.assert_allclose(
        here.distances(), NetworkManifold.from_study(study).distances(), atol=1e-6
    )


def test_diverged_network_is_placed_as_collapsed(tmp_path):
    import optuna
    import torch

    from manifold_search import Probe, record_network
    from manifold_search.manifold import NetworkManifold

    probe = Probe(torch.randn(20, 4, generator=torch.Generator().manual_seed(0)), np.arange(20) % 2)

    def objective(trial):
        torch.manual_seed(trial.number)
        model = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Linear(6, 2))
        if trial.number == 2:
            with torch.no_grad():
                model[0].weight.fill_(float("nan"))
        record_network(trial, model, probe)
        return 0.0

    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 's.db'}")
    study.optimize(objective, n_trials=4)
    with pytest.warns(UserWarning, match="collapsed"):
        manifold = NetworkManifold.from_study(study)
    assert len(manifold) == 4 and np.isfinite(manifold.distances()).all()
