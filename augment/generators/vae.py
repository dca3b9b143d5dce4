"""Conditional VAE generator for tables and images.

Training minimises the negative ELBO (Kingma & Welling 2014,
https://arxiv.org/abs/1312.6114) of p(x | y), the label y given to encoder and decoder
(a conditional VAE, Sohn et al. 2015): reconstruction NLL + kl_weight * KL(q(z | x, y)
|| N(0, I)). Sampling decodes z from a per-class latent Gaussian with the wanted label.

- Tables (after TVAE, Xu et al. 2019, https://arxiv.org/abs/1907.00503): softmax spans
  are categorical, continuous dims a mixture of Gaussians with learned per-column
  scales (`TableLikelihood`); by default samples are drawn from these likelihoods, not
  their modes (`categorical`, `continuous_noise`).
- Images (`image_loss="optimal"`, the default): Gaussian pixels whose sigma is the
  batch's RMS error (the "optimal sigma" of Rybkin et al. 2021,
  https://arxiv.org/abs/2006.13202), which balances reconstruction against KL from the
  first step.
- Latent prior for sampling: with `prior="class"` (the default), one Gaussian per class
  matching the aggregate posterior of the last training epoch (`LatentPrior` in
  `vae_nets.py`); with `prior="standard"`, N(0, I).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from augment.config import AT_LEAST_ONE, POSITIVE, Range
from augment.data.transformers import Span
from augment.errors import DataError
from augment.generators.base import BaseConfig, DataInfo, Generator, module_parameters
from augment.generators.networks import gumbel_noise
from augment.generators.vae_nets import (
    ImageDecoder,
    ImageEncoder,
    LatentPrior,
    TableDecoder,
    TableEncoder,
)

# TVAE keeps the learned sigmas in [0.01, 1]: below, the NLL rewards memorising; above,
# a normalised column is pure noise.
SIGMA_MIN, SIGMA_MAX = 0.01, 1.0
# Floor of the "optimal" pixel sigma (images in [-1, 1]): a batch reconstructed perfectly
# would otherwise make the likelihood, and the gradient scale, unbounded.
IMAGE_SIGMA_MIN = 0.01


# ---- the process: ELBO terms -------------------------------------------------------------
def gaussian_kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, I)) summed over latents, mean over the batch [B, L]."""
    return gaussian_kl_rows(mean, logvar).mean()


def gaussian_kl_rows(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, I)) of each row [B], summed over latents [B, L]."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)


class TableLikelihood:
    """p(x | z, y) for an encoded table row, one factor per span.

    Softmax spans: categorical (cross-entropy on logits). Continuous dims: a mixture of
    `components` Gaussians with per-row weights and means and per-column scales. With
    one component this is TVAE's Gaussian; with several it also fits the spikes the
    quantile map leaves (capital-gain is 92% zeros, all mapped to -5.2) and discrete
    numeric columns, which one Gaussian smears (a mixture density network, Bishop 1994).

    Decoder output layout [B, out_dim]: the softmax dims in encoded order, then for each
    continuous dim `components` mixture logits and `components` means.
    """

    def __init__(self, spans: Sequence[Span], components: int) -> None:
        self.k = components
        self.softmax_spans = [s for s in spans if s.kind == "softmax"]
        self.soft_index = torch.tensor(
            [i for s in self.softmax_spans for i in range(s.start, s.end)], dtype=torch.long)
        self.cont_index = torch.tensor([s.start for s in spans if s.kind == "continuous"],
                                       dtype=torch.long)
        self.n_soft, self.n_cont = len(self.soft_index), len(self.cont_index)
        self.dim = spans[-1].end if spans else 0
        self.out_dim = self.n_soft + 2 * components * self.n_cont

    def split(self, raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """raw [B, out_dim] -> (softmax logits [B, n_soft], mixture logits [B, n_cont, K],
        means [B, n_cont, K])."""
        mixture = raw[:, self.n_soft :].view(len(raw), self.n_cont, 2, self.k)
        return raw[:, : self.n_soft], mixture[:, :, 0], mixture[:, :, 1]

    def nll(self, raw: torch.Tensor, x: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood (constants dropped), mean over the batch.

        raw: decoder output [B, out_dim]; x: encoded rows [B, D]; log_sigma [n_cont, K].
        """
        return self.nll_rows(raw, x, log_sigma).mean()

    def nll_rows(self, raw: torch.Tensor, x: torch.Tensor, log_sigma: torch.Tensor
                 ) -> torch.Tensor:
        """Negative log-likelihood of each row [B] (constants dropped); arguments as `nll`."""
        logits, weights, means = self.split(raw)
        total = raw.new_zeros(len(raw))
        if self.n_cont:
            target = x[:, self.cont_index.to(x.device)].unsqueeze(-1)  # [B, n_cont, 1]
            log_p = (-0.5 * ((target - means) * torch.exp(-log_sigma)).pow(2) - log_sigma
                     + F.log_softmax(weights, dim=-1))
            total = total - torch.logsumexp(log_p, dim=-1).sum(dim=1)
        offset = 0
        for span in self.softmax_spans:
            block = logits[:, offset : offset + span.size]
            total = total + F.cross_entropy(block, x[:, span.start : span.end].argmax(dim=1),
                                            reduction="none")
            offset += span.size
        return total

    def sample(self, raw: torch.Tensor, log_sigma: torch.Tensor, rng: torch.Generator,
               categorical: str, continuous_noise: bool) -> torch.Tensor:
        """Draw encoded rows [N, D] from the decoder output raw [N, out_dim].

        Continuous dims: a mixture component drawn by its weight, its mean, plus sigma *
        N(0, 1) noise when `continuous_noise` (as TVAE samples). Softmax spans: logits,
        plus Gumbel noise when `categorical == "sample"`, so the transformer's argmax
        is a draw from the softmax (the Gumbel-max trick).
        """
        logits, weights, means = self.split(raw)
        out = raw.new_zeros((len(raw), self.dim))
        if self.n_soft:
            if categorical == "sample":
                logits = logits + gumbel_noise(logits.shape, rng, raw.device)
            out[:, self.soft_index.to(raw.device)] = logits
        if self.n_cont:
            pick = (weights + gumbel_noise(weights.shape, rng, raw.device)).argmax(-1, keepdim=True)
            value = means.gather(-1, pick).squeeze(-1)  # [N, n_cont]
            if continuous_noise:
                scale = log_sigma.exp().expand_as(means).gather(-1, pick).squeeze(-1)
                value = value + scale * torch.randn(value.shape, generator=rng).to(raw.device)
            out[:, self.cont_index.to(raw.device)] = value
        return out


def image_nll(raw: torch.Tensor, target: torch.Tensor, loss: str, log_sigma: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-image negative log-likelihood summed over pixels (mean over the batch), and
    the pixel sigma it used (None for "bce").

    raw: decoder output [B, C, H, W]; target: images in [-1, 1]; log_sigma: the
    decoder's learned scalar. Losses, mean tanh(raw) unless noted:
    "optimal": Gaussian whose sigma^2 is the batch's mean squared error (the sigma
    that maximises the likelihood, Rybkin et al. 2021); "gaussian": Gaussian with
    the learned sigma exp(log_sigma); "mse": summed squared error (sigma = 1/sqrt(2));
    "bce": Bernoulli on pixels mapped to [0, 1], mean sigmoid(raw).
    """
    if loss == "bce":
        return image_nll_rows(raw, target, loss, log_sigma).mean(), None
    if loss == "mse":
        return image_nll_rows(raw, target, loss, log_sigma).mean(), raw.new_full((), math.sqrt(0.5))
    if loss == "optimal":
        # detached: the gradient of D/2 log(MSE) equals that of SSE / (2 sigma^2) at this sigma
        squared = (torch.tanh(raw) - target).pow(2)
        log_sigma = 0.5 * torch.log(squared.mean().detach().clamp_min(IMAGE_SIGMA_MIN**2))
    nll = image_nll_rows(raw, target, "gaussian", log_sigma)
    return nll.mean(), log_sigma.detach().exp().squeeze()


def image_nll_rows(raw: torch.Tensor, target: torch.Tensor, loss: str, log_sigma: torch.Tensor
                   ) -> torch.Tensor:
    """Negative log-likelihood of each image [B], summed over pixels, at a given pixel
    sigma exp(log_sigma) ("optimal" and "gaussian" alike); arguments as `image_nll`."""
    if loss == "bce":
        nll = F.binary_cross_entropy_with_logits(raw, (target + 1) / 2, reduction="none")
        return nll.flatten(1).sum(dim=1)
    squared = (torch.tanh(raw) - target).pow(2)
    if loss == "mse":
        return squared.flatten(1).sum(dim=1)
    return (0.5 * squared * torch.exp(-2 * log_sigma) + log_sigma).flatten(1).sum(dim=1)


def image_mean(raw: torch.Tensor, loss: str) -> torch.Tensor:
    """Decoder output [B, C, H, W] -> the likelihood's mean in [-1, 1]."""
    return torch.tanh(raw / 2) if loss == "bce" else torch.tanh(raw)  # 2*sigmoid(r)-1 = tanh(r/2)


def kl_weight_at(epoch: int, weight: float, anneal_epochs: int) -> float:
    """KL weight for 0-based `epoch`: linear warm-up over `anneal_epochs` (Bowman et al.
    2016, https://arxiv.org/abs/1511.06349), then `weight`."""
    if anneal_epochs <= 0:
        return weight
    return weight * min(1.0, (epoch + 1) / anneal_epochs)


# ---- the Generator glue ------------------------------------------------------------------
class VAEGenerator(Generator):
    """Conditional VAE; see the module docstring."""

    name = "vae"
    # breast_cancer (398 training rows, 3 steps per epoch): vae passed the gate at 180
    # and at 1000 steps (bench/results/gate_catch*.json); 1000 costs seconds.
    TABLE_MIN_STEPS = 1000

    @dataclass(frozen=True)
    class Config(BaseConfig):
        epochs: int = 60
        batch_size: int = 128
        lr: float = 1e-3
        weight_decay: float = 1e-5
        latent_dim: int = 32
        embed_dim: int = 32
        width: int = 128  # table MLP width
        depth: int = 2  # residual blocks per table MLP
        channels: int = 32  # base conv channels (images)
        kl_weight: float = 1.0
        kl_anneal_epochs: int = 0  # epochs of linear KL warm-up (0 = none)
        components: int = 5  # Gaussians per continuous table column
        sigma: Literal["learned", "fixed"] = "learned"  # table continuous sigma
        sigma_init: float = 0.1  # initial (or fixed) table sigma
        image_loss: Literal["optimal", "gaussian", "mse", "bce"] = "optimal"
        prior: Literal["standard", "class"] = "class"  # latent Gaussian sampled from
        temperature: float = 1.0  # latent scale at sampling
        categorical: Literal["argmax", "sample"] = "sample"  # table softmax spans at sampling
        continuous_noise: bool = True  # add sigma * N(0, 1) to continuous means at sampling

        RANGES: ClassVar[dict[str, Range]] = {
            **{k: AT_LEAST_ONE for k in ("latent_dim", "embed_dim", "width", "channels",
                                         "components")},  # depth 0: no residual block
            "sigma_init": POSITIVE, "temperature": POSITIVE}

    config: Config

    def _build(self, info: DataInfo) -> None:
        c = self.config
        labels = info.n_classes + int(info.null_class)  # embedding rows
        if info.modality == "table":
            encoder = TableEncoder(info.dim, labels, c.latent_dim, c.width, c.depth,
                                   c.embed_dim)
            self.likelihood_ = TableLikelihood(info.spans, c.components)
            decoder = TableDecoder(self.likelihood_.out_dim, labels, c.latent_dim,
                                   c.width, c.depth, c.embed_dim,
                                   (self.likelihood_.n_cont, c.components), c.sigma_init)
            decoder.log_sigma.requires_grad_(c.sigma == "learned")
        else:
            encoder = ImageEncoder(info.image_shape, labels, c.latent_dim, c.channels,
                                   c.embed_dim)
            decoder = ImageDecoder(info.image_shape, labels, c.latent_dim, c.channels,
                                   c.embed_dim)
        prior = LatentPrior(info.n_classes, c.latent_dim)
        self.modules_ = {"encoder": encoder, "decoder": decoder, "prior": prior}
        self._moments: tuple[torch.Tensor, ...] | None = None
        params = [p for p in module_parameters(self.modules_, "encoder", "decoder")
                  if p.requires_grad]
        self.optimizers_ = {
            "vae": torch.optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay, fused=True)
        }

    def _layouts(self, info: DataInfo, dims: list, classes: list) -> dict[str, list]:
        """The base layouts plus the decoder's: "likelihood" (its raw output, laid out by
        `TableLikelihood`) and "continuous" (rows of log_sigma)."""
        soft = [dims[i] for s in info.spans if s.kind == "softmax" for i in range(s.start, s.end)]
        cont = [dims[s.start] for s in info.spans if s.kind == "continuous"]
        k = self.config.components
        likelihood = soft + [(*key, part, j) for key in cont for part in ("weight", "mean")
                             for j in range(k)]
        return {**super()._layouts(info, dims, classes), "likelihood": likelihood,
                "continuous": cont}

    def _train_step(self, x: torch.Tensor, labels: torch.Tensor, rng: torch.Generator
                    ) -> dict[str, float]:
        encoder, decoder = self.modules_["encoder"], self.modules_["decoder"]
        mean, logvar = encoder(x, labels)
        logvar = logvar.clamp(-12.0, 8.0)  # keeps exp() finite early in training
        noise = torch.randn(mean.shape, generator=rng).to(self.device)
        z = mean + noise * torch.exp(0.5 * logvar)  # reparameterisation trick
        raw = decoder(z, labels)
        extra = {}
        if self.info_.modality == "table":
            recon = self.likelihood_.nll(raw, x, decoder.log_sigma)
        else:
            recon, sigma = image_nll(raw, x, self.config.image_loss, decoder.log_sigma)
            if sigma is not None:
                extra["sigma"] = sigma.item()
        kl = gaussian_kl(mean, logvar)
        beta = kl_weight_at(self.epoch_, self.config.kl_weight, self.config.kl_anneal_epochs)
        loss = recon + beta * kl
        last = self.phase_ == "fit" and self.epoch_ == self.epochs_ - 1
        if self.config.prior == "class" and last:
            self._accumulate(mean.detach(), logvar.detach(), labels)
        optimizer = self.optimizers_["vae"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if self.info_.modality == "table":
            with torch.no_grad():
                decoder.log_sigma.clamp_(math.log(SIGMA_MIN), math.log(SIGMA_MAX))
        return {"loss": loss.item(), "recon": recon.item(), "kl": kl.item(), **extra}

    def _accumulate(self, mean: torch.Tensor, logvar: torch.Tensor, labels: torch.Tensor
                    ) -> None:
        """Add a batch's posterior moments (count, sum E[z], sum E[z z^T]) per class.

        Called during the last epoch, so the class Gaussians describe the final encoder.
        """
        n, dim = self.info_.n_classes, self.config.latent_dim
        if self._moments is None:
            zeros = {"dtype": torch.float64, "device": mean.device}
            self._moments = (torch.zeros(n, **zeros), torch.zeros(n, dim, **zeros),
                             torch.zeros(n, dim, dim, **zeros))
        count, first, second = self._moments
        mean = mean.double()
        outer = mean[:, :, None] * mean[:, None, :] + torch.diag_embed(logvar.double().exp())
        count.index_add_(0, labels, torch.ones_like(mean[:, 0]))
        first.index_add_(0, labels, mean)
        second.index_add_(0, labels, outer)

    def _end_epoch(self, epoch: int) -> dict[str, float]:
        if self.phase_ == "fit" and epoch + 1 == self.epochs_ and self._moments is not None:
            self.modules_["prior"].set_moments(*self._moments)
            self._moments = None
        return {}

    @torch.no_grad()
    def score_rows(self, X: pd.DataFrame | np.ndarray, y: Any, batch: int = 1024) -> np.ndarray:
        """Negative ELBO of each row under its label [N] (higher: less like the training
        data): the reconstruction NLL decoded from the posterior mean, plus KL(q(z | x, y)
        || N(0, I)). Deterministic (no latent noise).

        X: rows with the training columns, or images [N, ...] of the training shape; y [N]:
        labels among the fitted classes (a wrong label scores badly too). Image pixel
        sigma: the learned one ("gaussian"), else the last training epoch's "optimal" one.
        """
        self._check_fitted()
        labels = torch.from_numpy(self.label_indices(y))
        if len(labels) != len(X):
            raise DataError(f"{len(X)} rows of features but {len(labels)} labels")
        encoded = torch.from_numpy(self.transformer_.transform(X)).to(self.device)
        encoder, decoder = self.modules_["encoder"], self.modules_["decoder"]
        for module in self.modules_.values():
            module.eval()
        log_sigma = decoder.log_sigma
        if self.info_.modality == "image" and self.config.image_loss == "optimal":
            sigma = next((row["sigma"] for row in reversed(self.curve_) if "sigma" in row), 1.0)
            log_sigma = torch.tensor(math.log(max(sigma, IMAGE_SIGMA_MIN)), device=self.device)
        scores = []
        for begin in range(0, len(labels), batch):
            x, lab = encoded[begin : begin + batch], labels[begin : begin + batch].to(self.device)
            mean, logvar = encoder(x, lab)
            logvar = logvar.clamp(-12.0, 8.0)
            raw = decoder(mean, lab)
            if self.info_.modality == "table":
                recon = self.likelihood_.nll_rows(raw, x, decoder.log_sigma)
            else:
                recon = image_nll_rows(raw, x, self.config.image_loss, log_sigma)
            scores.append((recon + gaussian_kl_rows(mean, logvar)).double().cpu())
        return torch.cat(scores).numpy() if scores else np.zeros(0)

    def _generate(self, labels: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """Decode z ~ prior(y) (N(0, I) or the class Gaussian), scaled by `temperature`.

        Returns [N, D] (continuous draws; softmax-span logits, plus Gumbel noise when
        `categorical` is "sample", so their argmax is a draw) for
        tables, [N, C, H, W] in [-1, 1] for images.
        """
        decoder = self.modules_["decoder"]
        noise = torch.randn((len(labels), self.config.latent_dim), generator=rng).to(self.device)
        z = self.modules_["prior"](noise * self.config.temperature, labels)
        raw = decoder(z, labels)
        if self.info_.modality == "image":
            return image_mean(raw, self.config.image_loss)
        return self.likelihood_.sample(raw, decoder.log_sigma, rng, self.config.categorical,
                                       self.config.continuous_noise)
