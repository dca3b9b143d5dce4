"""Conditional GAN generator ("gan") for tables and small images.

Objective: WGAN-GP (Gulrajani et al. 2017, https://arxiv.org/abs/1704.00028) by
default; `loss="hinge"` trains a hinge loss with a spectrally normalised critic
(Miyato et al. 2018, https://arxiv.org/abs/1802.05957) instead. Labels enter the
generator as an embedding (input + FiLM) and the critic through a projection head
(Miyato & Koyama 2018, https://arxiv.org/abs/1802.05637). Against mode collapse the
critic sees a minibatch-std feature (Karras et al. 2018, https://arxiv.org/abs/1710.10196);
samples come from an exponential moving average of the generator weights (Yazici et
al. 2019, https://arxiv.org/abs/1806.04498). A per-class diversity ratio is recorded
in the training curve every epoch, so that collapse shows there.

Tables: softmax spans of the generator output go through a Gumbel-softmax (as in
CTGAN, Xu et al. 2019, https://arxiv.org/abs/1907.00503) before the critic, which is
trained on the real one-hot rows; continuous (quantile-normal) dims pass through.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from augment.config import AT_LEAST_ONE, POSITIVE, Range
from augment.data.transformers import Span
from augment.generators.base import BaseConfig, DataInfo, Generator, module_parameters
from augment.generators.gan_nets import ImageCritic, ImageGenerator, TableCritic, TableGenerator
from augment.generators.networks import EMA, activate_spans, gumbel_noise


# ---- the process: losses ----------------------------------------------------------------
def critic_loss(kind: str, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Critic loss from scores [B] on real and fake rows (hinge or Wasserstein)."""
    if kind == "hinge":
        return torch.relu(1.0 - real_scores).mean() + torch.relu(1.0 + fake_scores).mean()
    return fake_scores.mean() - real_scores.mean()


def generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """Generator loss from critic scores [B] on fakes (the same for hinge and WGAN)."""
    return -fake_scores.mean()


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                     labels: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """WGAN-GP term mean((||grad critic(x_hat)|| - 1)^2) on random interpolates x_hat.

    real, fake: [B, ...] on the same device; interpolation weights are drawn with `rng`.
    """
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    alpha = torch.rand(shape, generator=rng).to(real.device)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    scores = critic(mixed, labels)
    (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    norm = (grad.flatten(1).pow(2).sum(dim=1) + 1e-12).sqrt()  # eps: finite gradient at 0
    return (norm - 1.0).pow(2).mean()


def gumbel_logits(raw: torch.Tensor, spans: Sequence[Span], tau: float, rng: torch.Generator
                  ) -> torch.Tensor:
    """Raw rows [B, D] -> (raw + Gumbel noise) / tau on softmax spans, continuous dims as is.

    A softmax over each span of the result is a Gumbel-softmax sample (Jang et al. 2017,
    https://arxiv.org/abs/1611.01144). Noise is drawn with `rng` on the CPU for determinism.
    """
    gumbel = gumbel_noise(raw.shape, rng, raw.device)
    is_softmax = torch.zeros(raw.shape[1], dtype=torch.bool, device=raw.device)
    for span in spans:
        if span.kind == "softmax":
            is_softmax[span.start : span.end] = True
    return torch.where(is_softmax, (raw + gumbel) / tau, raw)


def activated(raw: torch.Tensor, info: DataInfo, tau: float, rng: torch.Generator,
              hard: bool) -> torch.Tensor:
    """A generator's raw output as the critic sees it: images [B, C, H, W] as they are;
    table rows [B, D] with each softmax span a Gumbel-softmax draw at temperature `tau`
    (one-hot with straight-through gradients when `hard`), continuous dims as they are."""
    if info.modality == "image":
        return raw
    return activate_spans(gumbel_logits(raw, info.spans, tau, rng), info.spans, hard=hard)


def mean_pairwise_distance(x: torch.Tensor) -> float:
    """Mean Euclidean distance between distinct rows of x [N, ...] (0 when N < 2)."""
    flat = x.flatten(1).float()
    n = len(flat)
    if n < 2:
        return 0.0
    return float(torch.cdist(flat, flat).sum() / (n * (n - 1)))


# ---- the Generator glue ---------------------------------------------------------------
@dataclass(frozen=True)
class AdversarialConfig(BaseConfig):
    """Hyperparameters of the WGAN-GP recipe that the gan and translation families share."""

    epochs: int = 30
    batch_size: int = 128
    lr: float = 2e-4  # generator Adam learning rate
    critic_lr: float = 4e-4  # a faster critic (TTUR, https://arxiv.org/abs/1706.08500)
    betas: tuple[float, float] = (0.0, 0.9)
    gp_weight: float = 10.0  # WGAN-GP only
    latent_dim: int = 64
    embed_dim: int = 32
    width: int = 256  # table MLP width
    depth: int = 2  # table residual blocks (generator) / hidden layers (critic)
    channels: int = 32  # image conv channels
    mbstd_group: int = 4  # minibatch-std group size; 0 turns it off
    ema_decay: float = 0.999
    gumbel_tau: float = 0.2  # Gumbel-softmax temperature for softmax spans (tables)

    RANGES: ClassVar[dict[str, Range]] = {
        **{k: AT_LEAST_ONE for k in ("latent_dim", "embed_dim", "width", "depth", "channels")},
        "critic_lr": POSITIVE, "gumbel_tau": POSITIVE, "ema_decay": Range(0, 1, high_open=True)}


def adversarial_parts(gen: nn.Module, critic: nn.Module, cfg: AdversarialConfig
                      ) -> tuple[dict[str, nn.Module], dict[str, torch.optim.Optimizer]]:
    """(modules, optimizers) of a generator/critic pair: the two networks, an EMA of the
    generator (what samples come from), and an Adam optimiser for each network."""
    modules = {"generator": gen, "critic": critic, "ema": EMA(gen, cfg.ema_decay)}
    optimizers = {
        "generator": torch.optim.Adam(module_parameters(modules, "generator"), lr=cfg.lr,
                                      betas=cfg.betas, foreach=True),
        "critic": torch.optim.Adam(module_parameters(modules, "critic"), lr=cfg.critic_lr,
                                   betas=cfg.betas, foreach=True),
    }
    return modules, optimizers


class GANGenerator(Generator):
    """Class-conditional GAN; see the module docstring. Sampling uses the EMA generator."""

    name = "gan"
    # breast_cancer (398 training rows, 3 steps per epoch): gan failed the gate at its 90
    # default steps and passed at 1000 (bench/results/gate_catch*.json).
    TABLE_MIN_STEPS = 1000

    @dataclass(frozen=True)
    class Config(AdversarialConfig):
        loss: Literal["wgan-gp", "hinge"] = "wgan-gp"
        n_critic: int = 1  # critic updates per generator update
        gumbel_hard: bool = False  # straight-through one-hot fakes for the critic
        diversity_samples: int = 32  # per class, for the per-epoch diversity figure

        RANGES: ClassVar[dict[str, Range]] = {"n_critic": AT_LEAST_ONE}  # (merged with the base's)

    config: Config

    # ---- hooks --------------------------------------------------------------------
    def _build(self, info: DataInfo) -> None:
        cfg = self.config
        spectral = cfg.loss == "hinge"
        labels = info.n_classes + int(info.null_class)  # embedding rows
        if info.modality == "table":
            gen: nn.Module = TableGenerator(labels, info.dim, cfg.latent_dim, cfg.width,
                                            cfg.depth, cfg.embed_dim)
            critic: nn.Module = TableCritic(labels, info.dim, cfg.width, cfg.depth,
                                            spectral, cfg.mbstd_group)
        else:
            gen = ImageGenerator(labels, info.image_shape, cfg.latent_dim, cfg.channels,
                                 cfg.embed_dim)
            critic = ImageCritic(labels, info.image_shape, cfg.channels, spectral,
                                 cfg.mbstd_group)
        self.modules_, self.optimizers_ = adversarial_parts(gen, critic, cfg)

    def _prepare(self, *args: Any, **kwargs: Any
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """The base checks and encoding, plus the spread of a few real rows per class (the
        first `diversity_samples` of each) as the reference for the diversity figure."""
        data, labels, pool = super()._prepare(*args, **kwargs)
        k = self.config.diversity_samples
        self._real_spread = [mean_pairwise_distance(data[labels == c][:k])
                             for c in range(self.info_.n_classes)]
        return data, labels, pool

    def _fake(self, net: nn.Module, labels: torch.Tensor, rng: torch.Generator,
              hard: bool) -> torch.Tensor:
        """Generated rows [B, D] (softmax spans a Gumbel-softmax draw, one-hot when `hard`)
        or images [B, C, H, W]."""
        z = torch.randn(len(labels), self.config.latent_dim, generator=rng).to(labels.device)
        return activated(net(z, labels), self.info_, self.config.gumbel_tau, rng, hard)

    def _train_step(self, x: torch.Tensor, labels: torch.Tensor, rng: torch.Generator
                    ) -> dict[str, float]:
        cfg = self.config
        gen, critic, ema = (self.modules_[k] for k in ("generator", "critic", "ema"))
        # Critic step: real encoded rows (one-hot on softmax spans) against activated fakes,
        # both with the batch's labels so the projection head learns p(x | y).
        with torch.no_grad():
            fake = self._fake(gen, labels, rng, cfg.gumbel_hard)
        real_scores, fake_scores = critic(x, labels), critic(fake, labels)
        loss_d = critic_loss(cfg.loss, real_scores, fake_scores)
        losses = {"loss_d": loss_d.item(), "real_score": real_scores.mean().item(),
                  "fake_score": fake_scores.mean().item()}
        if cfg.loss == "wgan-gp":
            penalty = gradient_penalty(critic, x, fake, labels, rng)
            loss_d = loss_d + cfg.gp_weight * penalty
            losses["gp"] = penalty.item()
        self.optimizers_["critic"].zero_grad(set_to_none=True)
        loss_d.backward()
        self.optimizers_["critic"].step()
        ema.steps += 1
        steps = int(ema.steps)
        if steps % max(cfg.n_critic, 1) == 0:
            critic.requires_grad_(False)  # no critic gradients needed for the generator step
            loss_g = generator_loss(critic(self._fake(gen, labels, rng, cfg.gumbel_hard), labels))
            self.optimizers_["generator"].zero_grad(set_to_none=True)
            loss_g.backward()
            self.optimizers_["generator"].step()
            critic.requires_grad_(True)
            ema.update(gen, steps // max(cfg.n_critic, 1))
            self._last_loss_g = loss_g.item()
        losses["loss_g"] = getattr(self, "_last_loss_g", 0.0)
        return losses

    @torch.no_grad()
    def _generate(self, labels: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        # Tables: sample each softmax span from the generator's Gumbel-softmax, as in
        # training (an argmax of the logits would drop minority categories).
        return self._fake(self.modules_["ema"], labels, rng, hard=True)

    @torch.no_grad()
    def _end_epoch(self, epoch: int) -> dict[str, float]:
        """Per-class diversity: mean pairwise distance of EMA samples / that of real rows,
        averaged over classes (1 = as diverse as the data, near 0 = collapsed)."""
        k = self.config.diversity_samples
        spread = getattr(self, "_real_spread", None)
        if k < 2 or not spread:
            return {}
        rng = torch.Generator().manual_seed(self.config.seed + 2)  # same noise every epoch
        ratios = []
        for c, real in enumerate(spread):
            labels = torch.full((k,), c, dtype=torch.long, device=self.device)
            fake = self._fake(self.modules_["ema"], labels, rng, hard=True)
            if real > 0:
                ratios.append(mean_pairwise_distance(fake.cpu()) / real)
        return {"diversity": sum(ratios) / len(ratios)} if ratios else {}
