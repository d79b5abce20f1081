"""Sparsification of a small trained network (digits MLP, real training): exact sparsity,
function kept better than one-shot pruning on held-out data, determinism, baselines, GRU."""

from __future__ import annotations

import pytest
import torch

from manifold_search.refine.data import SparsifyData, divergence, log_probs
from manifold_search.refine.masks import dense_count, prunable, sparsity_of
from manifold_search.refine.schedule import segments
from manifold_search.refine.sparsify import sparsify
from search_spaces import get_space
from search_spaces.mnist1d import GRUNet

CONFIG = {"family": "mlp", "depth": 2, "width": 64, "norm": "batchnorm1d", "activation": "relu",
          "dropout": 0.0, "optimizer": "adamw", "lr": 3e-3, "weight_decay": 1e-4, "batch_size": 64,
          "label_smoothing": 0.0}  # fmt: skip


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(1)
    space = get_space("digits", epochs=8, probe_size=64)
    model = space.seeded_build(CONFIG)
    metrics = space.train_and_evaluate(model, CONFIG)
    assert metrics["val_accuracy"] > 0.9
    return space, model.eval(), SparsifyData.from_space(space)


def _zeros(model):
    return sum(int((p == 0).sum()) for p in prunable(model).values())


@pytest.mark.parametrize("method", ["fip", "magnitude", "imp", "gmp"])
def test_exact_fraction_of_zeros_in_the_pruned_tensors(trained, method):
    space, model, data = trained
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    result = sparsify(model, data, (0.5, 0.8), method=method, steps=200, eval_every=50, progress=False)
    total = sum(p.numel() for p in prunable(model).values())
    for s in (0.5, 0.8):
        sparse = result.models[s]
        assert _zeros(sparse) == round(s * total)
        assert sparsity_of(sparse) == (round(s * total) / total, total)
        assert sum(int((~m).sum()) for m in result.masks[s].values()) == round(s * total)
        assert dense_count(sparse) == dense_count(model)
        biases = [p for n, p in sparse.named_parameters() if n not in prunable(sparse)]
        assert all(int((b == 0).sum()) == 0 for b in biases)  # biases and norm layers stay dense
        assert 0.0 <= result.snapshot_metrics[s]["val_accuracy"] <= 1.0
        assert result.snapshot_metrics[s]["distance"] >= 0.0  # network distance on the probe
    assert all(torch.equal(before[n], p) for n, p in model.named_parameters())  # original untouched


def test_walk_keeps_outputs_closer_than_one_shot_on_held_out_data(trained):
    space, model, data = trained
    targets = (0.8, 0.9)
    walk = sparsify(model, data, targets, steps=1500, eval_every=500, progress=False)
    shot = sparsify(model, data, targets, method="magnitude")
    x_test = space.data.x_test  # never seen by the walk
    reference = log_probs(model, x_test)
    for s in targets:
        d_walk = float(divergence(log_probs(walk.models[s], x_test), reference))
        d_shot = float(divergence(log_probs(shot.models[s], x_test), reference))
        assert d_walk < 0.5 * d_shot, (s, d_walk, d_shot)
        assert walk.snapshot_metrics[s]["distance"] < shot.snapshot_metrics[s]["distance"]
    path = walk.path
    assert len(path["step"]) == len(path["sparsity"]) == len(path["divergence"]) == 1500
    assert path["eval_step"] == [500.0, 1000.0, 1500.0] and len(path["val_accuracy"]) == 3
    assert max(path["sparsity"]) == pytest.approx(0.9)


def test_walk_is_deterministic_for_a_seed_and_needs_no_labels(trained):
    space, model, data = trained
    unlabeled = SparsifyData(data.x_train, data.x_val, data.y_val, probe=None)
    runs = [sparsify(model, unlabeled, 0.7, steps=100, seed=4, progress=False) for _ in range(2)]
    other = sparsify(model, unlabeled, 0.7, steps=100, seed=5, progress=False)
    a, b, c = (dict(r.models[0.7].named_parameters()) for r in (*runs, other))
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert not all(torch.equal(a[n], c[n]) for n in a)
    with pytest.raises(ValueError, match="needs labels"):
        sparsify(model, unlabeled, 0.7, steps=10, label_weight=1.0)
    with pytest.raises(ValueError, match="fine-tunes on labels"):
        sparsify(model, unlabeled, 0.7, method="imp", steps=10)


def test_gru_weights_are_prunable_and_pruned_exactly(trained):
    torch.manual_seed(0)
    gru = GRUNet(hidden=12, layers=2, dropout=0.0).eval()
    names = set(prunable(gru))
    assert {"gru.weight_ih_l0", "gru.weight_hh_l0", "gru.weight_ih_l1", "gru.weight_hh_l1",
            "head.weight"} == names  # fmt: skip
    x = torch.randn(64, 40)
    data = SparsifyData(x, x[:32], torch.zeros(32, dtype=torch.long), torch.randint(0, 10, (64,)))
    total = sum(p.numel() for p in prunable(gru).values())
    for method in ("fip", "imp", "gmp"):
        result = sparsify(gru, data, 0.6, method=method, steps=20, progress=False)
        assert _zeros(result.models[0.6]) == round(0.6 * total), method


def test_steps_are_shared_by_log_density_and_bad_input_is_refused(trained):
    plan = segments((0.5, 0.8, 0.9, 0.95), 3000, ramp=0.75)
    lengths = [seg.end - seg.start for seg in plan]
    assert sum(lengths) == 3000 and plan[-1].end == 3000
    assert max(lengths[0], lengths[2], lengths[3]) - min(lengths[0], lengths[2], lengths[3]) <= 1  # each halves the survivors
    assert plan[1].sparsity(plan[1].start) > 0.5 and plan[1].sparsity(plan[1].end - 1) == 0.8
    _, model, data = trained
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        sparsify(model, data, 1.0)
    with pytest.raises(ValueError, match="choose one of fip"):
        sparsify(model, data, 0.5, method="lottery")
