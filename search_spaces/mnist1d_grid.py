"""A discrete version of the ``mnist1d`` space, small enough to train every point.

It backs the MNIST-1D NAS table (``scripts/build_mnist1d_table.py``): 1,056
configurations = (36 MLP + 48 CNN + 4 GRU architectures) x 12 training setups
(optimizer sgd/adamw x 6 learning rates). Parameter names and meanings are the
live space's (``family``, ``mlp_depth``, ``cnn_kernel``, ``lr``, ...); the
numeric grids (widths, channels, kernels, learning rates) are suggested as
ordinal integer indexes ``<name>_index``, depths and GRU layers as integer ranges. Weight decay (1e-4), batch
size (128), dropout (0.1) and label smoothing (0) are fixed.
"""

from __future__ import annotations

import itertools
from typing import Any

import optuna

from search_spaces._grid import grid_key as grid_key  # the row key the recorded tables use
from search_spaces._grid import grid_rows, suggest_ordinal
from search_spaces.mnist1d import Mnist1DSpace

MLP_DEPTHS, MLP_WIDTHS = (1, 2, 3), (32, 128, 512)
CNN_DEPTHS, CNN_CHANNELS, CNN_KERNELS = (1, 2, 3), (8, 32), (3, 7)
NORMS = ("none", "batchnorm1d")
ACTIVATIONS = ("relu", "tanh")
GRU_HIDDEN, GRU_LAYERS = (16, 48), (1, 2)
OPTIMIZERS = ("sgd", "adamw")
LEARNING_RATES = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3)
FIXED = {"weight_decay": 1e-4, "batch_size": 128, "dropout": 0.1, "label_smoothing": 0.0}


def _architectures() -> list[dict[str, Any]]:
    archs: list[dict[str, Any]] = []
    for depth, width, norm, act in itertools.product(MLP_DEPTHS, MLP_WIDTHS, NORMS, ACTIVATIONS):
        archs.append({"family": "mlp", "mlp_depth": depth, "mlp_width": width, "mlp_norm": norm,
                      "activation": act})  # fmt: skip
    for depth, ch, kernel, norm, act in itertools.product(
        CNN_DEPTHS, CNN_CHANNELS, CNN_KERNELS, NORMS, ACTIVATIONS
    ):
        archs.append({"family": "cnn", "cnn_depth": depth, "cnn_channels": ch, "cnn_kernel": kernel,
                      "cnn_norm": norm, "activation": act})  # fmt: skip
    for hidden, layers in itertools.product(GRU_HIDDEN, GRU_LAYERS):
        archs.append({"family": "gru", "gru_hidden": hidden, "gru_layers": layers})
    return archs


def all_params() -> list[dict[str, Any]]:
    """Every configuration of the grid, as Optuna parameter dicts, in a fixed order."""
    return grid_rows(_architectures(), OPTIMIZERS, LEARNING_RATES)



#: Numeric grids are suggested as ordinal integer indexes ``<name>_index`` (as Optuna's
#: own wrappers of NAS-Bench-201/HPOBench do), so every sampler sees their order.
ORDINAL = {"mlp_width": MLP_WIDTHS, "cnn_channels": CNN_CHANNELS, "cnn_kernel": CNN_KERNELS,
           "gru_hidden": GRU_HIDDEN, "lr": LEARNING_RATES}  # fmt: skip


def suggest_grid(trial: optuna.Trial) -> dict[str, Any]:
    """Suggest one grid configuration on ``trial``; returns the parameter dict (values, not indexes)."""

    def ordinal(name: str) -> Any:
        return suggest_ordinal(trial, name, ORDINAL[name])

    family = trial.suggest_categorical("family", ("mlp", "cnn", "gru"))
    params: dict[str, Any] = {"family": family}
    if family == "mlp":
        params["mlp_depth"] = trial.suggest_int("mlp_depth", 1, 3)
        params["mlp_width"] = ordinal("mlp_width")
        params["mlp_norm"] = trial.suggest_categorical("mlp_norm", NORMS)
    elif family == "cnn":
        params["cnn_depth"] = trial.suggest_int("cnn_depth", 1, 3)
        params["cnn_channels"] = ordinal("cnn_channels")
        params["cnn_kernel"] = ordinal("cnn_kernel")
        params["cnn_norm"] = trial.suggest_categorical("cnn_norm", NORMS)
    else:
        params["gru_hidden"] = ordinal("gru_hidden")
        params["gru_layers"] = trial.suggest_int("gru_layers", 1, 2)
    if family != "gru":
        params["activation"] = trial.suggest_categorical("activation", ACTIVATIONS)
    params["optimizer"] = trial.suggest_categorical("optimizer", OPTIMIZERS)
    params["lr"] = ordinal("lr")
    return params


def to_config(params: dict[str, Any]) -> dict[str, Any]:
    """The live space's build/train config of a grid parameter dict."""
    family = params["family"]
    config: dict[str, Any] = {"family": family, **FIXED, "optimizer": params["optimizer"],
                              "lr": params["lr"]}  # fmt: skip
    if family == "gru":
        config.update(hidden=params["gru_hidden"], layers=params["gru_layers"])
    else:
        prefix = f"{family}_"
        config.update({k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)})
        config["activation"] = params["activation"]
    return config


class Mnist1DGridSpace(Mnist1DSpace):
    """The discrete grid as a live search space (trains for real, 15 epochs)."""

    name = "mnist1d-grid"
    default_epochs = 15

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        return to_config(suggest_grid(trial))
