"""Networks of the autoregressive family: a masked MLP over a table's column tokens
(MADE, Germain et al. 2015, https://arxiv.org/abs/1502.03509) and a PixelCNN over an
image's pixels (van den Oord et al. 2016, https://arxiv.org/abs/1601.06759).

Both are causal by their weight masks: the logits of step k see only steps < k and the
class, so one network call scores every step of a row at once (training) and sampling
fills the steps in order, one call per step for a whole block of rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from augment.generators.networks import LabelEmbedding


class MaskedLinear(nn.Linear):
    """nn.Linear whose weight [out, in] is multiplied by a fixed 0/1 mask (not saved:
    it follows from the sizes)."""

    def __init__(self, mask: torch.Tensor) -> None:
        super().__init__(mask.shape[1], mask.shape[0])
        self.register_buffer("mask", mask.float(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


class TableMADE(nn.Module):
    """Logits [B, W] of every token of a row from its one-hot tokens [B, W] and class [B].

    `vocab`: the vocabulary size of each of the K steps, in order; W = sum(vocab). Input
    units of step k (0-based) have degree k + 1; the hidden units are split into K
    contiguous blocks of degrees 0..K-1, and a hidden unit sees the units of the layer
    below of degree <= its own; the logits of step k see hidden units of degree <= k.
    The class embedding enters every hidden layer unmasked (degree 0: the class is the
    first token). No normalisation layer: one across units would leak later steps.
    Because degrees are contiguous, `sampler` can compute each hidden block once, when
    its inputs are known: sampling a row costs one forward pass in all, not K.
    """

    def __init__(self, vocab: Sequence[int], n_classes: int, width: int, depth: int,
                 null_class: bool = False) -> None:
        super().__init__()
        steps = len(vocab)
        self.offsets = [0, *torch.cumsum(torch.tensor(list(vocab)), 0).tolist()]
        degree_in = torch.repeat_interleave(torch.arange(1, steps + 1), torch.tensor(list(vocab)))
        degree_hidden = torch.arange(width) * steps // width
        # hidden units of degree d: [bounds[d], bounds[d + 1])
        self.bounds = torch.searchsorted(degree_hidden, torch.arange(steps + 1)).tolist()
        self.inp = MaskedLinear(degree_hidden[:, None] >= degree_in[None, :])
        hidden = degree_hidden[:, None] >= degree_hidden[None, :]
        self.blocks = nn.ModuleList(MaskedLinear(hidden) for _ in range(2 * depth))
        self.out = MaskedLinear(degree_in[:, None] > degree_hidden[None, :])
        self.label = LabelEmbedding(n_classes, width, null_class)
        self.film = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))

    def forward(self, tokens: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        cond = self.label(labels)
        h = self.inp(tokens) + cond
        for i, film in enumerate(self.film):
            inner = self.blocks[2 * i](F.silu(h)) + film(cond)
            h = h + self.blocks[2 * i + 1](F.silu(inner))
        return self.out(F.silu(h))

    def sampler(self, labels: torch.Tensor) -> MADESampler:
        return MADESampler(self, labels)


class MADESampler:
    """Step-by-step logits of a `TableMADE` for a block of rows: `logits(k)`, then
    `feed(k, index)` with the token drawn, for k = 0..K-1. The hidden units of degree k
    are computed at step k from the prefix of units they see (the weights there are
    unmasked), and a fed one-hot token adds its weight column to the input layer, so the
    K steps together cost one forward pass; equal to `forward` up to rounding."""

    def __init__(self, net: TableMADE, labels: torch.Tensor) -> None:
        self.net = net
        n, width = len(labels), net.inp.weight.shape[0]
        cond = net.label(labels)
        self.films = [film(cond) for film in net.film]
        self.columns = (net.inp.weight * net.inp.mask).t().contiguous()  # [W, width]
        self.pre = net.inp.bias + cond  # input layer before the tokens fed so far: [N, width]
        layers = 1 + 2 * len(net.film)  # h0, then (inner, h) per block
        self.h = [torch.zeros(n, width, device=labels.device) for _ in range(layers)]
        self.act = [torch.zeros(n, width, device=labels.device) for _ in range(layers)]  # silu(h)
        self.weights = []  # per step: contiguous weight and bias slices of every layer
        for k in range(len(net.offsets) - 1):
            lo, hi = net.bounds[k], net.bounds[k + 1]
            layers_k = [(m.weight[lo:hi, :hi].contiguous(), m.bias[lo:hi]) for m in net.blocks]
            first, last = net.offsets[k], net.offsets[k + 1]
            layers_k.append((net.out.weight[first:last, :hi].contiguous(), net.out.bias[first:last]))
            self.weights.append(layers_k)

    def _set(self, layer: int, a: int, b: int, value: torch.Tensor) -> None:
        self.h[layer][:, a:b] = value
        self.act[layer][:, a:b] = F.silu(value)

    def logits(self, k: int) -> torch.Tensor:
        """Logits [N, vocab[k]] of step k (steps < k fed)."""
        net, h, act, weights = self.net, self.h, self.act, self.weights[k]
        a, b = net.bounds[k], net.bounds[k + 1]  # the hidden block of degree k
        self._set(0, a, b, self.pre[:, a:b])
        for i in range(len(net.film)):
            (w1, b1), (w2, b2) = weights[2 * i], weights[2 * i + 1]
            self._set(2 * i + 1, a, b, F.linear(act[2 * i][:, :b], w1, b1) + self.films[i][:, a:b])
            self._set(2 * i + 2, a, b, h[2 * i][:, a:b] + F.linear(act[2 * i + 1][:, :b], w2, b2))
        w, bias = weights[-1]
        return F.linear(act[-1][:, :b], w, bias)

    def feed(self, k: int, index: torch.Tensor) -> None:
        """Step k's tokens [N] (indices into its vocabulary) are known."""
        self.pre = self.pre + self.columns[self.net.offsets[k] + index]


def pixel_mask(out_ch: int, in_ch: int, kernel: int, groups: int, centre: bool) -> torch.Tensor:
    """0/1 mask [out_ch, in_ch, k, k] of a causal convolution in raster order: positions
    before the centre are seen; at the centre, an output channel of colour group g
    (channels split into `groups` contiguous blocks) sees input groups < g, and g itself
    when `centre` (PixelCNN's mask B; mask A without)."""
    mask = torch.zeros(out_ch, in_ch, kernel, kernel)
    mid = kernel // 2
    mask[:, :, :mid, :] = 1
    mask[:, :, mid, :mid] = 1
    group_out = torch.arange(out_ch) * groups // out_ch
    group_in = torch.arange(in_ch) * groups // in_ch
    seen = group_out[:, None] >= group_in[None, :] if centre else group_out[:, None] > group_in[None, :]
    mask[:, :, mid, mid] = seen.float()
    return mask


class MaskedConv2d(nn.Conv2d):
    """A 'same'-padded convolution with a `pixel_mask` on its weight."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, groups: int, centre: bool) -> None:
        super().__init__(in_ch, out_ch, kernel, padding=kernel // 2)
        self.register_buffer("mask", pixel_mask(out_ch, in_ch, kernel, groups, centre),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class PixelCNN(nn.Module):
    """Class-conditional PixelCNN: images [B, C, H, W] in [-1, 1] -> logits over
    `levels` intensities [B, C, levels, H, W].

    A 7x7 mask-A convolution, `depth` residual blocks (1x1, 3x3 mask-B, 1x1, the class
    embedding added per channel), and a 1x1 output; channels are split into C colour
    groups so colour c of a pixel sees colours < c of that pixel. `channels` is rounded
    up to a multiple of C.
    """

    def __init__(self, image_channels: int, levels: int, n_classes: int, channels: int,
                 depth: int, null_class: bool = False) -> None:
        super().__init__()
        c = image_channels
        width = -(-channels // c) * c
        self.image_channels, self.levels = c, levels
        self.inp = MaskedConv2d(c, width, 7, c, centre=False)
        self.blocks = nn.ModuleList(nn.ModuleList([
            MaskedConv2d(width, width, 1, c, centre=True),
            MaskedConv2d(width, width, 3, c, centre=True),
            MaskedConv2d(width, width, 1, c, centre=True)]) for _ in range(depth))
        self.label = LabelEmbedding(n_classes, width, null_class)
        self.out = MaskedConv2d(width, c * levels, 1, c, centre=True)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        cond = self.label(labels)[:, :, None, None]
        h = self.inp(x)
        for first, middle, last in self.blocks:
            inner = middle(F.relu(first(F.relu(h))) + cond)
            h = h + last(F.relu(inner))
        logits = self.out(F.relu(h))
        b, _, height, width = logits.shape
        return logits.view(b, self.image_channels, self.levels, height, width)
