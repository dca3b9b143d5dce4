"""The downstream classifier factory: one place that says what "a classifier" is.

Used by the gate's utility and TSTR figures (metrics.py), the downstream comparison
(downstream.py), the CLI and the benchmarks, so a figure named the same means the same
model everywhere.

- random_forest: 300 trees, all cores.
- hist_gradient_boosting: scikit-learn defaults.
- cnn: a small two-conv-layer network for images (`SmallCNN`).

`utility_classifier` is the classifier of the gate's utility check and of TSTR:
HistGradientBoosting on encoded tables, the forest on flattened pixels.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

from augment.errors import ConfigError

Classifier = Literal["random_forest", "hist_gradient_boosting", "cnn"]


class SmallCNN:
    """A two-conv-layer image classifier with a scikit-learn-like fit / predict.

    Input: flat pixels [N, C*H*W] plus the image shape; scaled by the training max.
    """

    def __init__(self, shape: tuple[int, ...], seed: int = 0, epochs: int = 30,
                 batch_size: int = 64, lr: float = 2e-3) -> None:
        self.shape = shape if len(shape) == 3 else (1, *shape)
        self.seed, self.epochs, self.batch_size, self.lr = seed, epochs, batch_size, lr

    def _net(self, n_classes: int):
        from torch import nn

        c = self.shape[0]
        return nn.Sequential(
            nn.Conv2d(c, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Dropout(0.25), nn.Linear(64 * 16, n_classes))

    def fit(self, X: np.ndarray, y: np.ndarray) -> SmallCNN:
        import torch

        self.classes_, index = np.unique(y, return_inverse=True)
        self.scale_ = float(np.max(X)) or 1.0
        images = torch.from_numpy((X / self.scale_).astype(np.float32)).reshape(-1, *self.shape)
        labels = torch.from_numpy(index.astype(np.int64))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.net_ = self._net(len(self.classes_))
            optimizer = torch.optim.Adam(self.net_.parameters(), lr=self.lr)
            rng = torch.Generator().manual_seed(self.seed)
            self.net_.train()
            for _ in range(self.epochs):
                order = torch.randperm(len(labels), generator=rng)
                for begin in range(0, len(order), self.batch_size):
                    idx = order[begin : begin + self.batch_size]
                    batch, batch_labels = images.index_select(0, idx), labels.index_select(0, idx)
                    loss = torch.nn.functional.cross_entropy(self.net_(batch), batch_labels)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
        self.net_.eval()
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        import torch

        images = torch.from_numpy((X / self.scale_).astype(np.float32)).reshape(-1, *self.shape)
        with torch.no_grad():
            return self.classes_[self.net_(images).argmax(dim=1).numpy()]


CLASSIFIERS: tuple[str, ...] = get_args(Classifier)


def make_classifier(name: Classifier, seed: int, shape: tuple[int, ...] | None = None):
    """An unfitted classifier `name` with a fit / predict interface; `shape`: image shape (cnn)."""
    if name == "cnn":
        if shape is None:
            raise ValueError("the cnn classifier needs the image shape")
        return SmallCNN(shape, seed=seed)
    if name == "random_forest":
        return RandomForestClassifier(n_estimators=300, n_jobs=-1, random_state=seed)
    if name == "hist_gradient_boosting":
        return HistGradientBoostingClassifier(random_state=seed)
    raise ConfigError(f"unknown classifier {name!r}; use {', '.join(CLASSIFIERS)}")


def utility_classifier(is_table: bool, seed: int = 0):
    """The classifier of the gate's utility check and of TSTR (see the module docstring)."""
    return make_classifier("hist_gradient_boosting" if is_table else "random_forest", seed)
