"""Networks of the conditional GAN (forward passes only; losses live in `gan.py`).

Tables: an MLP generator (noise + label embedding, FiLM residual blocks) and an MLP
critic. Images: an upsampling conv generator and a strided conv critic. Both critics
end in a projection head (Miyato & Koyama 2018, https://arxiv.org/abs/1802.05637):
score = w . h + <embed(label), h>, and see a minibatch-std feature so that a collapsed
(too uniform) batch of fakes is easy to tell apart from real data.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from augment.generators.networks import ConditionalMLP, LabelEmbedding


def _maybe_sn(module: nn.Module, spectral: bool) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018, https://arxiv.org/abs/1802.05957) if asked."""
    return spectral_norm(module) if spectral else module


class MinibatchStd(nn.Module):
    """Append one feature: the std across a group of samples, averaged over features.

    Karras et al. 2018 (https://arxiv.org/abs/1710.10196), section 3: a critic that
    sees batch statistics can penalise a generator whose samples are all alike.
    Works on [B, F] and [B, C, H, W]; group = 0 disables it (identity, no new feature).
    """

    def __init__(self, group: int) -> None:
        super().__init__()
        self.group = group

    def extra(self) -> int:
        """How many features/channels forward adds."""
        return 1 if self.group > 0 else 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.group <= 0:
            return x
        batch = x.shape[0]
        group = min(self.group, batch)
        while batch % group:  # the largest group size <= self.group that divides the batch
            group -= 1
        # Sample i belongs to group i % (batch // group), as in the StyleGAN reference.
        grouped = x.reshape(group, batch // group, *x.shape[1:])
        # Written out rather than .var(dim=0), which takes a slow path on CPU here.
        centred = grouped - grouped.mean(dim=0, keepdim=True)
        std = (centred.pow(2).mean(dim=0) + 1e-8).sqrt()
        stat = std.flatten(1).mean(dim=1).repeat(group)  # [B]
        shape = (batch, 1, *x.shape[2:])
        return torch.cat([x, stat.view(-1, *[1] * (x.dim() - 1)).expand(shape)], dim=1)


class ProjectionHead(nn.Module):
    """features h [B, F] + labels [B] -> critic score [B] = w . h + b + <embed(label), h>."""

    def __init__(self, features: int, n_classes: int, spectral: bool) -> None:
        super().__init__()
        self.linear = _maybe_sn(nn.Linear(features, 1), spectral)
        self.embed = _maybe_sn(nn.Embedding(n_classes, features), spectral)

    def forward(self, h: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.linear(h).squeeze(1) + (self.embed(labels) * h).sum(dim=1)


# ---- tables ---------------------------------------------------------------------------
class TableGenerator(nn.Module):
    """noise z [B, latent] + labels [B] -> raw rows [B, D] (logits on softmax spans).

    The label embedding is concatenated to the noise and also modulates every
    residual block through FiLM, so the class cannot be ignored.
    """

    def __init__(self, n_classes: int, dim: int, latent_dim: int, width: int, depth: int,
                 embed_dim: int) -> None:
        super().__init__()
        self.embed = LabelEmbedding(n_classes, embed_dim)
        self.net = ConditionalMLP(latent_dim + embed_dim, dim, embed_dim, width, depth)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        cond = self.embed(labels)
        return self.net(torch.cat([z, cond], dim=1), cond)


class TableCritic(nn.Module):
    """Encoded rows x [B, D] + labels [B] -> scores [B] (MLP, minibatch std, projection)."""

    def __init__(self, n_classes: int, dim: int, width: int, depth: int, spectral: bool,
                 mbstd_group: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        size = dim
        for _ in range(depth):
            layers += [_maybe_sn(nn.Linear(size, width), spectral), nn.LeakyReLU(0.2)]
            size = width
        self.body = nn.Sequential(*layers)
        self.mbstd = MinibatchStd(mbstd_group)
        self.last = nn.Sequential(
            _maybe_sn(nn.Linear(width + self.mbstd.extra(), width), spectral), nn.LeakyReLU(0.2)
        )
        self.head = ProjectionHead(width, n_classes, spectral)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        h = self.last(self.mbstd(self.body(x)))
        return self.head(h, labels)


# ---- images ---------------------------------------------------------------------------
class PixelNorm(nn.Module):
    """Normalise each pixel's feature vector to unit RMS (Karras et al. 2018, sec. 4.2).

    Used instead of batch norm so that a sample does not depend on its batch: sampling
    in eval mode and through the EMA copy behaves exactly as in training.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class UpBlock(nn.Module):
    """[B, c_in, h, w] -> [B, c_out, 2h, 2w]: nearest upsample, conv, norm, FiLM on the label."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm = PixelNorm()
        self.film = nn.Linear(cond_dim, 2 * c_out)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.norm(F.leaky_relu(self.conv(F.interpolate(x, scale_factor=2.0)), 0.2))
        scale, shift = self.film(cond)[:, :, None, None].chunk(2, dim=1)
        return h * (1 + scale) + shift


class ImageGenerator(nn.Module):
    """noise z [B, latent] + labels [B] -> images [B, C, H, W] in (-1, 1).

    Starts from a (ceil(H/4), ceil(W/4)) map, upsamples twice and crops the centre to
    (H, W), so any size >= 8 works (8x8: 2 -> 8; 28x28: 7 -> 28).
    """

    def __init__(self, n_classes: int, image_shape: tuple[int, int, int], latent_dim: int,
                 channels: int, embed_dim: int) -> None:
        super().__init__()
        c, self.height, self.width = image_shape
        self.h0, self.w0 = math.ceil(self.height / 4), math.ceil(self.width / 4)
        self.c0 = 2 * channels
        self.embed = LabelEmbedding(n_classes, embed_dim)
        self.fc = nn.Linear(latent_dim + embed_dim, self.c0 * self.h0 * self.w0)
        self.norm = PixelNorm()
        self.blocks = nn.ModuleList(
            [UpBlock(self.c0, channels, embed_dim), UpBlock(channels, channels, embed_dim)]
        )
        self.to_image = nn.Conv2d(channels, c, 3, padding=1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        cond = self.embed(labels)
        h = self.fc(torch.cat([z, cond], dim=1)).view(-1, self.c0, self.h0, self.w0)
        h = self.norm(F.leaky_relu(h, 0.2))
        for block in self.blocks:
            h = block(h, cond)
        out = torch.tanh(self.to_image(h))
        top = (out.shape[2] - self.height) // 2
        left = (out.shape[3] - self.width) // 2
        return out[:, :, top : top + self.height, left : left + self.width]


class ImageCritic(nn.Module):
    """Images [B, C, H, W] + labels [B] -> scores [B].

    Two stride-2 convs (8x8 -> 2x2, 28x28 -> 7x7), a minibatch-std channel, then an
    adaptive average pool to 2x2 so the projection head has a fixed width for any size.
    """

    def __init__(self, n_classes: int, image_shape: tuple[int, int, int], channels: int,
                 spectral: bool, mbstd_group: int) -> None:
        super().__init__()
        c = image_shape[0]
        self.body = nn.Sequential(
            _maybe_sn(nn.Conv2d(c, channels, 3, padding=1), spectral), nn.LeakyReLU(0.2),
            _maybe_sn(nn.Conv2d(channels, channels, 4, stride=2, padding=1), spectral),
            nn.LeakyReLU(0.2),
            _maybe_sn(nn.Conv2d(channels, 2 * channels, 4, stride=2, padding=1), spectral),
            nn.LeakyReLU(0.2),
        )
        self.mbstd = MinibatchStd(mbstd_group)
        self.last = nn.Sequential(
            _maybe_sn(nn.Conv2d(2 * channels + self.mbstd.extra(), 2 * channels, 3, padding=1),
                      spectral),
            nn.LeakyReLU(0.2),
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
        )
        self.head = ProjectionHead(8 * channels, n_classes, spectral)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.head(self.last(self.mbstd(self.body(x))), labels)
