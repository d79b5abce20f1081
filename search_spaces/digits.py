"""scikit-learn's bundled 8x8 digits: MLP and small 2-D CNN families.

1,797 images ship with scikit-learn, so this space works offline and trains in
a fraction of a second: a quick space for tests and demonstrations. Split
(seeded, stratified): 1,257 train, 270 validation, 270 test.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
import torch
from sklearn.datasets import load_digits
from torch import nn

from search_spaces.base import (
    ACTIVATIONS,
    MLP,
    SearchSpace,
    Splits,
    activation,
    stratified_split,
)

N_CLASSES = 10


class DigitsCNN(nn.Module):
    """One or two 3x3 conv blocks (conv, optional batch norm, activation, 2x2 max-pool)."""

    def __init__(self, depth: int, channels: int, act: str, batchnorm: bool, dropout: float):
        super().__init__()
        layers: list[nn.Module] = []
        in_channels, size = 1, 8
        for _ in range(depth):
            layers += [nn.Conv2d(in_channels, channels, 3, padding=1)]
            layers += [nn.BatchNorm2d(channels) if batchnorm else nn.Identity(), activation(act)]
            layers += [nn.MaxPool2d(2)]
            in_channels, size = channels, size // 2
        self.body = nn.Sequential(*layers, nn.Flatten(), nn.Dropout(dropout))
        self.head = nn.Linear(channels * size * size, N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class DigitsSpace(SearchSpace):
    """Families ``mlp`` (depth, width, norm) and ``cnn`` (depth, channels, batch norm)."""

    name = "digits"
    default_epochs = 10

    def load_data(self) -> Splits:
        digits = load_digits()
        x = (digits.images / 16.0).astype(np.float32)[:, None]  # N x 1 x 8 x 8
        y = digits.target.astype(np.int64)
        x_rest, x_test, y_rest, y_test = stratified_split(x, y, 270, self.seed)
        x_train, x_val, y_train, y_val = stratified_split(x_rest, y_rest, 270, self.seed)
        t = torch.from_numpy
        return Splits(t(x_train), t(y_train), t(x_val), t(y_val), t(x_test), t(y_test), N_CLASSES)

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        family = trial.suggest_categorical("family", ("mlp", "cnn"))
        config: dict[str, Any] = {"family": family}
        if family == "mlp":
            config["depth"] = trial.suggest_int("mlp_depth", 1, 3)
            config["width"] = trial.suggest_int("mlp_width", 16, 256, log=True)
            config["norm"] = trial.suggest_categorical("mlp_norm", ("none", "batchnorm1d", "layernorm"))
        else:
            config["depth"] = trial.suggest_int("cnn_depth", 1, 2)
            config["channels"] = trial.suggest_int("cnn_channels", 4, 32, log=True)
            config["batchnorm"] = trial.suggest_categorical("cnn_batchnorm", (False, True))
        config["activation"] = trial.suggest_categorical("activation", ACTIVATIONS)
        config["dropout"] = trial.suggest_float("dropout", 0.0, 0.5)
        config.update(self.suggest_training(trial))
        return config

    def build(self, config: dict[str, Any]) -> nn.Module:
        if config["family"] == "mlp":
            return MLP(64, N_CLASSES, config["depth"], config["width"], config["activation"],
                       config["norm"], config["dropout"])  # fmt: skip
        if config["family"] == "cnn":
            return DigitsCNN(config["depth"], config["channels"], config["activation"], config["batchnorm"], config["dropout"])
        raise ValueError(f"unknown digits family '{config['family']}'; choose mlp or cnn")
