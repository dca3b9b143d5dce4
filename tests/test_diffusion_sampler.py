"""The diffusion sampler: DPM-Solver++(2M) steps and the per-label conditioning cache."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from augment.data import load_dataset
from augment.errors import ConfigError
from augment.generators import get_generator
from augment.generators.diffusion_nets import TableDenoiser
from augment.generators.scheduler import NoiseScheduler

MU, S = 1.5, 0.4  # the data: x0 ~ N(MU, S^2) in every dimension


def exact_eps(scheduler: NoiseScheduler, x: torch.Tensor, t: int) -> torch.Tensor:
    """E[noise | x_t] for Gaussian data: what a perfect denoiser would predict."""
    a = math.sqrt(scheduler.alpha_bar(t))
    sigma = math.sqrt(1.0 - scheduler.alpha_bar(t))
    return sigma * (x - a * MU) / (a * a * S * S + sigma * sigma)


def solve(steps: int, order: int, start: torch.Tensor) -> torch.Tensor:
    """The probability-flow ODE (eta 0) from `start` [N, D] with an exact denoiser."""
    scheduler = NoiseScheduler(1000, "cosine")
    scheduler.set_timesteps(steps)
    x = start.double()
    for t in scheduler.timesteps.tolist():
        x = scheduler.step(exact_eps(scheduler, x, t), t, x, eta=0.0, order=order)
    return x


def test_second_order_steps_follow_the_ode_closer_than_ddim():
    start = torch.randn(2000, 4, generator=torch.Generator().manual_seed(0))
    reference = solve(1000, 1, start)  # a fine first-order solve stands for the exact one
    assert reference.mean().item() == pytest.approx(MU, abs=0.02)
    assert reference.std().item() == pytest.approx(S, abs=0.02)
    errors = {}
    for steps in (10, 20, 40):
        errors[steps] = [(solve(steps, order, start) - reference).abs().mean().item()
                         for order in (1, 2)]
    # At 10 steps the last, first-order jump to clean data (t = 99 -> x0) weighs most; from
    # 20 steps on the second-order error falls far faster than DDIM's, which halves.
    assert errors[10][1] < 0.6 * errors[10][0], errors
    for steps in (20, 40):
        assert errors[steps][1] < 0.2 * errors[steps][0], errors
    assert errors[40][0] == pytest.approx(errors[20][0] / 2, rel=0.1), errors


def test_first_and_last_steps_stay_first_order():
    """The correction needs a predecessor and is not applied on the jump to clean data, so
    with 1 or 2 steps order 2 is plain DDIM; from 3 steps on it changes the result."""
    start = torch.randn(50, 3, generator=torch.Generator().manual_seed(1)).double()
    for steps in (1, 2):
        assert torch.equal(solve(steps, 1, start), solve(steps, 2, start))
    assert not torch.equal(solve(3, 1, start), solve(3, 2, start))


def test_per_label_conditioning_equals_the_full_forward():
    torch.manual_seed(0)
    net = TableDenoiser(7, 3, width=16, depth=2, emb_dim=8).eval()
    x = torch.randn(40, 7)
    labels = torch.randint(0, 4, (40,))  # 3 = the null class
    with torch.no_grad():
        full = net(x, torch.full((40,), 311), labels)
        cached = net.at_step(x, 311, labels)
    torch.testing.assert_close(cached, full, rtol=1e-5, atol=1e-6)


def test_dpm_sampler_samples_exact_counts_reproducibly():
    ds = load_dataset("builtin:iris")
    gen = get_generator("diffusion", sampler="dpm++2m", ddim_steps=6, epochs=2, min_steps=0,
                        progress="never", seed=0).fit(ds.X, ds.y)
    counts = {c: 7 for c in np.unique(ds.y).tolist()}
    X1, y1 = gen.sample(counts, seed=3)
    X2, y2 = gen.sample(counts, seed=3)
    assert X1.equals(X2) and np.array_equal(y1, y2)
    assert {c: int((y1 == c).sum()) for c in counts} == counts
    with pytest.raises(ConfigError, match=r"diffusion.sampler must be one of .*'euler'"):
        get_generator("diffusion", sampler="euler")


def test_guidance_only_inside_its_interval():
    """Steps whose noise level t/T lies outside `guidance_interval` make one conditional
    pass instead of two; no step inside it samples as an unguided model does."""
    import dataclasses

    ds = load_dataset("builtin:iris")
    gen = get_generator("diffusion", ddim_steps=10, epochs=2, min_steps=0, progress="never",
                        seed=0).fit(ds.X, ds.y)
    counts = {c: 5 for c in np.unique(ds.y).tolist()}
    net = gen.modules_["ema"].net
    passes: list[tuple[int, int]] = []
    at_step = net.at_step
    net.at_step = lambda x, t, labels: passes.append((t, len(x))) or at_step(x, t, labels)

    guided = gen.sample(counts, seed=3)
    assert [n for _, n in passes] == [30] * 10  # conditional + unconditional at every step
    passes.clear()
    gen.config = dataclasses.replace(gen.config, guidance_interval=(0.3, 0.7))
    gen.sample(counts, seed=3)
    assert [n for _, n in passes] == [30 if 0.3 <= t / 1000 <= 0.7 else 15 for t, _ in passes]
    assert 0 < sum(n == 30 for _, n in passes) < 10

    gen.config = dataclasses.replace(gen.config, guidance_interval=(0.9995, 1.0))  # no step
    outside = gen.sample(counts, seed=3)
    gen.guidance_ = 1.0
    unguided = gen.sample(counts, seed=3)
    assert outside[0].equals(unguided[0]) and not outside[0].equals(guided[0])
    with pytest.raises(ConfigError, match="guidance_interval must be"):
        get_generator("diffusion", guidance_interval=[0.8, 0.2])
