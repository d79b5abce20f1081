"""A discrete version of the ``digits`` space, small enough to train every point.

It backs the digits NAS table (``scripts/build_digits_table.py``), the second
recorded table: 720 configurations = (36 MLP + 24 CNN architectures) x 12
training setups (optimizer sgd/adamw x 6 learning rates), each trained once on
scikit-learn's 8x8 digits (offline, 1,257 training images).

Why this grid: it is meant to check that what was tuned on the MNIST-1D table
transfers, so it keeps the *kind* of decision (a family, then conditional
architecture parameters, then optimizer and learning rate) but changes the
data (2-D images, not 1-D sequences), the families (MLP and a 2-D CNN, no
recurrent family) and every numeric grid. The architecture axes span capacity
(16 to 256 hidden units, 4 to 32 channels), normalisation and activation --
the choices that change *what a network computes*, which is what the network
manifold sees -- and the training axes span underfitting (SGD at 1e-3 learns
little in 10 epochs) to instability (AdamW at 0.3), so the table has a wide
accuracy spread and a small top. 720 points keep the stored representations
(256 probe inputs x 32 PCA components, float16) under 15 MB.

Parameter names follow the live ``digits`` space (``family``, ``mlp_depth``,
``cnn_channels``, ``activation``, ``lr``, ...); numeric grids are suggested as
ordinal integer indexes ``<name>_index``, depths as integer ranges. Dropout 0,
weight decay 1e-4, batch size 64 and label smoothing 0 are fixed.
"""

from __future__ import annotations

import itertools
from typing import Any

import optuna

from search_spaces._grid import grid_key as grid_key  # the row key the recorded tables use
from search_spaces._grid import grid_rows, suggest_ordinal
from search_spaces.digits import DigitsSpace

MLP_DEPTHS, MLP_WIDTHS, MLP_NORMS = (1, 2, 3), (16, 64, 256), ("none", "batchnorm1d")
CNN_DEPTHS, CNN_CHANNELS, CNN_BATCHNORM = (1, 2), (4, 12, 32), (False, True)
ACTIVATIONS = ("relu", "tanh")
OPTIMIZERS = ("sgd", "adamw")
LEARNING_RATES = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3)
FAMILIES = ("mlp", "cnn")
FIXED = {"weight_decay": 1e-4, "batch_size": 64, "dropout": 0.0, "label_smoothing": 0.0}


def _architectures() -> list[dict[str, Any]]:
    archs: list[dict[str, Any]] = []
    for depth, width, norm, act in itertools.product(MLP_DEPTHS, MLP_WIDTHS, MLP_NORMS, ACTIVATIONS):
        archs.append({"family": "mlp", "mlp_depth": depth, "mlp_width": width, "mlp_norm": norm,
                      "activation": act})  # fmt: skip
    for depth, ch, bn, act in itertools.product(CNN_DEPTHS, CNN_CHANNELS, CNN_BATCHNORM, ACTIVATIONS):
        archs.append({"family": "cnn", "cnn_depth": depth, "cnn_channels": ch, "cnn_batchnorm": bn,
                      "activation": act})  # fmt: skip
    return archs


def all_params() -> list[dict[str, Any]]:
    """Every configuration of the grid, as parameter dicts (values, not indexes), in a fixed order."""
    return grid_rows(_architectures(), OPTIMIZERS, LEARNING_RATES)



#: Numeric grids are suggested as ordinal integer indexes ``<name>_index`` so every
#: sampler sees their order (as in the MNIST-1D grid).
ORDINAL = {"mlp_width": MLP_WIDTHS, "cnn_channels": CNN_CHANNELS, "lr": LEARNING_RATES}


def suggest_grid(trial: optuna.Trial) -> dict[str, Any]:
    """Suggest one grid configuration on ``trial``; returns the parameter dict (values, not indexes)."""

    def ordinal(name: str) -> Any:
        return suggest_ordinal(trial, name, ORDINAL[name])

    family = trial.suggest_categorical("family", FAMILIES)
    params: dict[str, Any] = {"family": family}
    if family == "mlp":
        params["mlp_depth"] = trial.suggest_int("mlp_depth", MLP_DEPTHS[0], MLP_DEPTHS[-1])
        params["mlp_width"] = ordinal("mlp_width")
        params["mlp_norm"] = trial.suggest_categorical("mlp_norm", MLP_NORMS)
    else:
        params["cnn_depth"] = trial.suggest_int("cnn_depth", CNN_DEPTHS[0], CNN_DEPTHS[-1])
        params["cnn_channels"] = ordinal("cnn_channels")
        params["cnn_batchnorm"] = trial.suggest_categorical("cnn_batchnorm", CNN_BATCHNORM)
    params["activation"] = trial.suggest_categorical("activation", ACTIVATIONS)
    params["optimizer"] = trial.suggest_categorical("optimizer", OPTIMIZERS)
    params["lr"] = ordinal("lr")
    return params


def to_config(params: dict[str, Any]) -> dict[str, Any]:
    """The live ``digits`` space's build/train config of a grid parameter dict."""
    family = params["family"]
    prefix = f"{family}_"
    config: dict[str, Any] = {"family": family, **FIXED, "activation": params["activation"],
                              "optimizer": params["optimizer"], "lr": params["lr"]}  # fmt: skip
    config.update({k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)})
    return config


class DigitsGridSpace(DigitsSpace):
    """The discrete grid as a live search space (trains for real, 10 epochs)."""

    name = "digits-grid"
    default_epochs = 10

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        return to_config(suggest_grid(trial))
