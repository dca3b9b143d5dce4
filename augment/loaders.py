"""A `torch.utils.data.Dataset` over a published augmented dataset."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from augment.publish import AugmentedData


def default_table_features(X: pd.DataFrame) -> np.ndarray:
    """One-hot categoricals (missing as its own column), numerics with NaN as 0: [N, F]."""
    frame = pd.get_dummies(X, dummy_na=True, dtype=np.float32)
    return frame.fillna(0.0).to_numpy(dtype=np.float32)


class AugmentedTorchDataset(Dataset):
    """Items are (features float32 tensor, class index int64 tensor).

    Tables become [F] vectors through `features` (default: one-hot + numerics); images
    become [C, H, W] float32 tensors of the original pixel values. `classes` maps class
    indices back to labels; `synthetic` marks generated rows.
    """

    def __init__(self, data: AugmentedData,
                 features: Callable[[pd.DataFrame], np.ndarray] = default_table_features) -> None:
        self.classes, index = np.unique(data.y, return_inverse=True)
        self.labels = torch.from_numpy(index.astype(np.int64))
        if isinstance(data.X, pd.DataFrame):
            self.features = torch.from_numpy(np.asarray(features(data.X), dtype=np.float32))
        else:
            images = np.asarray(data.X, dtype=np.float32)
            self.features = torch.from_numpy(images[:, None] if images.ndim == 3 else images)
        self.synthetic = torch.from_numpy(np.asarray(data.synthetic, dtype=bool))

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.features[i], self.labels[i]
