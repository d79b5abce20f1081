"""The interface every ready search space implements, and the parts they share.

A search space knows four things: how to suggest a configuration on an Optuna
trial (define-by-run, conditional parameters allowed), how to build the torch
model of a configuration, how to train and evaluate it within a per-trial
budget, and which fixed probe set its networks are recorded on. ``objective``
strings them together, so a space is itself an Optuna objective::

    >>> import optuna
    >>> from search_spaces import get_space
    >>> space = get_space("digits", epochs=1)
    >>> study = optuna.create_study(direction="maximize")
    >>> study.optimize(space.objective, n_trials=1)  # doctest: +SKIP

Determinism: ``build`` seeds torch's generator with the space's ``seed`` before
creating the model, and training shuffles with a generator seeded the same way,
so on the CPU one configuration always gives the same trained weights
(PyTorch's CPU kernels used here are deterministic). GPU runs may differ in the
last bits.
"""

from __future__ import annotations

import abc
import functools
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import torch
from sklearn.model_selection import train_test_split
from timm.layers import get_act_layer, get_norm_layer
from timm.optim import create_optimizer_v2

from manifold_search._attrs import PRUNED_AT
from manifold_search._clamp import clamp_option
from manifold_search.refine.weights import DEFAULT_KEEP, keep_weights, parse_keep
from manifold_search.representations import Probe, check_recordable, record_network

#: Optimizers offered by the spaces, all created by timm's ``create_optimizer_v2``.
OPTIMIZERS = ("sgd", "adamw", "lion")
ACTIVATIONS = ("relu", "gelu", "silu", "tanh")


@dataclass(frozen=True)
class Splits:
    """Train/validation/test tensors of one data set, already on the CPU."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int


def stratified_split(
    x: np.ndarray, y: np.ndarray, size: int | float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split off ``size`` samples keeping class proportions (seeded)."""
    return train_test_split(x, y, test_size=size, random_state=seed, stratify=y)


def activation(name: str) -> torch.nn.Module:
    """An activation module from timm's layer registry."""
    return get_act_layer(name)()


def norm_1d(name: str, features: int, *, channels_first: bool) -> torch.nn.Module:
    """A normalisation layer from timm's registry, or Identity for ``"none"``.

    ``channels_first`` is True for conv feature maps (N, C, L), where layer norm
    is taken over channels and length (timm's ``groupnorm1``).
    """
    if name == "none":
        return torch.nn.Identity()
    if name == "layernorm" and channels_first:
        return get_norm_layer("groupnorm1")(features)
    return get_norm_layer(name)(features)


class MLP(torch.nn.Module):
    """Blocks of (linear, norm, activation, dropout) and a linear head; flattens its input."""

    def __init__(self, in_features: int, n_classes: int, depth: int, width: int, act: str,
                 norm: str, dropout: float) -> None:  # fmt: skip
        super().__init__()
        layers: list[torch.nn.Module] = [torch.nn.Flatten()]
        features = in_features
        for _ in range(depth):
            layers += [torch.nn.Linear(features, width), norm_1d(norm, width, channels_first=False)]
            layers += [activation(act), torch.nn.Dropout(dropout)]
            features = width
        self.body = torch.nn.Sequential(*layers)
        self.head = torch.nn.Linear(features, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class SearchSpace(abc.ABC):
    """Base class of the ready search spaces.

    Subclasses set ``name``, implement ``load_data``, ``suggest`` and ``build``;
    training, evaluation, probing and the objective are shared.

    Args:
        epochs: training epochs per trial (the per-trial budget).
        probe_size: number of validation inputs in the probe set (a value above the
            validation set's size uses all of it, with a warning naming both).
        seed: seeds data splits, the probe, weight initialisation and shuffling.
        max_seconds: optional wall-clock cap per trial; training stops after
            the epoch that crosses it (breaks bit-for-bit determinism, so off
            by default).
        num_threads: torch CPU threads while training; small networks train
            fastest on one thread.
        record: record each trained network on the probe set (for the
            manifold sampler).
        keep_weights: which trials keep their trained weights (safetensors in
            the study's artifact store, for export and sparsification):
            ``"all"``, ``"none"`` or K, the top K by objective (files of trials
            that drop out of the top K are removed). Only with ``record``.
    """

    name: str = "space"
    default_epochs: int = 10

    def __init__(
        self,
        epochs: int | None = None,
        probe_size: int = 256,
        seed: int = 0,
        max_seconds: float | None = None,
        num_threads: int | None = 1,
        record: bool = True,
        keep_weights: int | str = DEFAULT_KEEP,
    ) -> None:
        self.epochs = int(epochs if epochs is not None else self.default_epochs)
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {epochs}")
        if probe_size < 2:
            raise ValueError(f"probe_size must be at least 2, got {probe_size}")
        self.probe_size = int(probe_size)
        self.seed = int(seed)
        self.max_seconds = max_seconds
        self.num_threads = num_threads
        self.record = record
        parse_keep(keep_weights)  # fail early on a bad value
        self.keep_weights = keep_weights
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    # -- what each space defines ------------------------------------------------
    @abc.abstractmethod
    def load_data(self) -> Splits:
        """The space's data, split into train/validation/test."""

    @abc.abstractmethod
    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """Suggest a configuration on ``trial`` (define-by-run)."""

    @abc.abstractmethod
    def build(self, config: dict[str, Any]) -> torch.nn.Module:
        """The untrained model of ``config``."""

    # -- shared ------------------------------------------------------------------
    @functools.cached_property
    def data(self) -> Splits:
        return self.load_data()

    def probe(self) -> Probe:
        """A seeded, class-stratified subset of the validation inputs."""
        return self._probe

    @functools.cached_property
    def _probe(self) -> Probe:
        data = self.data
        n_val = len(data.y_val)
        index = np.arange(n_val)
        size = clamp_option("probe_size", self.probe_size, 2, n_val,
                            f"with the {n_val} validation inputs of {self.name}")  # fmt: skip
        if size < n_val:
            try:
                _, index, _, _ = stratified_split(index, data.y_val.numpy(), size, self.seed + 1)
            except ValueError:  # a class too rare to stratify (tiny validation sets)
                index = np.random.default_rng(self.seed + 1).choice(n_val, size, replace=False)
            index = np.sort(index)
        return Probe(data.x_val[index], data.y_val[index].numpy(), name=f"{self.name}-val")

    def seeded_build(self, config: dict[str, Any]) -> torch.nn.Module:
        """``build`` under a fixed torch seed, so initial weights are reproducible."""
        torch.manual_seed(self.seed)
        return self.build(config)

    def train_and_evaluate(
        self,
        model: torch.nn.Module,
        config: dict[str, Any],
        trial: optuna.Trial | None = None,
    ) -> dict[str, Any]:
        """Train ``model`` with the training hyperparameters in ``config``.

        Reports validation accuracy after each epoch to ``trial`` (so Optuna's
        pruners work) and raises ``optuna.TrialPruned`` when asked to prune.
        A run whose loss turns non-finite stops at once and is evaluated as is.
        Returns validation/test accuracy, seconds, epochs run and parameter count.
        """
        data = self.data
        previous_threads = torch.get_num_threads()
        if self.num_threads:
            torch.set_num_threads(self.num_threads)
        try:
            return self._train(model, config, data, trial)
        finally:
            torch.set_num_threads(previous_threads)

    def _train(self, model, config, data: Splits, trial) -> dict[str, Any]:
        model.to(self.device)
        optimizer = create_optimizer_v2(
            model,
            opt=config["optimizer"],
            lr=config["lr"],
            weight_decay=config["weight_decay"],
        )
        loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=config.get("label_smoothing", 0.0))
        generator = torch.Generator().manual_seed(self.seed)
        x_train, y_train = data.x_train.to(self.device), data.y_train.to(self.device)
        batch_size = int(config["batch_size"])
        start = time.perf_counter()
        diverged = False
        val_accuracy = 0.0
        epochs_run = 0
        for epoch in range(self.epochs):
            model.train()
            order = torch.randperm(len(y_train), generator=generator).to(self.device)
            for first in range(0, len(order), batch_size):
                batch = order[first : first + batch_size]
                if len(batch) < 2:  # BatchNorm cannot train on one sample
                    continue
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(model(x_train[batch]), y_train[batch])
                if not torch.isfinite(loss):
                    diverged = True
                    break
                loss.backward()
                optimizer.step()
            epochs_run = epoch + 1
            val_accuracy = self.accuracy(model, data.x_val, data.y_val)
            if trial is not None:
                trial.report(val_accuracy, epoch)
                if trial.should_prune():
                    pruned = optuna.TrialPruned(f"pruned after epoch {epoch + 1}")
                    pruned.epoch = epoch + 1  # type: ignore[attr-defined]
                    raise pruned
            if diverged:
                break
            if self.max_seconds is not None and time.perf_counter() - start > self.max_seconds:
                break
        return {
            "val_accuracy": val_accuracy,
            "test_accuracy": self.accuracy(model, data.x_test, data.y_test),
            "train_seconds": time.perf_counter() - start,
            "epochs_run": epochs_run,
            "diverged": diverged,
            "n_params": int(sum(p.numel() for p in model.parameters())),
        }

    @torch.no_grad()
    def accuracy(self, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
        """Classification accuracy in eval mode; NaN outputs count as wrong."""
        model.eval()
        correct = 0
        for first in range(0, len(y), 1024):
            logits = model(x[first : first + 1024].to(self.device))
            pred = torch.nan_to_num(logits, nan=-torch.inf).argmax(dim=1).cpu()
            correct += int((pred == y[first : first + 1024]).sum())
        return correct / len(y)

    def objective(self, trial: optuna.Trial, report: bool = True) -> float:
        """Suggest, build, train, record; return validation accuracy (maximise).

        Test accuracy, training seconds and parameter count are stored as the
        trial's user attributes. ``report=False`` trains without reporting
        per-epoch values (so no pruner can stop the trial). A trial a pruner
        stops still records the network it has at that moment (and the epoch, in
        ``manifold_search:pruned_at``) before ``TrialPruned`` propagates, so the
        manifold sampler places it: an under-trained network, scored by its last
        reported value.
        """
        config = self.suggest(trial)
        if self.record:
            check_recordable(trial, self.probe())  # a wrong probe or no store: fail before training
        model = self.seeded_build(config)
        try:
            metrics = self.train_and_evaluate(model, config, trial if report else None)
        except optuna.TrialPruned as pruned:
            if self.record:  # the sampler still learns where this network sits on the manifold
                record_network(trial, model, self.probe())
                trial.set_user_attr(PRUNED_AT, getattr(pruned, "epoch", None))
            raise
        for key in ("test_accuracy", "train_seconds", "n_params", "epochs_run", "diverged"):
            trial.set_user_attr(key, metrics[key])
        if self.record:
            record_network(trial, model, self.probe())
            keep_weights(trial, model, metrics["val_accuracy"], self.keep_weights,
                         metadata={"test_accuracy": metrics["test_accuracy"]})
        return metrics["val_accuracy"]

    __call__ = objective

    def suggest_training(self, trial: optuna.Trial) -> dict[str, Any]:
        """The training hyperparameters every space shares."""
        return {
            "optimizer": trial.suggest_categorical("optimizer", OPTIMIZERS),
            "lr": trial.suggest_float("lr", 1e-4, 3e-1, log=True),
            "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-1, log=True),
            "batch_size": trial.suggest_categorical("batch_size", (32, 64, 128, 256)),
            "label_smoothing": trial.suggest_float("label_smoothing", 0.0, 0.2),
        }
