"""Networks of the conditional VAE (forward passes only; losses live in `vae.py`).

Conditional VAE (Kingma & Welling 2014, https://arxiv.org/abs/1312.6114; Sohn et al.
2015, "Learning Structured Output Representation using Deep Conditional Generative
Models"): the class label is embedded and fed to both the encoder q(z | x, y) and
the decoder p(x | z, y), so sampling a class is decoding prior noise with its label.

Each decoder also owns `log_sigma`, the log standard deviation of its Gaussian
likelihood (per continuous column and mixture component for tables; one scalar for
images).
It sits in the decoder so that saving the decoder saves everything sampling needs.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from augment.generators.networks import ConditionalMLP, LabelEmbedding


class TableEncoder(nn.Module):
    """x [B, D] and labels [B] -> (mean [B, L], log-variance [B, L]) of q(z | x, y)."""

    def __init__(self, dim: int, n_classes: int, latent_dim: int, width: int, depth: int,
                 embed_dim: int) -> None:
        super().__init__()
        self.embed = LabelEmbedding(n_classes, embed_dim)
        self.body = ConditionalMLP(dim, 2 * latent_dim, embed_dim, width, depth)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, logvar = self.body(x, self.embed(labels)).chunk(2, dim=-1)
        return mean, logvar


class TableDecoder(nn.Module):
    """z [B, L] and labels [B] -> raw output [B, out_dim], laid out by `TableLikelihood`
    in `vae.py` (softmax-span logits, then mixture logits and means per continuous dim).

    `log_sigma` [n_continuous, components]: one learned (or fixed) scale per mixture
    component of each continuous column, shared by all rows as in TVAE.
    """

    def __init__(self, out_dim: int, n_classes: int, latent_dim: int, width: int, depth: int,
                 embed_dim: int, sigma_shape: tuple[int, int], sigma_init: float) -> None:
        super().__init__()
        self.embed = LabelEmbedding(n_classes, embed_dim)
        self.body = ConditionalMLP(latent_dim, out_dim, embed_dim, width, depth)
        self.log_sigma = nn.Parameter(torch.full(sigma_shape, math.log(sigma_init)))

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.body(z, self.embed(labels))


def _down(size: int) -> int:
    """Output size of a 4x4, stride-2, padding-1 convolution: floor(size / 2)."""
    return (size + 2 - 4) // 2 + 1


class ImageEncoder(nn.Module):
    """Images [B, C, H, W] in [-1, 1] and labels [B] -> (mean, log-variance) [B, L].

    The label enters twice: as an extra input channel (a learned H x W map per class,
    so the convolutions see it) and beside the flattened features before the head.
    Two stride-2 convolutions take H x W to about H/4 x W/4; any H, W >= 4 works.
    """

    def __init__(self, image_shape: tuple[int, int, int], n_classes: int, latent_dim: int,
                 channels: int, embed_dim: int) -> None:
        super().__init__()
        c, h, w = image_shape
        self.hw = (h, w)
        self.embed = LabelEmbedding(n_classes, embed_dim)
        self.label_map = nn.Linear(embed_dim, h * w)
        self.convs = nn.Sequential(
            nn.Conv2d(c + 1, channels, 3, padding=1), nn.SiLU(),
            nn.Conv2d(channels, 2 * channels, 4, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(2 * channels, 4 * channels, 4, stride=2, padding=1), nn.SiLU(),
        )
        flat = 4 * channels * _down(_down(h)) * _down(_down(w))
        self.head = nn.Linear(flat + embed_dim, 2 * latent_dim)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        emb = self.embed(labels)
        label_plane = self.label_map(emb).view(len(x), 1, *self.hw)
        features = self.convs(torch.cat([x, label_plane], dim=1)).flatten(1)
        mean, logvar = self.head(torch.cat([features, emb], dim=1)).chunk(2, dim=-1)
        return mean, logvar


class ImageDecoder(nn.Module):
    """z [B, L] and labels [B] -> raw images [B, C, H, W] (pre-activation; `vae.py`
    maps them into [-1, 1]).

    A linear layer makes a ceil(H/4) x ceil(W/4) grid, two transposed convolutions
    double it twice, and the result is cropped to H x W, so odd sizes (28 -> 7 -> 28,
    9 -> 3 -> 12 -> 9) need no special case.
    """

    def __init__(self, image_shape: tuple[int, int, int], n_classes: int, latent_dim: int,
                 channels: int, embed_dim: int) -> None:
        super().__init__()
        c, h, w = image_shape
        self.hw = (h, w)
        self.grid = (math.ceil(h / 4), math.ceil(w / 4))
        self.embed = LabelEmbedding(n_classes, embed_dim)
        self.inp = nn.Sequential(
            nn.Linear(latent_dim + embed_dim, 4 * channels * self.grid[0] * self.grid[1]),
            nn.SiLU(),
        )
        self.ups = nn.Sequential(
            nn.ConvTranspose2d(4 * channels, 2 * channels, 4, stride=2, padding=1), nn.SiLU(),
            nn.ConvTranspose2d(2 * channels, channels, 4, stride=2, padding=1), nn.SiLU(),
        )
        self.out = nn.Conv2d(channels, c, 3, padding=1)
        self.log_sigma = nn.Parameter(torch.zeros(1))  # one pixel-noise scale per model

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        h = self.inp(torch.cat([z, self.embed(labels)], dim=1))
        h = self.ups(h.view(len(z), -1, *self.grid))
        return self.out(h[:, :, : self.hw[0], : self.hw[1]])


class LatentPrior(nn.Module):
    """The latent distribution sampling draws from, per class: N(mean[y], L[y] L[y]^T).

    It starts as the VAE prior N(0, I). `set_moments` replaces it by the Gaussian that
    matches each class's aggregate posterior (ex-post density estimation, Ghosh et al.
    2020, https://arxiv.org/abs/1903.12436): when the encoder lets some class
    information into z, N(0, I) decodes part of every class from the others' latent
    region, which blurs the class boundary.
    """

    def __init__(self, n_classes: int, latent_dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_classes, latent_dim))
        self.register_buffer("scale_tril", torch.eye(latent_dim).repeat(n_classes, 1, 1))

    def forward(self, noise: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """noise [N, L] ~ N(0, I), labels [N] -> z [N, L]."""
        mean, scale = self.mean.index_select(0, labels), self.scale_tril.index_select(0, labels)
        return mean + (scale @ noise.unsqueeze(-1)).squeeze(-1)

    @torch.no_grad()
    def set_moments(self, count: torch.Tensor, first: torch.Tensor, second: torch.Tensor
                    ) -> None:
        """Set class k to mean first[k] / count[k] and the matching covariance.

        count [K], first [K, L] = sum of E[z], second [K, L, L] = sum of E[z z^T] over the
        class's rows. Classes without rows keep their current Gaussian.
        """
        for k in torch.nonzero(count > 0).flatten().tolist():
            mean = first[k] / count[k]
            cov = second[k] / count[k] - torch.outer(mean, mean)
            cov = 0.5 * (cov + cov.T) + 1e-6 * torch.eye(len(mean), dtype=cov.dtype,
                                                         device=cov.device)
            chol, info = torch.linalg.cholesky_ex(cov)
            if info == 0:  # otherwise (numerically singular) keep the current Gaussian
                self.mean[k] = mean.to(self.mean.dtype)
                self.scale_tril[k] = chol.to(self.scale_tril.dtype)
