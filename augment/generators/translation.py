"""Class-to-class translation ("translation"): new rows of a class made from real rows
of other classes by a cycle-consistent, class-conditional GAN.

```python
gen = get_generator("translation", seed=0).fit(X, y)
X_syn, y_syn = gen.sample({"minority": 300}, seed=1)          # from the larger classes
X_syn, y_syn, X_src, y_src = gen.sample({"minority": 8}, seed=1, return_sources=True)
```

One generator G(x, z, t) maps a row x of any class to target class t (with a little
noise z), so n classes need one model, not n² CycleGANs (the single-generator form of
StarGAN, Choi et al. 2018, https://arxiv.org/abs/1711.09020). Its losses:

- adversarial: the GAN family's WGAN-GP critic (`gan.critic_loss`, `gradient_penalty`)
  with a projection head, i.e. a real/fake score per class, sees real rows with their
  labels against translated rows with their target labels. Targets are the batch's own
  labels shuffled, so every class gets as many fakes as real rows in every batch, and
  training pairs source and target classes across all classes;
- cycle consistency (Zhu et al. 2017, https://arxiv.org/abs/1703.10593): x -> t -> y
  must give x back (L1 in the encoding: N(0, 1) scores, one-hot categories);
- identity: x translated to its own class stays x.

Tables: G is an MLP with a skip of its input (the identity is where it starts); softmax
spans of the output are drawn with a Gumbel-softmax as in the GAN family. Images: a small
U-Net. Samples come from an exponential moving average of G.

Sampling draws one source row per synthetic row, seeded by the sampling seed and block as
every family's noise is (so shards equal their slice of the whole), from the training
rows the model keeps (`sources="larger"`: the classes with more training rows than the
target, or every other class for the largest one; "others"; "all") or from rows passed
with `sample(..., sources=X)`. **The saved model therefore holds its (encoded) training
rows**: treat a model folder of this family as you treat the data.

Each epoch's curve row has "change": the mean absolute change (encoded units) that the
EMA generator makes when it translates a fixed batch to other classes; near 0 means it
learnt the identity, the failure mode of this family (`pair_distances` measures it on a
sample).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from torch import nn

from augment.errors import DataError
from augment.generators.base import DataInfo, Generator
from augment.generators.gan import (
    AdversarialConfig,
    activated,
    adversarial_parts,
    critic_loss,
    generator_loss,
    gradient_penalty,
)
from augment.generators.gan_nets import ImageCritic, TableCritic
from augment.generators.translation_nets import ImageTranslator, TableTranslator

CHANGE_ROWS = 64  # rows of the fixed batch behind the per-epoch "change" figure


class TranslationGenerator(Generator):
    """Cycle-consistent class-to-class translation; see the module docstring."""

    name = "translation"
    # Measured on imbalanced digits (bench/downstream.py, a forest of the real training
    # rows as judge): 150 steps (30 epochs at batch 128) made 35% of translated images
    # read as their target class, 1000 steps at batch 64 made 97-99%.
    TABLE_MIN_STEPS = 1000
    IMAGE_MIN_STEPS = 1000

    @dataclass(frozen=True)
    class Config(AdversarialConfig):
        # Adult (22.8k rows): 30 epochs at batch 64 took 438 s on 2 cores; 15 halve it
        epochs: int = 15
        batch_size: int = 64
        # The GAN family's 10 held the critic's gradients so low that the reconstruction
        # terms won: on a two-class toy (tests/test_translation.py) and on Adult half the
        # translated rows stayed in their source class. 1 moves them.
        gp_weight: float = 1.0
        latent_dim: int = 16  # noise beside the source row
        # CycleGAN's 10 and 5 made breast_cancer's translator the identity (every
        # translated row read as its source class); 2 and 1 moved 92% into the target class.
        cycle_weight: float = 2.0  # L1 of x -> t -> y against x
        identity_weight: float = 1.0  # L1 of x -> y against x
        sources: Literal["larger", "others", "all"] = "larger"  # where sample() draws from

    config: Config

    # ---- networks and kept rows ---------------------------------------------------
    def _build(self, info: DataInfo) -> None:
        cfg = self.config
        labels = info.n_classes + int(info.null_class)
        if info.modality == "table":
            gen: nn.Module = TableTranslator(labels, info.spans, info.dim, cfg.latent_dim,
                                             cfg.width, cfg.depth, cfg.embed_dim)
            critic: nn.Module = TableCritic(labels, info.dim, cfg.width, cfg.depth, False,
                                            cfg.mbstd_group)
        else:
            gen = ImageTranslator(labels, info.image_shape, cfg.latent_dim, cfg.channels,
                                  cfg.depth, cfg.embed_dim)
            critic = ImageCritic(labels, info.image_shape, cfg.channels, False, cfg.mbstd_group)
        self.modules_, self.optimizers_ = adversarial_parts(gen, critic, cfg)

    def _layouts(self, info: DataInfo, dims: list, classes: list) -> dict[str, list]:
        """The base layouts plus "dims+condition": the table translator's input, the
        source row's dims then the target embedding and the noise."""
        cond = [("<condition>", i) for i in range(self.config.embed_dim + self.config.latent_dim)]
        return {**super()._layouts(info, dims, classes), "dims+condition": [*dims, *cond]}

    def _prepare(self, *args: Any, **kwargs: Any
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """The base checks and encoding; the encoded labelled rows are kept as sources."""
        data, labels, pool = super()._prepare(*args, **kwargs)
        self._keep_sources(data, labels)
        return data, labels, pool

    def _keep_sources(self, rows: torch.Tensor, labels: torch.Tensor) -> None:
        self.source_rows_, self.source_labels_ = rows, labels.long()
        self._pools: dict[int, torch.Tensor] = {}

    def _state_tensors(self) -> dict[str, torch.Tensor]:
        return {"source_rows": self.source_rows_, "source_labels": self.source_labels_}

    def _load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        if "source_rows" not in tensors or "source_labels" not in tensors:
            raise DataError("the weights file lacks the translation family's source rows")
        self._keep_sources(tensors["source_rows"], tensors["source_labels"])

    def source_pool(self, target: int) -> torch.Tensor:
        """Indices [M] of the kept rows that `sample` draws from for class index `target`."""
        if target not in self._pools:
            counts, kept = self.info_.class_counts, self.source_labels_
            if self.config.sources == "all":
                mask = torch.ones_like(kept, dtype=torch.bool)
            else:
                larger = [c for c, n in enumerate(counts) if n > counts[target]]
                if self.config.sources == "others" or not larger:
                    mask = kept != target
                else:
                    mask = torch.isin(kept, torch.tensor(larger))
            self._pools[target] = torch.nonzero(mask).flatten()
        return self._pools[target]

    # ---- training ---------------------------------------------------------------------
    def _translate(self, net: nn.Module, x: torch.Tensor, target: torch.Tensor,
                   rng: torch.Generator, hard: bool = False) -> torch.Tensor:
        """Rows x [B, D] (images [B, C, H, W]) translated to class indices target [B]:
        activated encodings (tables: a Gumbel-softmax draw per span, one-hot when `hard`)."""
        z = torch.randn(len(x), self.config.latent_dim, generator=rng).to(x.device)
        return activated(net(x, z, target), self.info_, self.config.gumbel_tau, rng, hard)

    def _train_step(self, x: torch.Tensor, labels: torch.Tensor, rng: torch.Generator
                    ) -> dict[str, float]:
        cfg = self.config
        gen, critic, ema = (self.modules_[k] for k in ("generator", "critic", "ema"))
        # Targets: the batch's labels shuffled, so the critic of each class sees as many
        # translated rows as real ones; x[perm] are real rows of those targets (for the GP).
        perm = torch.randperm(len(x), generator=rng).to(x.device)
        target = labels[perm]
        with torch.no_grad():
            fake = self._translate(gen, x, target, rng)
        real_scores, fake_scores = critic(x, labels), critic(fake, target)
        penalty = gradient_penalty(critic, x[perm], fake, target, rng)
        loss_d = critic_loss("wgan-gp", real_scores, fake_scores) + cfg.gp_weight * penalty
        self.optimizers_["critic"].zero_grad(set_to_none=True)
        loss_d.backward()
        self.optimizers_["critic"].step()

        critic.requires_grad_(False)
        # x to the targets and x to its own class in one call (the identity term)
        both = self._translate(gen, torch.cat([x, x]), torch.cat([target, labels]), rng)
        fake, same = both[: len(x)], both[len(x) :]
        adversarial = generator_loss(critic(fake, target))
        cycle = (self._translate(gen, fake, labels, rng) - x).abs().mean()
        identity = (same - x).abs().mean()
        loss_g = adversarial + cfg.cycle_weight * cycle + cfg.identity_weight * identity
        self.optimizers_["generator"].zero_grad(set_to_none=True)
        loss_g.backward()
        self.optimizers_["generator"].step()
        critic.requires_grad_(True)
        ema.steps += 1
        ema.update(gen, int(ema.steps))
        return {"loss_d": loss_d.item(), "gp": penalty.item(), "loss_g": loss_g.item(),
                "cycle": cycle.item(), "identity": identity.item()}

    @torch.no_grad()
    def _end_epoch(self, epoch: int) -> dict[str, float]:
        """{"change": mean |G(x, t) - x|} of the EMA generator on the first CHANGE_ROWS
        kept rows, each sent to the next class (same noise every epoch)."""
        n = self.info_.n_classes
        rows = self.source_rows_[:CHANGE_ROWS].to(self.device)
        labels = self.source_labels_[:CHANGE_ROWS].to(self.device)
        rng = torch.Generator().manual_seed(self.config.seed + 2)
        moved = self._translate(self.modules_["ema"], rows, (labels + 1) % n, rng, hard=True)
        return {"change": float((moved - rows).abs().mean())}

    # ---- sampling -----------------------------------------------------------------------
    def _generate(self, labels: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """Translated rows for class indices labels [N]: a source row per row, drawn with
        `rng` from the class's source pool (or the rows passed to `sample`)."""
        u = torch.rand(len(labels), generator=rng)
        picks = torch.empty(len(labels), dtype=torch.long)
        given = self._given
        for target in labels.unique().tolist():
            where = (labels == target).cpu()
            pool = torch.arange(len(given)) if given is not None else self.source_pool(target)
            if not len(pool):
                raise DataError(f"no source rows to translate to class {self.classes_[target]!r}")
            picks[where] = pool[(u[where] * len(pool)).long().clamp(max=len(pool) - 1)]
        if self._picks is not None:
            self._picks.append(picks)
        rows = (given if given is not None else self.source_rows_)[picks].to(self.device)
        return self._translate(self.modules_["ema"], rows, labels, rng, hard=True)

    _given: torch.Tensor | None = None  # encoded rows passed to sample(sources=...)
    _picks: list[torch.Tensor] | None = None  # source indices per block while sampling

    def sample(self, counts: Mapping[Any, int], seed: int = 0, rows: tuple[int, int] | None = None,
               sources: Any = None, return_sources: bool = False) -> tuple:
        """As every family's `sample` (exact counts, determinism, `rows=` shards), plus:

        Args:
            sources: rows to translate instead of the kept training rows: X [M, F] (a
                DataFrame with the training columns, or images of the training shape),
                or (X, y) to have their labels returned; every row is a candidate for
                every target class.
            return_sources: also return the source row of each synthetic row.

        Returns:
            (X_syn, y_syn), or with `return_sources` (X_syn, y_syn, X_src, y_src): X_src
            row i is what row i was translated from (a decoded training row, or the row of
            `sources`), y_src its label (None where `sources` came without labels).
        """
        self._check_fitted()
        given_X, given_y = sources if isinstance(sources, tuple) else (sources, None)
        self._given = None if sources is None else self._encode_sources(given_X, given_y)
        self._picks = []
        try:
            X_syn, y_syn = super().sample(counts, seed, rows)
            picks = torch.cat(self._picks) if self._picks else torch.zeros(0, dtype=torch.long)
        finally:
            self._given, self._picks = None, None
        if not return_sources:
            return X_syn, y_syn
        index = picks.numpy()
        if sources is None:
            X_src = self.transformer_.inverse_transform(self.source_rows_[picks].numpy())
            y_src = np.asarray([self.classes_[i] for i in self.source_labels_[picks].tolist()],
                               dtype=self.label_dtype_)
        else:
            X_src = (given_X.iloc[index].reset_index(drop=True) if isinstance(given_X, pd.DataFrame)
                     else np.asarray(given_X)[index])
            y_src = (np.full(len(index), None, dtype=object) if given_y is None
                     else np.asarray(given_y)[index])
        return X_syn, y_syn, X_src, y_src

    def _encode_sources(self, X: Any, y: Any) -> torch.Tensor:
        """Encoded rows [M, D] or images [M, C, H, W] of `sample(sources=...)`."""
        table = self.info_.modality == "table"
        if table and not isinstance(X, pd.DataFrame):
            raise DataError(f"sources for a table model must be a DataFrame, got {type(X).__name__}")
        if not table and not isinstance(X, np.ndarray):
            raise DataError(f"sources for an image model must be an ndarray, got {type(X).__name__}")
        if len(X) == 0:
            raise DataError("sources holds no rows")
        if y is not None and len(y) != len(X):
            raise DataError(f"{len(X)} source rows but {len(y)} source labels")
        if table:
            missing = [c for c in self.transformer_.schema_.names if c not in X.columns]
            if missing:
                raise DataError(f"sources lack the columns {missing}")
        return torch.from_numpy(self.transformer_.transform(X)).float()


def pair_distances(gen: TranslationGenerator, X_syn: Any, y_syn: Any, X_src: Any
                   ) -> dict[str, float]:
    """How far translation moved rows, in the model's encoding (RMS over encoded dims).

    Args:
        gen: the fitted translation model (its kept rows are the real reference).
        X_syn, y_syn: translated rows [N, ...] and their classes.
        X_src: the source row of each, as `sample(..., return_sources=True)` gives.

    Returns:
        source_distance: median distance of a translated row to its source;
        target_distance: median distance to the nearest kept row of its class;
        real_neighbour_distance: median distance of a kept row to the nearest other kept
            row of its class (the data's own spacing);
        unchanged_share: share of rows nearer their source than half that spacing (a
            translation that changed nothing: the failure mode);
        nearer_source_share: share of rows nearer their source than to every kept row
            of the target class.
    """
    syn = torch.from_numpy(gen.transformer_.transform(X_syn)).flatten(1).double()
    src = torch.from_numpy(gen.transformer_.transform(X_src)).flatten(1).double()
    kept = gen.source_rows_.flatten(1).double()
    labels = torch.from_numpy(gen.label_indices(y_syn))
    scale = syn.shape[1] ** 0.5
    to_source = (syn - src).norm(dim=1) / scale
    to_target = torch.full((len(syn),), float("nan"), dtype=torch.float64)
    spacing = []
    for c in labels.unique().tolist():
        real = kept[gen.source_labels_ == c]
        mine = labels == c
        to_target[mine] = torch.cdist(syn[mine], real).min(dim=1).values / scale
        inner = torch.cdist(real, real)
        inner.fill_diagonal_(float("inf"))
        if len(real) > 1:
            spacing.append(inner.min(dim=1).values / scale)
    spacing_median = float(torch.cat(spacing).median()) if spacing else float("nan")
    return {"source_distance": float(to_source.median()),
            "target_distance": float(to_target.median()),
            "real_neighbour_distance": spacing_median,
            "unchanged_share": float((to_source < 0.5 * spacing_median).double().mean()),
            "nearer_source_share": float((to_source < to_target).double().mean())}
