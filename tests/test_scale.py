"""What keeps the sampler fast as a study grows: the manifold cache, the GP's
hyperparameter subset, the PHATE refit rule, released representations."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.distributions import FloatDistribution

import manifold_search.manifold as manifold_module
import manifold_search.records as records_module
from manifold_search._params import ParamEncoder
from manifold_search._surrogate import MetricGP, stratified_subset
from manifold_search.embedding import extend_embedding, needs_refit
from manifold_search.manifold import NetworkManifold
from manifold_search.representations import record_representations

N = 32
LABELS = np.repeat(np.arange(4), N // 4)


def representation(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    latent = np.random.default_rng(0).normal(size=(N, 3)) + LABELS[:, None]
    width = int(rng.integers(4, 20))
    return np.tanh(latent @ rng.normal(size=(3, width))) + 0.3 * rng.normal(size=(N, width))


def sqlite_study(tmp_path: Path, n: int, name: str = "s") -> optuna.Study:
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'study.db'}", study_name=name,
                                load_if_exists=True)  # fmt: skip
    for _ in range(n):
        trial = study.ask()
        record_representations(trial, {"penultimate": representation(trial.number)}, "probe", LABELS)
        study.tell(trial, float(trial.number))
    return study


def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "study.db.artifacts.manifold-cache"


def test_restart_reads_distances_from_the_cache_not_the_records(tmp_path, monkeypatch) -> None:
    study = sqlite_study(tmp_path, 10)
    first = NetworkManifold.from_study(study)
    assert first.n_distance_computations == 45 and cache_dir(tmp_path).is_dir()
    # a restarted process: no record is read, no distance computed, same matrix
    monkeypatch.setattr(records_module, "load_network", lambda *a, **k: pytest.fail("read a record"))
    again = NetworkManifold.from_study(optuna.load_study(study_name="s", storage=study._storage))
    assert again.keys == first.keys and again.n_distance_computations == 0
    np.testing.assert_array_equal(again.distances(), first.distances())
    # operators are read lazily, and equal the computed ones
    np.testing.assert_array_equal(again.operator(3), first.operator(3))


def test_grown_study_adds_only_new_networks_and_features_reread_records(tmp_path) -> None:
    study = sqlite_study(tmp_path, 6)
    NetworkManifold.from_study(study)
    sqlite_study(tmp_path, 3)  # three more trials in the same study
    manifold = NetworkManifold.from_study(study)
    assert len(manifold) == 9 and manifold.n_distance_computations == 3 * 6 + 3
    fresh = NetworkManifold(cache=None)
    fresh.update_from_study(study)
    np.testing.assert_allclose(manifold.distances(), fresh.distances(), atol=1e-7)
    # representations are not held in memory; features read them back when asked
    assert not manifold._pending
    assert manifold.features(2) == fresh.features(2)


def test_a_replaced_record_does_not_use_the_stale_cache(tmp_path) -> None:
    study = sqlite_study(tmp_path, 5)
    NetworkManifold.from_study(study)
    for path in cache_dir(tmp_path).rglob("d-*.npy"):  # as if every record had been re-made
        os.rename(path, path.with_name(path.name.replace("-", "-9", 1)))
    manifold = NetworkManifold.from_study(study)
    assert manifold.n_distance_computations == 10


def test_pairs_cached_by_different_workers_are_completed(tmp_path) -> None:
    study = sqlite_study(tmp_path, 4)
    NetworkManifold.from_study(study)  # worker A caches 0-3
    extra = sqlite_study(tmp_path, 2)  # 4, 5 finished later
    only_new = [t for t in extra.get_trials() if t.number >= 4]
    b = NetworkManifold(cache=str(cache_dir(tmp_path) / "b"))  # worker B never saw 0-3
    b._open_cache(extra, None)
    b._cache = a_cache = type(b._cache)(next(cache_dir(tmp_path).glob("*/*")))
    b.add_many([(t.number, representation(t.number)) for t in only_new], LABELS)
    b._sync(extra, only_new, None, [])
    assert a_cache.has(4, b._record_ids[4])
    merged = NetworkManifold.from_study(extra)  # pairs (0-3, 4-5) are in no file yet
    assert merged.n_distance_computations == 8
    fresh = NetworkManifold(cache=None)
    fresh.update_from_study(extra)
    np.testing.assert_allclose(merged.distances(), fresh.distances(), atol=1e-7)


def test_no_cache_for_in_memory_studies() -> None:
    study = optuna.create_study()
    trial = study.ask()
    record_representations(trial, {"penultimate": representation(0)}, "probe", LABELS)
    study.tell(trial, 0.0)
    manifold = NetworkManifold.from_study(study)
    assert manifold._cache is None and len(manifold) == 1


def test_gp_selects_on_a_subset_only_above_the_threshold() -> None:
    enc = ParamEncoder({"x": FloatDistribution(0, 1), "y": FloatDistribution(0, 1)})
    rng = np.random.default_rng(0)
    pts = rng.uniform(size=(120, 2))
    x = enc.encode([{"x": a, "y": b} for a, b in pts])
    y = np.sin(5 * pts[:, 0]) + 0.1 * rng.normal(size=120)
    w = np.ones(len(enc.columns))
    full = MetricGP(w, enc.deltas, select_points=None).fit(x, y)
    same = MetricGP(w, enc.deltas, select_points=120).fit(x, y)
    assert (same.length, same.noise) == (full.length, full.noise)
    np.testing.assert_array_equal(same.alpha, full.alpha)
    sub = MetricGP(w, enc.deltas, select_points=40).fit(x, y)
    assert len(sub.alpha) == 120  # the posterior still uses every point
    test = enc.encode([{"x": a, "y": 0.5} for a in np.linspace(0, 1, 9)])
    mean, _ = sub.predict(test)
    assert np.corrcoef(mean, np.sin(5 * np.linspace(0, 1, 9)))[0, 1] > 0.9
    picked = stratified_subset(y, 40)
    assert len(picked) == 40 and np.argmax(y) in picked and np.argmin(y) in picked


def test_embedding_refits_below_the_threshold_and_extends_above() -> None:
    assert needs_refit(100, 101) and needs_refit(300, 301) is False
    assert needs_refit(400, 439) is False and needs_refit(400, 440)
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(12, 2))
    d = np.linalg.norm(pts[:, None] - pts[None], axis=2)
    d[11] = d[:, 11] = d[3]  # network 11 duplicates network 3
    d[11, 3] = d[3, 11] = 0.0
    out = extend_embedding(pts[:10], d)
    np.testing.assert_array_equal(out[:10], pts[:10])
    np.testing.assert_allclose(out[11], pts[3])
    assert np.all(np.isfinite(out))


def test_manifold_extends_its_layout_between_refits(monkeypatch) -> None:
    monkeypatch.setattr(manifold_module, "needs_refit", lambda fitted, now: now >= 1.5 * fitted)
    manifold = NetworkManifold()
    for key in range(8):
        manifold.add(key, representation(key), LABELS)
    first = manifold.embed(seed=0)
    manifold.add(8, representation(8), LABELS)
    second = manifold.embed(seed=0)
    np.testing.assert_array_equal(second[:8], first)  # extended, not refitted
    for key in range(9, 12):
        manifold.add(key, representation(key), LABELS)
    assert not np.array_equal(manifold.embed(seed=0)[:8], first)  # refitted at 12 >= 1.5 x 8


def test_large_gp_distances_match_the_per_parameter_route() -> None:
    from optuna.distributions import CategoricalDistribution, IntDistribution

    from manifold_search._surrogate import squared_param_distances

    enc = ParamEncoder({"f": CategoricalDistribution(["a", "b"]), "x": FloatDistribution(0, 1),
                        "n": IntDistribution(1, 5), "g": CategoricalDistribution([1, 2, 4])})  # fmt: skip
    rng = np.random.default_rng(1)
    configs = [{"f": "ab"[i % 2], "x": rng.uniform(), "g": (1, 2, 4)[i % 3],
                **({"n": int(rng.integers(1, 6))} if i % 2 else {})} for i in range(60)]  # fmt: skip
    x = enc.encode(configs)
    w = rng.uniform(size=len(enc.columns))
    np.testing.assert_allclose(squared_param_distances(enc, x, x[:7], w), (enc.deltas(x, x[:7]) ** 2) @ w,
                               rtol=1e-9, atol=1e-12)  # fmt: skip
    gp = MetricGP(w, enc.deltas, select_points=20)  # 60 > 20: the per-parameter route
    np.testing.assert_allclose(gp._sq(x, x), (enc.deltas(x, x) ** 2) @ w, rtol=1e-9, atol=1e-12)


def test_restart_reuses_the_cached_layout_without_refitting(tmp_path, monkeypatch) -> None:
    study = sqlite_study(tmp_path, 8)
    first = NetworkManifold.from_study(study)
    layout = dict(zip(first.keys, first.embed(seed=0), strict=True))
    monkeypatch.setattr(manifold_module, "phate_embedding", lambda *a, **k: pytest.fail("refit"))
    again = NetworkManifold.from_study(study)
    for key, coords in zip(again.keys, again.embed(seed=0), strict=True):
        np.testing.assert_array_equal(coords, layout[key])
    sqlite_study(tmp_path, 1)  # one more network: placed among the cached layout
    monkeypatch.setattr(manifold_module, "needs_refit", lambda fitted, now: False)
    grown = NetworkManifold.from_study(study)
    coords = dict(zip(grown.keys, grown.embed(seed=0), strict=True))
    assert len(coords) == 9 and np.all(np.isfinite(coords[8]))
    np.testing.assert_array_equal(coords[3], layout[3])
    # a fit that names a network no longer held still places the others
    fresh = NetworkManifold(cache=None)
    fresh.update_from_study(study)
    fresh._cache, fresh._record_ids = grown._cache, dict(grown._record_ids)
    del fresh._record_ids[5]
    kept = fresh._load_fit((0, 2, None, None))
    assert kept is not None and 5 not in kept[0] and len(kept[0]) == 7
