"""Networks of the class-to-class translation family (forward passes only; losses live
in `translation.py`). The critics are the GAN family's (`gan_nets`): their projection
head is a real/fake score per class.

Both translators take a source row (or image), noise z and a *target* class and return
the row as it would look in that class. The target enters through FiLM on every block,
together with the noise, so one network serves every (source, target) pair.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from augment.data.transformers import Span
from augment.generators.networks import ConditionalMLP, LabelEmbedding

SKIP_LOGIT = 4.0  # a one-hot input category enters the output logits at this scale


class TableTranslator(nn.Module):
    """source rows x [B, D] + noise z [B, latent] + target labels [B] -> raw rows [B, D]
    (logits on softmax spans, N(0, 1) scores on continuous dims).

    The output is the MLP's plus a skip of the input (continuous dims as they are, a
    softmax span's one-hot as logits of scale SKIP_LOGIT), so the identity is where the
    network starts and a translation learns what to change.
    """

    def __init__(self, n_labels: int, spans: tuple[Span, ...], dim: int, latent_dim: int,
                 width: int, depth: int, embed_dim: int) -> None:
        super().__init__()
        self.embed = LabelEmbedding(n_labels, embed_dim)
        self.net = ConditionalMLP(dim + latent_dim + embed_dim, dim, embed_dim + latent_dim,
                                  width, depth)
        skip = torch.ones(dim)
        for span in spans:
            if span.kind == "softmax":
                skip[span.start : span.end] = SKIP_LOGIT
        self.register_buffer("skip", skip, persistent=False)  # follows the spans, not saved

    def forward(self, x: torch.Tensor, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        cond = torch.cat([self.embed(labels), z], dim=1)
        return self.net(torch.cat([x, cond], dim=1), cond) + self.skip * x


class FiLMConv(nn.Module):
    """[B, c, h, w] -> same shape: x + conv(act(FiLM(norm(conv(x)))))."""

    def __init__(self, channels: int, cond_dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm = nn.GroupNorm(min(8, channels), channels)
        self.film = nn.Linear(cond_dim, 2 * channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(cond)[:, :, None, None].chunk(2, dim=1)
        h = self.norm(self.conv1(x)) * (1 + scale) + shift
        return x + self.conv2(F.silu(h))


class ImageTranslator(nn.Module):
    """source images x [B, C, H, W] in [-1, 1] + noise z [B, latent] + target labels [B]
    -> images [B, C, H, W] in (-1, 1).

    A small U-Net: a convolution at full resolution, a stride-2 convolution, `depth`
    FiLM blocks at half resolution (where a shape can change as a whole: 8x8 -> 4x4),
    upsampling back to the input size, the full-resolution features concatenated, and
    two convolutions out.
    """

    def __init__(self, n_labels: int, image_shape: tuple[int, int, int], latent_dim: int,
                 channels: int, depth: int, embed_dim: int) -> None:
        super().__init__()
        c = image_shape[0]
        self.embed = LabelEmbedding(n_labels, embed_dim)
        self.inp = nn.Conv2d(c, channels, 3, padding=1)
        self.down = nn.Conv2d(channels, 2 * channels, 4, stride=2, padding=1)
        self.mid = nn.ModuleList(FiLMConv(2 * channels, embed_dim + latent_dim)
                                 for _ in range(depth))
        self.up = nn.Conv2d(2 * channels, channels, 3, padding=1)
        self.out = nn.Sequential(nn.Conv2d(2 * channels, channels, 3, padding=1), nn.SiLU(),
                                 nn.Conv2d(channels, c, 3, padding=1))

    def forward(self, x: torch.Tensor, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        cond = torch.cat([self.embed(labels), z], dim=1)
        high = F.silu(self.inp(x))
        h = self.down(high)
        for block in self.mid:
            h = block(h, cond)
        h = self.up(F.interpolate(F.silu(h), size=high.shape[2:], mode="nearest"))
        return torch.tanh(self.out(torch.cat([high, F.silu(h)], dim=1)))
