"""The Gaussian noise process of DDPM with a DDIM sampler (the process, no networks).

```python
sched = NoiseScheduler(num_timesteps=1000, schedule="cosine")
x_t = sched.add_noise(x0, noise, t)          # forward process q(x_t | x_0)
sched.set_timesteps(50)                      # DDIM: 50 of the 1000 training steps
for t in sched.timesteps:
    x = sched.step(model(x, t), t, x, clip=(-1.0, 1.0))
```

- DDPM (Ho et al. 2020, https://arxiv.org/abs/2006.11239): the network predicts the
  noise added to x0; training is plain MSE on that noise.
- Cosine schedule (Nichol & Dhariwal 2021, https://arxiv.org/abs/2102.09672).
- DDIM (Song et al. 2021, https://arxiv.org/abs/2010.02502): a non-Markovian sampler
  that skips steps; eta=0 is deterministic given the start noise.
- "Trailing" step spacing, so sampling starts at the last training step T-1 where
  x_T is closest to pure noise (Lin et al. 2023, https://arxiv.org/abs/2305.08891).
- `order=2`: the multistep second-order correction of DPM-Solver++(2M) (Lu et al. 2022,
  https://arxiv.org/abs/2211.01095): each step extrapolates the x0 prediction from the
  previous step's, x0 + (x0 - x0_prev) / (2 r) with r the ratio of the two steps' sizes
  in log-SNR. With eta = 1 the first-order step is exactly DDPM's posterior (DDIM eta 1),
  so this is the SDE variant of 2M; with eta = 0 its ODE variant. The first step and the
  last one (to clean data) stay first order.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

Schedule = Literal["linear", "cosine"]
MAX_BETA = 0.999  # beta = 1 would make alpha_bar exactly 0 and x0 unrecoverable


def make_betas(num_timesteps: int, schedule: Schedule) -> torch.Tensor:
    """Noise variances beta_t, float64 [num_timesteps]."""
    if num_timesteps < 1:
        raise ValueError(f"num_timesteps must be >= 1, got {num_timesteps}")
    if schedule == "linear":
        # DDPM's 1e-4..0.02 for T=1000, rescaled so other T keep the same end point
        # (improved-DDPM's convention); clipped for tiny T.
        scale = 1000.0 / num_timesteps
        betas = torch.linspace(scale * 1e-4, scale * 0.02, num_timesteps, dtype=torch.float64)
        return betas.clamp(max=MAX_BETA)
    if schedule == "cosine":
        s = 0.008  # small offset so beta_0 is not vanishingly small (Nichol & Dhariwal)
        steps = torch.arange(num_timesteps + 1, dtype=torch.float64) / num_timesteps
        alpha_bar = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
        betas = 1.0 - alpha_bar[1:] / alpha_bar[:-1]
        return betas.clamp(min=0.0, max=MAX_BETA)
    raise ValueError(f"schedule must be 'linear' or 'cosine', got {schedule!r}")


class NoiseScheduler:
    """DDPM forward process and DDIM reverse steps over `num_timesteps` training steps.

    Holds only constants derived from (num_timesteps, schedule), so it needs no saving.
    """

    def __init__(self, num_timesteps: int = 1000, schedule: Schedule = "cosine") -> None:
        self.num_timesteps = num_timesteps
        self.schedule = schedule
        self.betas = make_betas(num_timesteps, schedule)
        self.alphas_cumprod = torch.cumprod(1.0 - self.betas, dim=0)  # alpha_bar_t, float64 [T]
        self.set_timesteps(num_timesteps)

    # ---- training -------------------------------------------------------------------
    def _gather(self, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """alpha_bar at timesteps t [B], shaped [B, 1, ...] to broadcast against `like`."""
        values = self.alphas_cumprod.to(like.device)[t].to(like.dtype)
        return values.reshape(-1, *([1] * (like.dim() - 1)))

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise; x0/noise [B, ...], t [B]."""
        alpha_bar = self._gather(t, x0)
        return alpha_bar.sqrt() * x0 + (1.0 - alpha_bar).sqrt() * noise

    # ---- sampling -------------------------------------------------------------------
    def set_timesteps(self, num_inference_steps: int) -> None:
        """Choose the `num_inference_steps` (<= num_timesteps) training steps DDIM visits.

        Sets `timesteps`, int64 [n], descending from num_timesteps - 1.
        """
        n = num_inference_steps
        if not 1 <= n <= self.num_timesteps:
            raise ValueError(f"sampling steps must be in 1..{self.num_timesteps}, got {n}")
        stride = self.num_timesteps / n
        steps = [round(self.num_timesteps - i * stride) - 1 for i in range(n)]
        self.timesteps = torch.tensor(steps, dtype=torch.long)
        # The step after the last one is "t = -1": alpha_bar = 1, i.e. clean data.
        self._previous = dict(zip(steps, steps[1:] + [-1], strict=True))
        self._history: tuple[int, torch.Tensor] | None = None  # (t, x0) of the last step

    def alpha_bar(self, t: int) -> float:
        return 1.0 if t < 0 else float(self.alphas_cumprod[t])

    def log_snr(self, t: int) -> float:
        """lambda_t = log(alpha_t / sigma_t) = log(alpha_bar_t / (1 - alpha_bar_t)) / 2."""
        a = self.alpha_bar(t)
        return 0.5 * math.log(a / (1.0 - a))

    def predict_x0(self, eps: torch.Tensor, t: int, x_t: torch.Tensor) -> torch.Tensor:
        """x0 implied by the noise prediction `eps` at step t; all tensors [B, ...]."""
        a = self.alpha_bar(t)
        return (x_t - math.sqrt(1.0 - a) * eps) / math.sqrt(a)

    def step(self, model_output: torch.Tensor, t: int, x_t: torch.Tensor,
             clip: tuple[torch.Tensor | float, torch.Tensor | float] | None = None,
             eta: float = 0.0, rng: torch.Generator | None = None, order: int = 1
             ) -> torch.Tensor:
        """One DDIM step from x_t to the previous visited timestep; tensors [B, ...].

        Args:
            model_output: predicted noise eps at (x_t, t).
            t: a value of `timesteps`.
            clip: (low, high) bounds for the x0 prediction (scalars or tensors that
                broadcast against x); the noise is re-derived from the clipped x0 so
                the trajectory stays consistent. This keeps samples in the data's range
                instead of drifting to extreme values.
            eta: 0 gives deterministic DDIM; 1 matches DDPM's ancestral variance.
            rng: CPU generator for the fresh noise when eta > 0.
            order: 2 corrects x0 with the previous step's (DPM-Solver++(2M)); the steps
                must then be taken in the order of `timesteps` since `set_timesteps`.
        """
        t = int(t)
        t_prev = self._previous[t]
        a_t, a_prev = self.alpha_bar(t), self.alpha_bar(t_prev)
        x0 = self.predict_x0(model_output, t, x_t)
        eps = model_output
        if clip is not None:
            x0 = torch.maximum(torch.minimum(x0, _as_tensor(clip[1], x0)), _as_tensor(clip[0], x0))
            eps = (x_t - math.sqrt(a_t) * x0) / math.sqrt(1.0 - a_t)
        if t_prev < 0:
            return x0
        last, self._history = self._history, (t, x0)
        if order == 2 and last is not None:
            t_last, x0_last = last
            ratio = (self.log_snr(t) - self.log_snr(t_last)) / (self.log_snr(t_prev) - self.log_snr(t))
            x0 = x0 + (x0 - x0_last) / (2.0 * ratio)
            eps = (x_t - math.sqrt(a_t) * x0) / math.sqrt(1.0 - a_t)
        # DDIM eq. 16: sigma interpolates between deterministic (0) and DDPM (eta = 1).
        sigma = eta * math.sqrt((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev))
        x_prev = math.sqrt(a_prev) * x0 + math.sqrt(max(1 - a_prev - sigma**2, 0.0)) * eps
        if sigma > 0:
            noise = torch.randn(x_t.shape, generator=rng, device="cpu").to(x_t.device)
            x_prev = x_prev + sigma * noise
        return x_prev


def _as_tensor(value: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(value, dtype=like.dtype, device=like.device)
