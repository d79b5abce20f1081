"""Sparsify a trained network along a functionally invariant path (Raghavan & Thomson).

Weight space has a metric that measures how far the network's *outputs* move;
a functionally invariant path takes small steps that keep the outputs where
they were while following a second objective. For sparsification the second
objective is ``1/2 ||w - w_masked||^2``, where ``w_masked`` is the current
weights after global pruning to the current target (ranked by LAMP scores,
the layer-normalised magnitudes of :mod:`.masks`, by default; the papers'
plain magnitude is ``criterion="magnitude"``). As in the
papers' public code the metric is never formed: each step goes along

    grad_w D(f_w(x), f_w0(x)) + pull * (w - w_masked),

normalised to length ``step_length``, where ``D`` is the Bhattacharyya distance
between the softmax outputs of the walking network and the frozen original on
a batch of *unlabeled* training inputs (``kl`` is an option; labels can be
added with ``label_weight``). The mask is recomputed every step (LAMP's
per-layer budgets every 50).

What makes it work on small networks (measured, docs/sparsify.md): the target
sparsity rises gradually on a cubic schedule instead of jumping to the full
target, the path is long (thousands of steps of length 0.02 with pull 0.1),
at each target the mask is applied and the walk settles inside it, and
weights are ranked per layer (LAMP) so a small layer is not emptied. One walk passes through all targets and keeps a masked snapshot at
each (:mod:`.schedule`). Runs on the CPU, deterministic for a ``seed``.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from manifold_search.refine.data import Evaluator, SparsifyData, divergence, log_probs
from manifold_search.refine.masks import (
    DEFAULT_CRITERION,
    PullTargets,
    apply_masks,
    check_criterion,
    magnitude_masks,
    prunable,
)
from manifold_search.refine.schedule import (
    DEFAULT_STEPS,
    METHODS,
    Recorder,
    SparsifyResult,
    check_targets,
    segments,
)

#: Measured defaults of the walk (docs/sparsify.md).
DEFAULT_STEP_LENGTH = 0.02
DEFAULT_PULL = 0.1


def sparsify(
    model: torch.nn.Module,
    data: SparsifyData,
    targets: Sequence[float] | float = (0.5, 0.8, 0.9, 0.95),
    method: str = "fip",
    **options: Any,
) -> SparsifyResult:
    """Sparsify ``model`` to each target sparsity with ``method``; the original is not changed.

    ``fip`` (default): the label-free functionally invariant walk (options of
    :func:`fip_walk`). Baselines (options in :mod:`.baselines`): ``magnitude``
    (one-shot global magnitude pruning, no training), ``imp`` (iterative
    magnitude pruning with fine-tuning on labels, ``torch.nn.utils.prune``),
    ``gmp`` (gradual magnitude pruning with fine-tuning, Zhu & Gupta). Methods
    that train take the same ``steps`` budget as the walk.
    """
    if method == "fip":
        return fip_walk(model, data, targets, **options)
    if method in METHODS:
        from manifold_search.refine import baselines

        return baselines.run(method, model, data, targets, **options)
    raise ValueError(f"method {method!r}: choose one of {', '.join(METHODS)}")


def _walk_step(work, params, prunable_ids, x, log_q, y, s, settings, fixed=None) -> float:
    """One normalised step; returns the batch divergence before the step.

    ``fixed`` (``{id(param): mask}``): the settle phase of ``settle="project"``,
    a step along the divergence gradient inside the masked subspace, no pull.
    """
    log_p = F.log_softmax(work(x), dim=1)
    loss = divergence(log_p, log_q, settings["divergence"])
    value = float(loss.detach())
    if settings["label_weight"]:
        loss = loss + settings["label_weight"] * F.nll_loss(log_p, y)
    grads = torch.autograd.grad(loss, params)
    with torch.no_grad():
        pulled = None
        if fixed is None:
            weights = [p for p in params if id(p) in prunable_ids]
            masks = settings["targets"](weights, s)
            pulled = None if masks is None else dict(zip(map(id, weights), masks, strict=True))
        directions = []
        for p, g in zip(params, grads, strict=True):
            if fixed is not None and id(p) in fixed:
                g = g * fixed[id(p)]
            elif pulled is not None and id(p) in pulled:
                g = g + settings["pull"] * p * pulled[id(p)]
            directions.append(g)
        norm = torch.sqrt(sum((d * d).sum() for d in directions))
        if norm > 0:
            scale = settings["step_length"] / norm
            for p, d in zip(params, directions, strict=True):
                p.sub_(scale * d)
    return value


def _project(work: torch.nn.Module, sparsity: float, criterion: str) -> dict[int, torch.Tensor]:
    """Apply the exact global mask in place; ``{id(param): float mask}``."""
    weights = prunable(work)
    masks = magnitude_masks({n: p.detach() for n, p in weights.items()}, sparsity, criterion)
    apply_masks(work, masks)
    return {id(weights[n]): m.to(weights[n].dtype) for n, m in masks.items()}


def fip_walk(
    model: torch.nn.Module,
    data: SparsifyData,
    targets: Sequence[float] | float = (0.5, 0.8, 0.9, 0.95),
    *,
    steps: int = DEFAULT_STEPS,
    step_length: float = DEFAULT_STEP_LENGTH,
    pull: float = DEFAULT_PULL,
    divergence: str = "bhattacharyya",
    label_weight: float = 0.0,
    batch_size: int = 256,
    ramp: float = 0.75,
    settle: str = "project",
    criterion: str = DEFAULT_CRITERION,
    eval_every: int = 500,
    seed: int = 0,
    progress: bool = True,
) -> SparsifyResult:
    """Walk ``steps`` normalised steps through all targets; a masked snapshot at each.

    ``label_weight > 0`` adds the cross-entropy on ``data.y_train`` (the
    default is the label-free walk of the papers). ``settle`` is what the
    last ``1 - ramp`` share of each segment does at the target: ``"pull"``
    keeps walking with the pull (the papers' walk, mask applied at the end);
    ``"project"`` applies the mask and walks on along the output divergence
    inside the sparse subspace (still label-free), which recovers the function
    the pull could not keep (docs/sparsify.md). ``criterion`` ranks the weights
    across layers for the pull and the mask (:mod:`.masks`: ``"magnitude"`` or
    ``"lamp"``).
    """
    if settle not in ("pull", "project"):
        raise ValueError(f"settle = {settle!r}: choose 'project' or 'pull'")
    check_criterion(criterion)
    targets = check_targets(targets)
    if step_length <= 0 or pull < 0 or label_weight < 0 or batch_size < 1:
        raise ValueError("step_length and batch_size must be positive, pull and label_weight non-negative")
    if label_weight and data.y_train is None:
        raise ValueError("label_weight > 0 needs labels: give SparsifyData(y_train=...)")
    plan = segments(targets, steps, ramp)
    settings = {"steps": steps, "step_length": step_length, "pull": pull, "divergence": divergence,
                "label_weight": label_weight, "batch_size": batch_size, "ramp": ramp, "settle": settle, "criterion": criterion, "seed": seed}  # fmt: skip
    result = SparsifyResult("fip", targets, steps, settings=settings)
    step_settings = {**settings, "targets": PullTargets(criterion)}
    evaluator = Evaluator(model, data, divergence)
    work = copy.deepcopy(model).eval()
    params = [p for p in work.parameters()]
    for p in params:
        p.requires_grad_(True)
    prunable_ids = {id(p) for p in prunable(work).values()}
    log_q_all = log_probs(model.eval(), data.x_train)
    generator = torch.Generator().manual_seed(seed)
    recorder = Recorder(result, evaluator, eval_every, criterion)
    bar = tqdm(total=steps, desc="fip walk", disable=not progress, leave=False)
    for segment in plan:
        fixed = None
        for step in range(segment.start, segment.end):
            s = segment.sparsity(step)
            if settle == "project" and fixed is None and step >= segment.start + segment.ramp_steps:
                fixed = _project(work, s, criterion)
            index = torch.randint(0, len(data.x_train), (batch_size,), generator=generator)
            y = data.y_train[index] if label_weight else None
            d = _walk_step(work, params, prunable_ids, data.x_train[index], log_q_all[index], y, s,
                           step_settings, fixed)  # fmt: skip
            result.log(step=step + 1, sparsity=s, divergence=d)
            recorder.maybe_evaluate(step, work, s)
            bar.update(1)
        recorder.snapshot(work, segment.s_to)
        bar.set_postfix(sparsity=segment.s_to, acc=result.snapshot_metrics[segment.s_to]["val_accuracy"])
    bar.close()
    return result
