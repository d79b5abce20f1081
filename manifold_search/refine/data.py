"""What a sparsification run sees: unlabeled walk inputs, a validation set, the probe.

The functional walk needs only *inputs* (the original network labels them by
its own outputs); labels are used by the baselines' fine-tuning and by the
walk's optional label term. :class:`Evaluator` measures a candidate sparse
network the same way for every method: validation accuracy, output
divergence from the original on held-out inputs, and the network distance to
the original on the study's probe set (the project's diffusion distance).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from manifold_search.geometry import diffusion_operator, network_distance
from manifold_search.representations import Probe, capture_representations


@dataclass(frozen=True)
class SparsifyData:
    """Inputs for the walk (``x_train``), held-out data, and the probe set."""

    x_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    y_train: torch.Tensor | None = None
    probe: Probe | None = None

    @classmethod
    def from_space(cls, space: Any) -> SparsifyData:
        """The space's training inputs (labels kept for the baselines), validation set and probe."""
        data = space.data
        return cls(data.x_train, data.x_val, data.y_val, data.y_train, space.probe())


def log_probs(model: torch.nn.Module, x: torch.Tensor, batch: int = 1024) -> torch.Tensor:
    """Log-softmax outputs of ``model`` in eval mode (no gradient)."""
    with torch.no_grad():
        return torch.cat([F.log_softmax(model(x[i : i + batch]), dim=1) for i in range(0, len(x), batch)])


def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Classification accuracy in eval mode on the CPU (NaN outputs count as wrong)."""
    log_p = torch.nan_to_num(log_probs(model.eval(), x), nan=-torch.inf)
    return float((log_p.argmax(dim=1) == y).float().mean())


def divergence(log_p: torch.Tensor, log_q: torch.Tensor, kind: str = "bhattacharyya") -> torch.Tensor:
    """Mean output divergence of current ``log_p`` from original ``log_q`` (per input, averaged).

    ``bhattacharyya``: ``-log sum_k sqrt(p_k q_k)`` (the papers' public code);
    ``kl``: ``KL(q || p)``, the original's outputs as the reference.
    """
    if kind == "bhattacharyya":
        coefficient = torch.exp(0.5 * (log_p + log_q)).sum(dim=1)
        return -torch.log(coefficient.clamp_min(1e-12)).mean()
    if kind == "kl":
        return (log_q.exp() * (log_q - log_p)).sum(dim=1).mean()
    raise ValueError(f"divergence {kind!r}: choose 'bhattacharyya' or 'kl'")


class Evaluator:
    """Measures sparse candidates against the original network (same for every method)."""

    def __init__(self, original: torch.nn.Module, data: SparsifyData, kind: str = "bhattacharyya") -> None:
        self.data = data
        self.kind = kind
        self.val_log_q = log_probs(original.eval(), data.x_val)
        self.operator = self._operator(original)

    def _operator(self, model: torch.nn.Module) -> np.ndarray | None:
        if self.data.probe is None:
            return None
        representation = capture_representations(model, self.data.probe)["penultimate"]
        return diffusion_operator(np.nan_to_num(representation.astype(np.float64)))

    def accuracy(self, model: torch.nn.Module) -> float:
        log_p = log_probs(model.eval(), self.data.x_val)
        return float((log_p.argmax(dim=1) == self.data.y_val).float().mean())

    def measure(self, model: torch.nn.Module) -> dict[str, float]:
        """``val_accuracy``, ``val_divergence`` and ``distance`` (NaN without a probe)."""
        log_p = log_probs(model.eval(), self.data.x_val)
        out = {
            "val_accuracy": float((log_p.argmax(dim=1) == self.data.y_val).float().mean()),
            "val_divergence": float(divergence(log_p, self.val_log_q, self.kind)),
            "distance": float("nan"),
        }
        if self.operator is not None:
            out["distance"] = network_distance(self.operator, self._operator(model))
        return out
