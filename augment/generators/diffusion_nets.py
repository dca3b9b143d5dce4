"""Noise-prediction networks of the diffusion family (forward passes only).

Both take (x_t, t, labels) and return the predicted noise with the shape of x_t.
The condition vector is timestep embedding + class embedding; the class embedding
has a null class (index n_classes) used for classifier-free guidance.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from augment.generators.networks import ConditionalMLP, LabelEmbedding, SinusoidalEmbedding


class Conditioning(nn.Module):
    """(t [B], labels [B] in 0..n_classes, n_classes = null) -> condition [B, dim]:
    MLP(sinusoid(t)) + class embedding."""

    def __init__(self, n_classes: int, dim: int) -> None:
        super().__init__()
        self.time = nn.Sequential(
            SinusoidalEmbedding(dim), nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim)
        )
        self.label = LabelEmbedding(n_classes, dim, null_class=True)

    def forward(self, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.time(t) + self.label(labels)


class TableDenoiser(nn.Module):
    """Residual FiLM MLP: x_t [B, D], t [B], labels [B] -> noise [B, D]."""

    def __init__(self, dim: int, n_classes: int, *, width: int, depth: int, emb_dim: int
                 ) -> None:
        super().__init__()
        self.n_labels = n_classes + 1  # the null class included
        self.cond = Conditioning(n_classes, emb_dim)
        self.mlp = ConditionalMLP(dim, dim, emb_dim, width=width, depth=depth)

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.mlp(x, self.cond(t, labels))

    def at_step(self, x: torch.Tensor, t: int, labels: torch.Tensor) -> torch.Tensor:
        """`forward` for a batch x [B, D] that shares one timestep t (sampling): the
        condition and each block's FiLM are computed once per label (n_classes + 1 rows,
        whatever the batch holds) and gathered, which saves a third of the multiply-adds."""
        every = torch.arange(self.n_labels, device=x.device)
        cond = self.cond(torch.full_like(every, t), every)
        return self.mlp(x, cond, labels)


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(8, channels), channels)


class ConvBlock(nn.Module):
    """Residual conv block; the condition scales and shifts the middle activations (FiLM).

    [B, c_in, H, W] + cond [B, cond_dim] -> [B, c_out, H, W].
    """

    def __init__(self, c_in: int, c_out: int, cond_dim: int) -> None:
        super().__init__()
        self.norm1 = _norm(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.film = nn.Linear(cond_dim, 2 * c_out)
        self.norm2 = _norm(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(cond)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(F.silu(h))
        return self.skip(x) + h


class UNet(nn.Module):
    """Small two-level conv U-Net: x_t [B, C, H, W], t [B], labels [B] -> noise [B, C, H, W].

    Resolutions H, H/2, H/4 with channels c, 2c, 2c. Inputs are zero-padded to a
    multiple of 4 and the output cropped back, so any H, W >= 8 works (8x8 digits
    become 2x2 at the bottom).
    """

    def __init__(self, in_channels: int, n_classes: int, *, channels: int, emb_dim: int
                 ) -> None:
        super().__init__()
        c = channels
        self.cond = Conditioning(n_classes, emb_dim)
        self.inp = nn.Conv2d(in_channels, c, 3, padding=1)
        self.down1 = ConvBlock(c, c, emb_dim)
        self.pool1 = nn.Conv2d(c, c, 3, stride=2, padding=1)
        self.down2 = ConvBlock(c, 2 * c, emb_dim)
        self.pool2 = nn.Conv2d(2 * c, 2 * c, 3, stride=2, padding=1)
        self.mid1 = ConvBlock(2 * c, 2 * c, emb_dim)
        self.mid2 = ConvBlock(2 * c, 2 * c, emb_dim)
        self.up2 = ConvBlock(4 * c, 2 * c, emb_dim)  # input: upsampled mid + down2 skip
        self.up1 = ConvBlock(3 * c, c, emb_dim)  # input: upsampled up2 + down1 skip
        self.out = nn.Sequential(_norm(c), nn.SiLU(), nn.Conv2d(c, in_channels, 3, padding=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        x = F.pad(x, (0, -width % 4, 0, -height % 4))
        cond = self.cond(t, labels)
        h1 = self.down1(self.inp(x), cond)  # [B, c, H, W]
        h2 = self.down2(self.pool1(h1), cond)  # [B, 2c, H/2, W/2]
        h = self.mid2(self.mid1(self.pool2(h2), cond), cond)  # [B, 2c, H/4, W/4]
        h = self.up2(torch.cat([F.interpolate(h, scale_factor=2.0), h2], dim=1), cond)
        h = self.up1(torch.cat([F.interpolate(h, scale_factor=2.0), h1], dim=1), cond)
        return self.out(h)[..., :height, :width]

    def at_step(self, x: torch.Tensor, t: int, labels: torch.Tensor) -> torch.Tensor:
        """`forward` for a batch that shares one timestep t (the sampler's interface)."""
        return self(x, torch.full((len(x),), t, dtype=torch.long, device=x.device), labels)
