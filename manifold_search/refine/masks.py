"""Which weights are pruned, and the global magnitude mask over them.

Prunable: the weight matrices of ``Linear``, ``Conv1d``/``Conv2d`` (and 3-d)
and of recurrent layers (``GRU``/``LSTM``/``RNN`` ``weight_ih_l*`` and
``weight_hh_l*``). Biases and normalisation layers (BatchNorm, LayerNorm,
GroupNorm scales and shifts) stay dense: they are few, and pruning a norm
layer's scale removes a whole channel rather than one connection. They are
counted separately (:func:`dense_count`).

The mask is *global*: one threshold over all prunable weights, so layers that
matter less lose more. It zeroes exactly ``round(s * N)`` weights (ties broken
by position), so a network pruned to ``s`` has exactly that share of zeros
among its prunable weights. What is compared across layers is the
``criterion``: ``"magnitude"`` (``|w|``, the papers' and Zhu & Gupta's) or
``"lamp"`` (Lee et al., ICLR 2021: ``w_u^2`` over the sum of ``w_v^2`` of the
weights of the same tensor at least as large). LAMP scores do not change when a
layer is rescaled, which matters when a normalisation layer follows it: there
the weights' scale is arbitrary (an optimizer such as Lion leaves layers at
very different scales), and one global magnitude threshold can empty a small
first layer while barely touching the others (docs/sparsify.md).
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


CRITERIA = ("magnitude", "lamp")
#: What ``[refine]``, ``manifold-search sparsify`` and the walk use unless told (docs/sparsify.md).
DEFAULT_CRITERION = "lamp"


def _lamp_sorted(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """LAMP scores of one tensor in ascending ``|w|`` order, and that order.

    The scores come out ascending too: along the order the numerator grows and the
    tail sum shrinks (also in floating point: a cumulative sum of non-negative
    numbers never decreases), so callers that need them sorted need no second sort.
    """
    squared = w.detach().reshape(-1).double() ** 2
    ordered, order = torch.sort(squared)
    tail = torch.flip(torch.cumsum(torch.flip(ordered, [0]), 0), [0])
    return ordered / tail.clamp_min(1e-300), order


def _lamp(w: torch.Tensor) -> torch.Tensor:
    """LAMP scores of one tensor, flat: ``w_u^2 / sum_{|w_v| >= |w_u|} w_v^2`` (largest = 1)."""
    ranked, order = _lamp_sorted(w)
    scores = torch.empty_like(ranked)
    scores[order] = ranked
    return scores


def check_criterion(criterion: str, where: str = "criterion") -> str:
    """``criterion`` if it is one of :data:`CRITERIA`; else one error, the same everywhere
    (``where`` names the setting: an argument, ``[refine] criterion``)."""
    if criterion not in CRITERIA:
        raise ValueError(f"{where} = {criterion!r}: choose one of {', '.join(map(repr, CRITERIA))}")
    return criterion


def importance(weights: dict[str, torch.Tensor], criterion: str = "magnitude") -> torch.Tensor:
    """All prunable weights' scores, flat, in ``weights`` order (lowest pruned first)."""
    if check_criterion(criterion) == "magnitude":
        return torch.cat([w.detach().reshape(-1).abs() for w in weights.values()])
    return torch.cat([_lamp(w) for w in weights.values()])


def magnitude_masks(weights: dict[str, torch.Tensor], sparsity: float, criterion: str = "magnitude") -> Masks:
    """Global masks (True = kept) zeroing exactly ``round(sparsity * N)`` lowest-scored weights."""
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    flat = importance(weights, criterion)
    n_pruned = round(sparsity * flat.numel())
    keep = torch.ones(flat.numel(), dtype=torch.bool)
    if n_pruned:
        keep[torch.topk(flat, n_pruned, largest=False, sorted=False).indices] = False
    masks, start = {}, 0
    for name, w in weights.items():
        masks[name] = keep[start : start + w.numel()].view_as(w)
        start += w.numel()
    return masks


class PullTargets:
    """The weights the walk pulls to zero at sparsity ``s``: the lowest ranked ``round(s * N)``.

    Asked every step. ``"magnitude"`` ranks by one global ``kthvalue`` of ``|w|``
    each time. ``"lamp"`` would need a sort of every layer each step (0.2 s per
    step on the 550k-weight MLP, more than the step itself), but LAMP keeps the
    magnitude order inside a layer, so it only decides *how many* weights each
    layer loses: those layer budgets are recomputed from sorted LAMP scores every
    ``refresh`` steps (and whenever asked about a new segment's sparsities they
    follow at once from the stored scores); in between, each layer's own
    ``kthvalue`` of ``|w|`` picks its weights. Projection and snapshots use the
    exact masks of :func:`magnitude_masks`.
    """

    def __init__(self, criterion: str = "magnitude", refresh: int = 50) -> None:
        self.criterion, self.refresh = check_criterion(criterion), refresh
        self._scores: list[torch.Tensor] | None = None  # per layer, ascending
        self._flat: torch.Tensor | None = None
        self._age = 0

    def __call__(self, weights: list[torch.Tensor], sparsity: float) -> list[torch.Tensor] | None:
        """Boolean masks (True = pulled) per tensor, or None when nothing is pulled."""
        if self.criterion == "magnitude":
            flat = torch.cat([w.reshape(-1).abs() for w in weights])
            k = round(sparsity * flat.numel())
            if not k:
                return None
            threshold = torch.kthvalue(flat, k).values
            return [w.abs() <= threshold for w in weights]
        if self._scores is None or self._age >= self.refresh:
            self._scores = [_lamp_sorted(w)[0] for w in weights]
            self._flat, self._age = torch.cat(self._scores), 0
        self._age += 1
        k = round(sparsity * self._flat.numel())
        if not k:
            return None
        tau = torch.kthvalue(self._flat, k).values
        out = []
        for w, scores in zip(weights, self._scores, strict=True):
            n = int(torch.searchsorted(scores, tau, right=True))
            if n >= w.numel():
                out.append(torch.ones_like(w, dtype=torch.bool))
            elif n == 0:
                out.append(torch.zeros_like(w, dtype=torch.bool))
            else:
                out.append(w.abs() <= torch.kthvalue(w.abs().reshape(-1), n).values)
        return out


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
