"""Network building blocks shared by the generator families (forward passes only).

Family-specific networks (the diffusion U-Net, GAN critics) live beside their
family; what several families use is here.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from augment.data.transformers import Span


class LabelEmbedding(nn.Module):
    """Class index -> vector; with `null_class`, one more learned class at index n_classes.

    The null class is what classifier-free guidance drops labels to (Ho & Salimans,
    2022, https://arxiv.org/abs/2207.12598); only the diffusion family needs it.
    """

    def __init__(self, n_classes: int, dim: int, null_class: bool = False) -> None:
        super().__init__()
        self.table = nn.Embedding(n_classes + int(null_class), dim)

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        """labels [B] int64 in 0..n_classes-1 (or n_classes, the null class) -> [B, dim]."""
        return self.table(labels)


class SinusoidalEmbedding(nn.Module):
    """Scalar (e.g. diffusion timestep) -> [B, dim] sin/cos features (Vaswani et al.)."""

    def __init__(self, dim: int, max_period: float = 10_000.0) -> None:
        super().__init__()
        self.dim = dim
        self.max_period = max_period

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        freqs = torch.exp(
            -math.log(self.max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half
        )
        args = t.float()[:, None] * freqs[None]
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        return F.pad(emb, (0, self.dim % 2))


class ResidualBlock(nn.Module):
    """x + MLP(norm(x) conditioned by FiLM on `cond`): the table networks' unit."""

    def __init__(self, width: int, cond_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.film = nn.Linear(cond_dim, 2 * width)
        self.body = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, x: torch.Tensor, cond: torch.Tensor, index: torch.Tensor | None = None
                ) -> torch.Tensor:
        """x [B, width]; cond [B, cond_dim], or [K, cond_dim] with `index` [B] picking a
        row of it for each row of x (FiLM computed once per distinct condition)."""
        film = self.film(cond)
        if index is not None:
            film = film.index_select(0, index)  # the same rows as film[index], ~8x faster on CPU
        scale, shift = film.chunk(2, dim=-1)
        return x + self.body(self.norm(x) * (1 + scale) + shift)


class ConditionalMLP(nn.Module):
    """[B, in_dim] + condition [B, cond_dim] -> [B, out_dim] through residual blocks."""

    def __init__(self, in_dim: int, out_dim: int, cond_dim: int, width: int, depth: int
                 ) -> None:
        super().__init__()
        self.inp = nn.Linear(in_dim, width)
        self.blocks = nn.ModuleList(ResidualBlock(width, cond_dim) for _ in range(depth))
        self.out = nn.Sequential(nn.LayerNorm(width), nn.SiLU(), nn.Linear(width, out_dim))

    def forward(self, x: torch.Tensor, cond: torch.Tensor, index: torch.Tensor | None = None
                ) -> torch.Tensor:
        """See `ResidualBlock.forward` for `cond` and `index`."""
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, cond, index)
        return self.out(h)


def gumbel_noise(shape: torch.Size | tuple[int, ...], rng: torch.Generator,
                 device: torch.device) -> torch.Tensor:
    """Standard Gumbel noise [shape], drawn on the CPU with `rng` (deterministic on any
    device), then moved to `device`. argmax(logits + noise) is a draw from
    softmax(logits) (the Gumbel-max trick)."""
    u = torch.rand(shape, generator=rng).clamp(1e-10, 1.0 - 1e-7)
    return (-torch.log(-torch.log(u))).to(device)


def activate_spans(raw: torch.Tensor, spans: Sequence[Span], hard: bool = False) -> torch.Tensor:
    """Turn raw network output [B, D] into the transformer's encoding.

    Continuous dims pass through; each softmax span becomes a softmax, or with `hard`
    a one-hot of its argmax with the softmax's (straight-through) gradients.
    """
    parts = []
    for span in spans:
        block = raw[:, span.start : span.end]
        if span.kind == "continuous":
            parts.append(block)
            continue
        soft = F.softmax(block, dim=-1)
        if hard:
            index = soft.argmax(dim=-1, keepdim=True)
            one_hot = torch.zeros_like(soft).scatter_(-1, index, 1.0)
            soft = one_hot + soft - soft.detach()
        parts.append(soft)
    return torch.cat(parts, dim=-1)


class EMA(nn.Module):
    """A frozen copy of a network whose weights track an exponential moving average of it.

    `steps` is a buffer the training loop counts its steps in; it is saved and restored
    with the weights, so the warm-up (and the GAN's n_critic schedule) survive a resume.
    """

    def __init__(self, net: nn.Module, decay: float) -> None:
        super().__init__()
        self.decay = decay
        self.net = copy.deepcopy(net).requires_grad_(False)
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update(self, live: nn.Module, updates: int) -> None:
        """ema <- d * ema + (1 - d) * live after `updates` updates, d = min(decay, (1+t)/(10+t)).

        The warm-up keeps the average from being dominated by the random initial weights
        when training is short.
        """
        d = min(self.decay, (1.0 + updates) / (10.0 + updates))
        # one call, not a Python loop per tensor
        torch._foreach_lerp_(list(self.net.parameters()), list(live.parameters()), 1.0 - d)
        for mine_buffer, their_buffer in zip(self.net.buffers(), live.buffers(), strict=True):
            mine_buffer.copy_(their_buffer)

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        return self.net(*args)
