"""Image classification on torchvision data sets: small CNNs and timm models.

Data sets by name: ``mnist``, ``fashionmnist``, ``cifar10`` (read from
``data_dir``; downloaded only with ``download=True``) and ``fakedata``
(torchvision's FakeData: random images, for tests and dry runs; nothing to
download). Training uses a seeded subset (``max_train``) so a trial fits a
CPU budget; ``val_size`` images of the training set are held out for
validation, and up to ``max_test`` test images give the test accuracy.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import optuna
import timm
import torch
import torchvision
from torch import nn

from search_spaces.base import ACTIVATIONS, SearchSpace, Splits, activation

DATASETS = {
    "mnist": ("MNIST", (1, 28, 28)),
    "fashionmnist": ("FashionMNIST", (1, 28, 28)),
    "cifar10": ("CIFAR10", (3, 32, 32)),
    "fakedata": ("FakeData", (3, 32, 32)),
}
TIMM_MODELS = ("resnet10t", "mobilenetv3_small_050")
DEFAULT_DATA_DIR = os.path.join("~", ".cache", "manifold_search", "data")


class SmallCNN(nn.Module):
    """Conv stages (two 3x3 convs each, channels doubling, 2x2 max-pool), global average pool."""

    def __init__(self, in_channels: int, n_classes: int, stages: int, channels: int,
                 act: str, batchnorm: bool, dropout: float):  # fmt: skip
        super().__init__()
        layers: list[nn.Module] = []
        for stage in range(stages):
            out = channels * 2**stage
            for conv in range(2):
                layers += [nn.Conv2d(in_channels if conv == 0 else out, out, 3, padding=1)]
                layers += [nn.BatchNorm2d(out) if batchnorm else nn.Identity(), activation(act)]
            layers += [nn.MaxPool2d(2)]
            in_channels = out
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout))
        self.head = nn.Linear(in_channels, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def _to_tensors(dataset, index: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = zip(*(dataset[int(i)] for i in index), strict=True)
    return torch.stack(images), torch.as_tensor(labels, dtype=torch.int64)


class ImageSpace(SearchSpace):
    """Families ``cnn`` (stages, channels, batch norm, activation) and ``timm`` (model name).

    Args:
        dataset: one of ``mnist``, ``fashionmnist``, ``cifar10``, ``fakedata``.
        data_dir: where torchvision finds (or, with ``download=True``, puts) the data.
        download: allow torchvision to download the data set (needs network).
        max_train, val_size, max_test: subset sizes (seeded).
    """

    name = "images"
    default_epochs = 3

    def __init__(self, *args: Any, dataset: str = "fakedata", data_dir: str = DEFAULT_DATA_DIR,
                 download: bool = False, max_train: int = 10000, val_size: int = 1000,
                 max_test: int = 2000, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        if dataset not in DATASETS:
            raise ValueError(f"unknown image data set '{dataset}'; choose one of {sorted(DATASETS)}")
        self.dataset = dataset
        self.data_dir = os.path.expanduser(data_dir)
        self.download = download
        self.max_train, self.val_size, self.max_test = max_train, val_size, max_test
        self.name = f"images-{dataset}"

    def _datasets(self):
        to_tensor = torchvision.transforms.ToTensor()
        class_name, shape = DATASETS[self.dataset]
        if self.dataset == "fakedata":
            n_train = self.max_train + self.val_size
            train = torchvision.datasets.FakeData(n_train, shape, 10, to_tensor, random_offset=self.seed)
            test = torchvision.datasets.FakeData(self.max_test, shape, 10, to_tensor, random_offset=self.seed + n_train)
            return train, test
        cls = getattr(torchvision.datasets, class_name)
        try:
            train = cls(self.data_dir, train=True, transform=to_tensor, download=self.download)
            test = cls(self.data_dir, train=False, transform=to_tensor, download=self.download)
        except RuntimeError as error:
            raise FileNotFoundError(
                f"{class_name} not found under {self.data_dir} ({error}); put the data there, "
                "set data_dir, or pass download=True where the network is reachable"
            ) from None
        return train, test

    def load_data(self) -> Splits:
        train, test = self._datasets()
        rng = np.random.default_rng(self.seed)
        order = rng.permutation(len(train))[: self.max_train + self.val_size]
        x_val, y_val = _to_tensors(train, order[: self.val_size])
        x_train, y_train = _to_tensors(train, order[self.val_size :])
        x_test, y_test = _to_tensors(test, rng.permutation(len(test))[: self.max_test])
        mean = x_train.mean(dim=(0, 2, 3), keepdim=True)
        std = x_train.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
        norm = lambda x: (x - mean) / std  # noqa: E731
        return Splits(norm(x_train), y_train, norm(x_val), y_val, norm(x_test), y_test, 10)

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        family = trial.suggest_categorical("family", ("cnn", "timm"))
        config: dict[str, Any] = {"family": family}
        if family == "cnn":
            config["stages"] = trial.suggest_int("cnn_stages", 1, 3)
            config["channels"] = trial.suggest_int("cnn_channels", 8, 64, log=True)
            config["batchnorm"] = trial.suggest_categorical("cnn_batchnorm", (False, True))
            config["activation"] = trial.suggest_categorical("activation", ACTIVATIONS)
            config["dropout"] = trial.suggest_float("dropout", 0.0, 0.5)
        else:
            config["model"] = trial.suggest_categorical("timm_model", TIMM_MODELS)
        config.update(self.suggest_training(trial))
        return config

    def build(self, config: dict[str, Any]) -> nn.Module:
        in_channels = DATASETS[self.dataset][1][0]
        if config["family"] == "cnn":
            return SmallCNN(in_channels, 10, config["stages"], config["channels"],
                            config["activation"], config["batchnorm"], config["dropout"])  # fmt: skip
        if config["family"] == "timm":
            return timm.create_model(config["model"], pretrained=False, num_classes=10, in_chans=in_channels)
        raise ValueError(f"unknown images family '{config['family']}'; choose cnn or timm")
