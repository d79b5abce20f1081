"""The pruning baselines the walk is measured against, in the walk's own API.

- ``magnitude``: one-shot global magnitude pruning of the original, no training.
- ``imp``: iterative magnitude pruning with fine-tuning on labels, through
  ``torch.nn.utils.prune`` (global L1 pruning; masks as forward pre-hooks):
  each segment of :mod:`.schedule` is split into ``rounds`` that each remove a
  constant share of the surviving weights and then fine-tune.
- ``gmp``: gradual magnitude pruning with fine-tuning (Zhu & Gupta 2017): the
  cubic schedule of the walk, the mask recomputed every ``update_every`` steps
  and applied at once (pruned weights stay at zero), fine-tuning throughout.

The two that train spend the walk's ``steps`` budget in Adam steps on labelled
batches of the same size, and keep a snapshot at each target like the walk.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch.nn import functional as F
from torch.nn.utils import prune
from tqdm.auto import tqdm

from manifold_search.refine.data import Evaluator, SparsifyData
from manifold_search.refine.masks import apply_masks, magnitude_masks, prunable
from manifold_search.refine.schedule import (
    DEFAULT_STEPS,
    Recorder,
    SparsifyResult,
    check_targets,
    masked_model,
    segments,
)


def run(method: str, model: torch.nn.Module, data: SparsifyData, targets: Sequence[float] | float,
        **options: Any) -> SparsifyResult:  # fmt: skip
    """Dispatch of :func:`manifold_search.refine.sparsify.sparsify` to a baseline."""
    if method == "magnitude":
        return one_shot(model, data, targets, **options)
    if method != "magnitude" and data.y_train is None:
        raise ValueError(f"method {method!r} fine-tunes on labels: give SparsifyData(y_train=...)")
    return {"imp": iterative, "gmp": gradual}[method](model, data, targets, **options)


def one_shot(model: torch.nn.Module, data: SparsifyData, targets: Sequence[float] | float,
             *, criterion: str = "magnitude", seed: int = 0, progress: bool = False,
             **_ignored: Any) -> SparsifyResult:  # fmt: skip
    """Global magnitude (or LAMP, :mod:`.masks`) pruning of the original to each target, no training."""
    targets = check_targets(targets)
    result = SparsifyResult("magnitude", targets, 0, settings={"steps": 0, "criterion": criterion})
    recorder = Recorder(result, Evaluator(model, data), eval_every=1, criterion=criterion)
    for target in targets:
        recorder.snapshot(model, target)
    return result


def _batches(data: SparsifyData, batch_size: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    while True:
        index = torch.randint(0, len(data.x_train), (batch_size,), generator=generator)
        yield data.x_train[index], data.y_train[index]


def _finetune_step(work, optimizer, batch) -> float:
    x, y = batch
    work.train()
    optimizer.zero_grad(set_to_none=True)
    loss = F.cross_entropy(work(x), y)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def _setup(method: str, model, data, targets, steps, settings):
    targets = check_targets(targets)
    result = SparsifyResult(method, targets, steps, settings={"steps": steps, **settings})
    work = copy.deepcopy(model)
    return targets, result, work, Recorder(result, Evaluator(model, data), settings["eval_every"])


def _pruned_copy(work: torch.nn.Module, template: torch.nn.Module) -> tuple[torch.nn.Module, dict[str, torch.Tensor]]:
    """An eval-mode copy of ``template`` holding ``work``'s weights with
    ``torch.nn.utils.prune``'s masks made permanent (a pruned module cannot be
    deep-copied: its ``weight`` is computed), and the masks."""
    state, masks, current = {}, {}, work.state_dict()
    for key, value in current.items():
        if key.endswith("_mask"):
            masks[key[: -len("_mask")]] = value.bool()
        elif key.endswith("_orig"):
            name = key[: -len("_orig")]
            state[name] = value * current[name + "_mask"]
        else:
            state[key] = value
    sparse = copy.deepcopy(template).eval()
    sparse.load_state_dict(state)
    return sparse, masks


def iterative(model: torch.nn.Module, data: SparsifyData, targets: Sequence[float] | float, *,
              steps: int = DEFAULT_STEPS, rounds: int = 3, lr: float = 1e-3, batch_size: int = 256,
              eval_every: int = 500, seed: int = 0, progress: bool = True, **_ignored: Any) -> SparsifyResult:  # fmt: skip
    """Iterative magnitude pruning with Adam fine-tuning, ``rounds`` per target segment."""
    if rounds < 1:
        raise ValueError(f"rounds = {rounds}: give at least one pruning round per target")
    settings = {"rounds": rounds, "lr": lr, "batch_size": batch_size, "eval_every": eval_every, "seed": seed}
    targets, result, work, recorder = _setup("imp", model, data, targets, steps, settings)
    named = prunable(work)
    modules = dict(work.named_modules())
    pairs = [(modules[n.rpartition(".")[0]], n.rpartition(".")[2]) for n in named]
    total = sum(p.numel() for p in named.values())
    optimizer = torch.optim.Adam(work.parameters(), lr=lr)
    batches = _batches(data, batch_size, seed)
    pruned_now, bar = 0, tqdm(total=steps, desc="imp", disable=not progress, leave=False)
    for segment in segments(targets, steps, ramp=1.0):
        length = segment.end - segment.start
        for r in range(rounds):
            density = (1 - segment.s_from) * ((1 - segment.s_to) / (1 - segment.s_from)) ** ((r + 1) / rounds)
            goal = round((1 - density) * total)
            prune.global_unstructured(pairs, pruning_method=prune.L1Unstructured, amount=goal - pruned_now)
            pruned_now = goal
            optimizer = torch.optim.Adam(work.parameters(), lr=lr)  # parameters changed identity
            first, last = segment.start + length * r // rounds, segment.start + length * (r + 1) // rounds
            for step in range(first, last):
                result.log(step=step + 1, sparsity=goal / total, loss=_finetune_step(work, optimizer, next(batches)))
                if (step + 1) % recorder.eval_every == 0:
                    result.log(eval_step=step + 1, eval_sparsity=goal / total,
                               **recorder.evaluator.measure(_pruned_copy(work, model)[0]))  # fmt: skip
                bar.update(1)
        sparse, masks = _pruned_copy(work, model)
        recorder.snapshot(sparse, segment.s_to)  # already exactly at the target: the mask is unchanged
        result.masks[segment.s_to] = masks
    bar.close()
    return result


def gradual(model: torch.nn.Module, data: SparsifyData, targets: Sequence[float] | float, *,
            steps: int = DEFAULT_STEPS, update_every: int = 50, lr: float = 1e-3, batch_size: int = 256,
            ramp: float = 0.75, eval_every: int = 500, seed: int = 0, progress: bool = True,
            **_ignored: Any) -> SparsifyResult:  # fmt: skip
    """Gradual magnitude pruning (cubic schedule, mask every ``update_every`` steps) with fine-tuning."""
    settings = {"update_every": update_every, "lr": lr, "batch_size": batch_size, "ramp": ramp,
                "eval_every": eval_every, "seed": seed}  # fmt: skip
    targets, result, work, recorder = _setup("gmp", model, data, targets, steps, settings)
    optimizer = torch.optim.Adam(work.parameters(), lr=lr)
    batches = _batches(data, batch_size, seed)
    masks, bar = None, tqdm(total=steps, desc="gmp", disable=not progress, leave=False)
    for segment in segments(targets, steps, ramp):
        for step in range(segment.start, segment.end):
            s = segment.sparsity(step)
            if masks is None or (step - segment.start) % update_every == 0 or step == segment.end - 1:
                masks = magnitude_masks({n: p.detach() for n, p in prunable(work).items()}, s)
                apply_masks(work, masks)
            result.log(step=step + 1, sparsity=s, loss=_finetune_step(work, optimizer, next(batches)))
            apply_masks(work, masks)  # Adam's momentum must not revive pruned weights
            if (step + 1) % recorder.eval_every == 0:
                result.log(eval_step=step + 1, eval_sparsity=s, **recorder.evaluator.measure(masked_model(work, s)[0]))
            bar.update(1)
        recorder.snapshot(work.eval(), segment.s_to)
    bar.close()
    return result
