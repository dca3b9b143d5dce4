"""Pictures of data: image grids (PNG) for synthetic and real samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def image_grid(images: np.ndarray, path: str | Path, low: float, high: float, columns: int = 10,
               scale: int = 4) -> Path:
    """Save images [N, H, W] or [N, C, H, W] (values in [low, high]) as one PNG grid.

    Each image is scaled up `scale` times (nearest neighbour) so 8x8 digits are visible.
    """
    from PIL import Image

    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 3:
        images = images[:, None]
    n, c, h, w = images.shape
    rows = max(1, -(-n // columns))
    grid = np.zeros((c, rows * (h + 1), min(n, columns) * (w + 1) or 1))
    for i, image in enumerate(images):
        r, col = divmod(i, columns)
        grid[:, r * (h + 1) : r * (h + 1) + h, col * (w + 1) : col * (w + 1) + w] = image
    pixels = np.clip((grid - low) / max(high - low, 1e-12) * 255.0, 0, 255).astype(np.uint8)
    pixels = pixels.repeat(scale, axis=1).repeat(scale, axis=2)
    mode_pixels = pixels[0] if c == 1 else pixels[:3].transpose(1, 2, 0)
    path = Path(path)
    Image.fromarray(mode_pixels).save(path)
    return path
