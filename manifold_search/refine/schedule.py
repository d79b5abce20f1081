"""One run that passes through several target sparsities: its segments and its record.

Every method that trains or walks shares this shape, so they spend the same
number of gradient steps: the steps are split into one segment per target
(sorted ascending). Within a segment the sparsity rises from the previous
target to this one on the cubic schedule of gradual magnitude pruning
(Zhu & Gupta 2017: fast at first, slow near the target) over the first
``ramp`` share of its steps, then holds while the network settles; at the end
of the segment a masked copy is kept as that target's snapshot and the run
goes on from the unmasked state.

Steps are shared between segments in proportion to ``log((1 - s_prev) / (1 -
s))``: the log of how much the number of surviving weights shrinks. From 0 to
50% that is log 2, from 90% to 95% also log 2: halving the surviving weights
is as hard at the end as at the start, measured in steps.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from manifold_search.refine.masks import Masks, apply_masks, magnitude_masks, prunable

#: The methods of :func:`~manifold_search.refine.sparsify.sparsify`: the walk and three baselines.
METHODS = ("fip", "magnitude", "imp", "gmp")
#: Gradient steps per method and network (docs/sparsify.md measures this budget).
DEFAULT_STEPS = 8000


def check_targets(targets: Sequence[float] | float) -> list[float]:
    values = [float(targets)] if isinstance(targets, int | float) else [float(t) for t in targets]
    if not values or any(not 0.0 < t < 1.0 for t in values):
        raise ValueError(f"target sparsities {values}: give values strictly between 0 and 1, e.g. 0.5,0.9")
    return sorted(set(values))


@dataclass(frozen=True)
class Segment:
    start: int
    end: int  # exclusive; the snapshot is taken after step end - 1
    s_from: float
    s_to: float
    ramp_steps: int

    def sparsity(self, step: int) -> float:
        """Cubic rise from ``s_from`` to ``s_to`` over the ramp, then flat."""
        if self.ramp_steps <= 0:
            return self.s_to
        progress = min(1.0, (step - self.start + 1) / self.ramp_steps)
        return self.s_to + (self.s_from - self.s_to) * (1.0 - progress) ** 3


def segments(targets: Sequence[float], steps: int, ramp: float = 0.75) -> list[Segment]:
    """Split ``steps`` into one segment per target (see the module docstring)."""
    targets = check_targets(targets)
    if steps < len(targets):
        raise ValueError(f"steps = {steps}: give at least one step per target ({len(targets)})")
    if not 0.0 <= ramp <= 1.0:
        raise ValueError(f"ramp = {ramp}: give the share of a segment's steps (0 to 1) spent raising the sparsity")
    weights, previous = [], 0.0
    for t in targets:
        weights.append(math.log((1.0 - previous) / (1.0 - t)))
        previous = t
    bounds = [round(steps * sum(weights[: i + 1]) / sum(weights)) for i in range(len(targets))]
    out, start, previous = [], 0, 0.0
    for t, end in zip(targets, bounds, strict=True):
        end = max(end, start + 1)
        out.append(Segment(start, end, previous, t, round(ramp * (end - start))))
        start, previous = end, t
    return out


@dataclass
class SparsifyResult:
    """Sparse networks at each target and the record of how the run got there.

    ``models[s]`` is a masked copy (exact zeros) in eval mode, ``masks[s]`` its
    masks (True = kept). ``path`` holds per-step lists (``step``, ``sparsity``,
    ``divergence`` on the step's batch, ``loss``) and per-evaluation lists
    (``eval_step``, ``eval_sparsity``, ``val_accuracy``, ``val_divergence``,
    ``distance`` to the original on the probe set). ``seconds[s]`` is the wall
    time from the start of the run to that snapshot, ``cpu_seconds[s]`` the
    process CPU time (the honest figure on a shared machine).
    """

    method: str
    targets: list[float]
    steps: int
    models: dict[float, torch.nn.Module] = field(default_factory=dict)
    masks: dict[float, Masks] = field(default_factory=dict)
    seconds: dict[float, float] = field(default_factory=dict)
    cpu_seconds: dict[float, float] = field(default_factory=dict)
    snapshot_metrics: dict[float, dict[str, float]] = field(default_factory=dict)
    path: dict[str, list[float]] = field(default_factory=dict)
    settings: dict[str, object] = field(default_factory=dict)

    def log(self, **values: float) -> None:
        for key, value in values.items():
            self.path.setdefault(key, []).append(float(value))


class Recorder:
    """Takes snapshots and evaluations of a run into a :class:`SparsifyResult`."""

    def __init__(self, result: SparsifyResult, evaluator, eval_every: int, criterion: str = "magnitude") -> None:
        self.result = result
        self.criterion = criterion
        self.evaluator = evaluator
        if int(eval_every) < 1:
            raise ValueError(f"eval_every must be at least 1, got {eval_every}")
        self.eval_every = int(eval_every)
        self.start = time.perf_counter()
        self.cpu_start = time.process_time()

    def maybe_evaluate(self, step: int, model: torch.nn.Module, sparsity: float) -> None:
        if (step + 1) % self.eval_every == 0:
            sparse = masked_model(model, sparsity, self.criterion)[0]
            self.result.log(eval_step=step + 1, eval_sparsity=sparsity, **self.evaluator.measure(sparse))

    def snapshot(self, model: torch.nn.Module, target: float) -> None:
        sparse, masks = masked_model(model, target, self.criterion)
        self.result.models[target] = sparse
        self.result.masks[target] = masks
        self.result.seconds[target] = time.perf_counter() - self.start
        self.result.cpu_seconds[target] = time.process_time() - self.cpu_start
        self.result.snapshot_metrics[target] = self.evaluator.measure(sparse)


def masked_model(model: torch.nn.Module, sparsity: float, criterion: str = "magnitude"
                 ) -> tuple[torch.nn.Module, Masks]:  # fmt: skip
    """An eval-mode copy of ``model`` pruned to exactly ``sparsity`` by the global ``criterion``."""
    sparse = copy.deepcopy(model).eval()
    masks = magnitude_masks({n: p.detach() for n, p in prunable(sparse).items()}, sparsity, criterion)
    return apply_masks(sparse, masks), masks
