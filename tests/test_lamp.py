"""The LAMP criterion (masks.py): exact global sparsity, blind to a layer's scale, and
the walk and one-shot baseline accept it; the magnitude default is unchanged."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from manifold_search.refine.masks import importance, magnitude_masks, prunable
from manifold_search.refine.sparsify import sparsify


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 3))


def _weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach() for n, p in prunable(model).items()}


@pytest.mark.parametrize("sparsity", [0.3, 0.7, 0.95])
def test_lamp_masks_prune_exactly_and_keep_every_layer(sparsity):
    weights = _weights(_net())
    masks = magnitude_masks(weights, sparsity, "lamp")
    total = sum(w.numel() for w in weights.values())
    assert sum(int((~m).sum()) for m in masks.values()) == round(sparsity * total)
    assert all(int(m.sum()) >= 1 for m in masks.values())  # a layer's largest weight scores 1


def test_lamp_ignores_a_layers_scale_where_magnitude_empties_it():
    weights = _weights(_net())
    shrunk = dict(weights, **{"0.weight": weights["0.weight"] * 1e-3})  # BatchNorm follows: same function
    lamp, lamp_shrunk = magnitude_masks(weights, 0.5, "lamp"), magnitude_masks(shrunk, 0.5, "lamp")
    assert all(torch.equal(lamp[n], lamp_shrunk[n]) for n in weights)
    assert int(magnitude_masks(shrunk, 0.5)["0.weight"].sum()) == 0  # global magnitude empties the layer


def test_magnitude_importance_is_the_absolute_value_and_bad_criteria_are_refused():
    weights = _weights(_net())
    assert torch.equal(importance(weights), torch.cat([w.reshape(-1).abs() for w in weights.values()]))
    with pytest.raises(ValueError, match="criterion = 'l2': choose one of 'magnitude', 'lamp'"):
        importance(weights, "l2")


@pytest.mark.parametrize("method", ["fip", "magnitude"])
def test_walk_and_one_shot_accept_lamp(method):
    from manifold_search.refine.data import SparsifyData

    torch.manual_seed(1)
    x = torch.randn(256, 4)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    model = _net().eval()
    data = SparsifyData(x, x[:64], y[:64], y)
    result = sparsify(model, data, 0.8, method=method, criterion="lamp", steps=40, eval_every=20, progress=False)
    total = sum(p.numel() for p in prunable(model).values())
    sparse = result.models[0.8]
    assert sum(int((p == 0).sum()) for p in prunable(sparse).values()) == round(0.8 * total)
    assert result.settings["criterion"] == "lamp"
    with pytest.raises(ValueError, match="criterion = 'l1'"):
        sparsify(model, data, 0.8, criterion="l1", steps=4, progress=False)


@pytest.mark.parametrize("criterion", ["magnitude", "lamp"])
def test_pull_targets_are_the_exact_masks_complement_when_fresh(criterion):
    from manifold_search.refine.masks import PullTargets

    weights = _weights(_net(3))
    targets = PullTargets(criterion, refresh=1)
    for sparsity in (0.0, 0.4, 0.9):
        pulled = targets(list(weights.values()), sparsity)
        exact = magnitude_masks(weights, sparsity, criterion)
        if sparsity == 0.0:
            assert pulled is None
            continue
        assert all(torch.equal(p, ~exact[n]) for p, n in zip(pulled, weights, strict=True))
