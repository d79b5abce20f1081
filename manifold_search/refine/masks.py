"""Which weights are pruned, and the global magnitude mask over them.

Prunable: the weight matrices of ``Linear``, ``Conv1d``/``Conv2d`` (and 3-d)
and of recurrent layers (``GRU``/``LSTM``/``RNN`` ``weight_ih_l*`` and
``weight_hh_l*``). Biases and normalisation layers (BatchNorm, LayerNorm,
GroupNorm scales and shifts) stay dense: they are few, and pruning a norm
layer's scale removes a whole channel rather than one connection. They are
counted separately (:func:`dense_count`).

The mask is *global*: one magnitude threshold over all prunable weights, so
layers that matter less lose more. It zeroes exactly ``round(s * N)`` weights
(ties broken by position), so a network pruned to ``s`` has exactly that share
of zeros among its prunable weights.
"""

from __future__ import annotations

import torch
from torch import nn

_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_RECURRENT = (nn.GRU, nn.LSTM, nn.RNN)

Masks = dict[str, torch.Tensor]


def prunable(model: nn.Module) -> dict[str, nn.Parameter]:
    """``{parameter name: parameter}`` of the prunable weights, in module order."""
    out: dict[str, nn.Parameter] = {}
    for prefix, module in model.named_modules():
        dot = f"{prefix}." if prefix else ""
        if isinstance(module, _WEIGHTED):
            out[dot + "weight"] = module.weight
        elif isinstance(module, _RECURRENT):
            for name, param in module.named_parameters(recurse=False):
                if name.startswith(("weight_ih_l", "weight_hh_l")):
                    out[dot + name] = param
    return out


def dense_count(model: nn.Module) -> int:
    """Parameters left dense (biases, normalisation layers, embeddings)."""
    names = set(prunable(model))
    return sum(p.numel() for n, p in model.named_parameters() if n not in names)


def magnitude_masks(weights: dict[str, torch.Tensor], sparsity: float) -> Masks:
    """Global magnitude masks (True = kept) zeroing exactly ``round(sparsity * N)`` weights."""
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    flat = torch.cat([w.detach().reshape(-1).abs() for w in weights.values()])
    n_pruned = round(sparsity * flat.numel())
    keep = torch.ones(flat.numel(), dtype=torch.bool)
    if n_pruned:
        keep[torch.topk(flat, n_pruned, largest=False, sorted=False).indices] = False
    masks, start = {}, 0
    for name, w in weights.items():
        masks[name] = keep[start : start + w.numel()].view_as(w)
        start += w.numel()
    return masks


def masked_copy(weights: dict[str, torch.Tensor], masks: Masks) -> dict[str, torch.Tensor]:
    return {name: w.detach() * masks[name] for name, w in weights.items()}


@torch.no_grad()
def apply_masks(model: nn.Module, masks: Masks) -> nn.Module:
    """Zero the pruned weights of ``model`` in place."""
    params = prunable(model)
    for name, mask in masks.items():
        params[name].mul_(mask.to(params[name].dtype))
    return model


def sparsity_of(model: nn.Module) -> tuple[float, int]:
    """(share of exact zeros among the prunable weights, number of prunable weights)."""
    weights = list(prunable(model).values())
    total = sum(w.numel() for w in weights)
    zeros = sum(int((w == 0).sum()) for w in weights)
    return (zeros / total if total else 0.0), total
