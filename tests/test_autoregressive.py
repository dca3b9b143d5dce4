"""The autoregressive family's own properties (the shared contract is in
test_generators.py): its networks are causal, step-by-step sampling equals the full
pass, binned numbers come back exact where the data is discrete, temperature works."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from augment.data.transformers import Span
from augment.generators import get_generator
from augment.generators.autoregressive import token_spans
from augment.generators.autoregressive_nets import PixelCNN, TableMADE

TINY = {"epochs": 2, "min_steps": 0, "batch_size": 16, "width": 64, "progress": "never"}


def test_the_made_is_causal_and_its_sampler_matches_the_full_pass():
    torch.manual_seed(0)
    vocab = [3, 5, 2, 4]
    net = TableMADE(vocab, n_classes=2, width=40, depth=2).eval()
    offsets = net.offsets
    tokens = torch.zeros(6, offsets[-1])
    picks = torch.randint(0, 2, (6, len(vocab)))
    for k in range(len(vocab)):
        tokens[torch.arange(6), offsets[k] + picks[:, k]] = 1.0
    labels = torch.tensor([0, 1, 0, 1, 0, 1])
    full = net(tokens, labels)
    for j in range(len(vocab)):  # change step j: only the logits of later steps move
        changed = tokens.clone()
        changed[:, offsets[j]:offsets[j + 1]] = changed[:, offsets[j]:offsets[j + 1]].roll(1, dims=1)
        moved = (net(changed, labels) - full).abs().amax(dim=0)
        assert moved[: offsets[j + 1]].max() < 1e-6, j  # steps <= j
        if j + 1 < len(vocab):
            assert moved[offsets[j + 1]:].max() > 1e-4, j
    steps = net.sampler(labels)
    for k in range(len(vocab)):
        torch.testing.assert_close(steps.logits(k), full[:, offsets[k]:offsets[k + 1]],
                                   atol=1e-5, rtol=1e-5)
        steps.feed(k, picks[:, k])


def test_the_pixelcnn_sees_only_earlier_pixels_and_colours():
    torch.manual_seed(0)
    net = PixelCNN(image_channels=2, levels=4, n_classes=3, channels=8, depth=2).eval()
    x = torch.rand(2, 2, 5, 5) * 2 - 1
    labels = torch.tensor([0, 2])
    base = net(x, labels)
    changed = x.clone()
    changed[:, 1, 2, 3] += 0.5  # colour 1 of pixel (2, 3)
    moved = (net(changed, labels) - base).abs().amax(dim=(0, 2))  # [C, H, W]
    order = torch.arange(25).view(5, 5)
    before = order < order[2, 3]
    assert moved[:, before].max() < 1e-6  # earlier pixels, both colours
    assert moved[:, 2, 3].max() < 1e-6  # this pixel: colour 0 before it, colour 1 itself
    assert moved[:, ~before].max() > 0  # later pixels do see it
    top = net(x[:, :, :3], labels)  # what sampling runs for row 2: rows 0-2 only
    torch.testing.assert_close(top, base[:, :, :, :3], atol=1e-5, rtol=1e-5)


def test_missing_indicators_come_before_their_values():
    spans = (Span("a", 0, 1, "continuous"), Span("a", 1, 3, "softmax", "missing"),
             Span("b", 3, 6, "softmax"))
    assert [(s.column, s.role) for s in token_spans(spans)] == [("a", "missing"), ("a", "value"),
                                                                ("b", "value")]


def test_discrete_numbers_come_back_exact_and_temperature_sharpens():
    rng = np.random.default_rng(0)
    y = np.where(rng.random(400) < 0.5, "x", "z").astype(object)
    X = pd.DataFrame({"steps": rng.choice([0, 1, 5, 9], 400).astype(np.int64),
                      "level": np.where(y == "x", rng.normal(0, 1, 400), rng.normal(4, 1, 400)),
                      "city": rng.choice(["a", "b", "c"], 400)})
    gen = get_generator("autoregressive", **{**TINY, "epochs": 1, "min_steps": 300}).fit(X, y)
    X_syn, _ = gen.sample({"x": 300, "z": 300}, seed=1)
    assert set(X_syn["steps"]) <= {0, 1, 5, 9}
    assert X_syn.loc[:299, "level"].mean() < X_syn.loc[300:, "level"].mean() - 2  # class-led
    cold = get_generator("autoregressive", **{**TINY, "epochs": 1, "min_steps": 300,
                                              "temperature": 0.3}).fit(X, y)
    X_cold, _ = cold.sample({"x": 300, "z": 300}, seed=1)
    assert X_cold.loc[:299, "level"].std() < X_syn.loc[:299, "level"].std()


def test_the_table_loss_is_the_sum_of_each_steps_cross_entropy(mixed_table):
    X, y = mixed_table
    gen = get_generator("autoregressive", **TINY).fit(X, y)
    encoded = torch.from_numpy(gen.transformer_.transform(X.iloc[:32]))
    tokens = gen._table_tokens(encoded)
    logits = torch.randn(32, gen.offsets_[-1])
    expected = sum(torch.nn.functional.cross_entropy(logits[:, a:b], tokens[:, k], reduction="none")
                   for k, (a, b) in enumerate(zip(gen.offsets_, gen.offsets_[1:], strict=False)))
    torch.testing.assert_close(gen._table_nll(logits, tokens), expected)
