"""Class-conditional autoregressive generator: a table row one column at a time, an
image one pixel at a time, each step conditioned on the class and the steps before.

```python
gen = get_generator("autoregressive", temperature=1.0, seed=0).fit(X, y)
X_syn, y_syn = gen.sample({"a": 100, "b": 20}, seed=1)
```

- Tables: the class is the first token, then one token per column span of the
  transformer's encoding, in schema order, a numeric column's missing indicator before
  its value. A categorical column is a softmax over its categories (missing is a category
  of its own). A numeric column's value is quantile-binned: the transformer maps it to
  N(0, 1) scores, so its normal CDF is near uniform on the training rows and `bins`
  equal-width bins of that CDF are equal-frequency bins of the column; the step is a
  softmax over the bins, and the value within the chosen bin is drawn uniformly in CDF
  space (a piecewise-uniform density at a resolution of 1/`bins` quantiles; point masses
  such as a whole-number column's values stay exact, since the transformer maps a tie
  to one CDF value and back). One masked MLP (MADE, `autoregressive_nets.TableMADE`)
  gives the logits of every step from the steps before in a single call, so training
  scores whole rows at once; sampling (`MADESampler`) computes each hidden block once,
  when its inputs are known, so a block of rows costs about one forward pass in all.
- Images: a class-conditional PixelCNN (`autoregressive_nets.PixelCNN`) over the image
  grid in raster order (colour channels in order within a pixel), intensities a softmax
  over `levels` values (the image's integer range, e.g. 17 for 0..16 digits).
- `temperature` divides the logits when sampling (< 1: sharper, more typical rows;
  > 1: more varied); each draw inverts the softmax's CDF at a uniform from the sampling
  seed, so the output is deterministic for a seed and a shard (`rows=`) equals its
  slice of the whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from augment.config import AT_LEAST_ONE, POSITIVE, Range
from augment.data.transformers import Span
from augment.generators.autoregressive_nets import PixelCNN, TableMADE
from augment.generators.base import BaseConfig, DataInfo, Generator
from augment.generators.diffusion import QUANTILE_BOUND

MAX_LEVELS = 256  # intensity levels of an image that is not whole-numbered or spans more


def token_spans(spans: tuple[Span, ...]) -> list[Span]:
    """The encoding's spans in step order: schema order, a numeric column's missing
    indicator just before its value (so the value is drawn knowing it is present)."""
    out: list[Span] = []
    for span in spans:
        if span.role == "missing" and out and out[-1].column == span.column:
            out.insert(len(out) - 1, span)
        else:
            out.append(span)
    return out


class AutoregressiveGenerator(Generator):
    """Masked-MLP autoregressive model over column tokens (tables), PixelCNN (images)."""

    name = "autoregressive"
    TABLE_MIN_STEPS = 2000
    # imbalanced digits (bench/downstream.py): 1500 steps at batch 64 gave 0.941 macro-F1,
    # 3000 gave 0.940; the default 100 epochs of ~700 images are 1100 steps.
    IMAGE_MIN_STEPS = 1500

    @dataclass(frozen=True)
    class Config(BaseConfig):
        epochs: int = 30
        batch_size: int = 64
        lr: float = 1e-3
        weight_decay: float = 1e-5
        bins: int = 64  # quantile bins of a numeric column (tables)
        width: int = 256  # table MADE hidden units
        depth: int = 2  # residual blocks (table MADE and image PixelCNN)
        channels: int = 32  # PixelCNN channels (images)
        # None: the image's integer range (high - low + 1) when it is whole-numbered and at
        # most 256 levels, else 256.
        levels: int | None = None
        temperature: float = 1.0  # sampling: logits / temperature
        grad_clip: float = 1.0

        RANGES: ClassVar[dict[str, Range]] = {
            **{k: AT_LEAST_ONE for k in ("width", "depth", "channels")},
            "bins": Range(2, 4096), "levels": Range(2, MAX_LEVELS), "temperature": POSITIVE}

    def _resolve(self, info: DataInfo) -> dict[str, Any]:
        """The intensity levels used for images (see `Config.levels`)."""
        if info.modality != "image":
            return {}
        if self.config.levels is not None:
            return {"levels": self.config.levels}
        t = self.transformer_
        span = int(round(t.high_ - t.low_)) + 1
        return {"levels": span if t.integer_ and span <= MAX_LEVELS else MAX_LEVELS}

    # ---- networks -----------------------------------------------------------------------
    def _build(self, info: DataInfo) -> None:
        c = self.config
        if info.modality == "table":
            self.steps_ = token_spans(info.spans)
            self.vocab_ = [c.bins if s.kind == "continuous" else s.size for s in self.steps_]
            net: nn.Module = TableMADE(self.vocab_, info.n_classes, c.width, c.depth,
                                       info.null_class)
            self.offsets_ = net.offsets  # where each step's one-hot units start in [W]
            # logits [B, W] -> [B, K, max vocab] through one gather; W indexes a -inf pad
            wide = max(self.vocab_)
            self.pad_index_ = torch.tensor(
                [[self.offsets_[k] + v if v < size else self.offsets_[-1] for v in range(wide)]
                 for k, size in enumerate(self.vocab_)], device=self.device)
            self.numeric_steps_ = torch.tensor(
                [k for k, s in enumerate(self.steps_) if s.kind == "continuous"], dtype=torch.long)
            self.numeric_dims_ = torch.tensor(
                [s.start for s in self.steps_ if s.kind == "continuous"], dtype=torch.long)
        else:
            self.levels_ = int(self.resolved_["levels"])
            net = PixelCNN(info.image_shape[0], self.levels_, info.n_classes, c.channels, c.depth,
                           info.null_class)
        self.modules_ = {"net": net}
        # fused: one kernel for the whole update (the element-wise loop of the default
        # implementation took as long as the backward pass on breast_cancer's 1.3M weights)
        self.optimizers_ = {"net": torch.optim.AdamW(net.parameters(), lr=c.lr,
                                                     weight_decay=c.weight_decay, fused=True)}

    def _layouts(self, info: DataInfo, dims: list, classes: list) -> dict[str, list]:
        """The base layouts plus "tokens": one key per one-hot token unit of the MADE's
        input and output (a numeric column's bins keyed by bin number)."""
        base = super()._layouts(info, dims, classes)
        if info.modality != "table":
            return base
        tokens: list = []
        for span in token_spans(info.spans):
            if span.kind == "continuous":
                tokens += [(*dims[span.start], "bin", b) for b in range(self.config.bins)]
            else:
                tokens += dims[span.start : span.end]
        return {**base, "tokens": tokens}

    # ---- tables: encoding <-> tokens ------------------------------------------------------
    def _table_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Token indices [B, K] of encoded rows x [B, D]."""
        tokens = torch.zeros(len(x), len(self.steps_), dtype=torch.long, device=x.device)
        for k, span in enumerate(self.steps_):
            if span.kind != "continuous":
                tokens[:, k] = x[:, span.start : span.end].argmax(dim=1)
        if len(self.numeric_steps_):
            cdf = torch.special.ndtr(x[:, self.numeric_dims_.to(x.device)])
            bins = (cdf * self.config.bins).long().clamp(0, self.config.bins - 1)
            tokens[:, self.numeric_steps_.to(x.device)] = bins
        return tokens

    def _one_hot(self, tokens: torch.Tensor) -> torch.Tensor:
        """One-hot inputs [B, W] of token indices [B, K]."""
        index = tokens + torch.tensor(self.offsets_[:-1], device=tokens.device)
        out = torch.zeros(len(tokens), self.offsets_[-1], device=tokens.device)
        return out.scatter_(1, index, 1.0)

    def _table_rows(self, tokens: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """Encoded rows [N, D] of token indices [N, K]; a value within its bin is uniform
        in CDF space (noise drawn with `rng`)."""
        out = torch.zeros(len(tokens), self.info_.dim, device=tokens.device)
        for k, span in enumerate(self.steps_):
            index = tokens[:, k]
            if span.kind == "continuous":
                within = torch.rand(len(tokens), generator=rng).to(tokens.device)
                cdf = (index.float() + within) / self.config.bins
                value = torch.special.ndtri(cdf.clamp(1e-7, 1 - 1e-7))
                out[:, span.start] = value.clamp(-QUANTILE_BOUND, QUANTILE_BOUND)
            else:
                out[torch.arange(len(tokens)), span.start + index] = 1.0
        return out

    # ---- images: pixels <-> levels ---------------------------------------------------------
    def _levels(self, x: torch.Tensor) -> torch.Tensor:
        """Level indices [B, C, H, W] of images in [-1, 1]."""
        return ((x + 1) / 2 * (self.levels_ - 1)).round().long().clamp(0, self.levels_ - 1)

    def _pixels(self, levels: torch.Tensor) -> torch.Tensor:
        return levels.float() / (self.levels_ - 1) * 2 - 1

    # ---- training and sampling -----------------------------------------------------------
    def _train_step(self, x: torch.Tensor, labels: torch.Tensor, rng: torch.Generator
                    ) -> dict[str, float]:
        """Negative log-likelihood of x [B, D] or [B, C, H, W] given labels [B]: nats per
        row (tables), bits per sub-pixel (images)."""
        net = self.modules_["net"]
        if self.info_.modality == "table":
            tokens = self._table_tokens(x)
            logits = net(self._one_hot(tokens), labels)
            loss = self._table_nll(logits, tokens).mean()
            figure = {"nll": loss.item()}
        else:
            target = self._levels(x)
            logits = net(self._pixels(target), labels)  # [B, C, L, H, W]
            loss = F.cross_entropy(logits.transpose(1, 2), target)
            figure = {"bits_per_dim": loss.item() / math.log(2)}
        optimizer = self.optimizers_["net"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), self.config.grad_clip)
        optimizer.step()
        return figure

    def _table_nll(self, logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood [B] of token rows [B, K] under logits [B, W]: each
        step's cross-entropy over its own vocabulary, summed over the K steps."""
        pad = torch.full((len(logits), 1), float("-inf"), device=logits.device)
        steps = torch.cat([logits, pad], dim=1)[:, self.pad_index_]  # [B, K, max vocab]
        return F.cross_entropy(steps.transpose(1, 2), tokens, reduction="none").sum(dim=1)

    def _draw(self, logits: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """Indices [N] drawn from softmax(logits [N, V] / temperature) by inverting its
        CDF at one uniform per row (drawn on the CPU with `rng`)."""
        cdf = torch.softmax(logits / self.config.temperature, dim=1).cumsum(dim=1)
        u = torch.rand(len(logits), 1, generator=rng).to(logits.device) * cdf[:, -1:]
        return torch.searchsorted(cdf, u).squeeze(1).clamp(max=logits.shape[1] - 1)

    def _generate(self, labels: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """Rows [N, D] or images [N, C, H, W] for class indices labels [N], the steps
        filled in order for the whole block at once (tables: `MADESampler`, one forward
        pass in all; images: one PixelCNN pass per sub-pixel)."""
        net = self.modules_["net"]
        n = len(labels)
        if self.info_.modality == "table":
            tokens = torch.zeros(n, len(self.steps_), dtype=torch.long, device=labels.device)
            steps = net.sampler(labels)
            for k in range(len(self.steps_)):
                tokens[:, k] = self._draw(steps.logits(k), rng)
                steps.feed(k, tokens[:, k])
            return self._table_rows(tokens, rng)
        channels, height, width = self.info_.image_shape
        x = torch.zeros(n, channels, height, width, device=labels.device)
        for i in range(height):
            for j in range(width):
                for c in range(channels):
                    # row i depends on rows <= i only (causal masks): the rest is not run
                    level = self._draw(net(x[:, :, : i + 1], labels)[:, c, :, i, j], rng)
                    x[:, c, i, j] = self._pixels(level)
        return x
