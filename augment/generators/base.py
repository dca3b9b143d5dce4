"""The Generator contract shared by every family (VAE, GAN, diffusion).

```python
gen = get_generator("vae", epochs=50, seed=0)     # hyperparameters only
gen.fit(X, y)                                     # DataFrame or images [N,H,W] / [N,C,H,W]
X_syn, y_syn = gen.sample({"a": 120, "b": 30}, seed=1)
gen.save(path); gen = load_generator(path)
```

This module owns everything that is the same for all families: input checks, the
transformer, label encoding, the epoch loop with checkpoints and resume, exact
per-class sampling, decoding, and the on-disk format. A family subclass supplies:

- `Config`: a frozen dataclass of hyperparameters (subclass of `BaseConfig`);
- `_build(info)`: create its networks in `self.modules_` and optimisers in
  `self.optimizers_` (called inside a seeded RNG scope, so initial weights follow
  `seed`);
- `_train_step(x, labels, rng)`: one optimisation step on a batch, returns losses;
- `_generate(labels, rng)`: model-space samples [N, D] or [N, C, H, W] for the given
  class indices.

Optionally `_resolve(info)` (the values of Config fields whose default depends on the
data, e.g. a guidance scale per modality) and `_end_epoch(epoch)` (extra curve figures).

Determinism without touching the caller's RNGs: torch's global RNG is forked
(`torch.random.fork_rng`) and seeded inside `fit` and `sample`, so network init and
noise follow `seed` and the caller's RNG state is restored afterwards.

A saved model holds every hyperparameter (the whole Config, plus the data-dependent
values resolved at fit time), not only the ones the user set, so it samples the same
after a default in the code changes. `fit` logs to the "augment.generators" logger: a
line at start and end, and (when no progress bar is drawn) at most `MAX_LOG_LINES` epoch
summaries.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
import torch
from torch import nn

from augment.config import AT_LEAST_ONE, POSITIVE, SEED, SEED_MAX, Range, from_dict
from augment.data.schema import TableSchema, to_python
from augment.data.transformers import ImageTransformer, Span, TableTransformer
from augment.errors import AugmentError, ConfigError, DataError, ModelError, StaleCheckpointError
from augment.generators import transfer
from augment.generators.networks import EMA
from augment.sampling import MAX_ROWS
from augment.workspace import CHECKPOINT_FILE, CURVE_FILE, MODEL_CONFIG_FILE, WEIGHTS_FILE

FORMAT = "augment-generator"
# 2: config.json holds the full resolved config ("config", "resolved"); 1 held only the
# user's overrides ("params"), so a changed default changed what an old model sampled.
FORMAT_VERSION = 2
SAMPLE_BLOCK = 1024  # rows per noise block; fixed so that shards reproduce the whole
MAX_LOG_LINES = 20  # epoch summaries logged per fit when no progress bar is drawn
# A warm fit's learning rate ramps up linearly over this share of its steps: a fresh Adam
# takes full-size steps from the first batch, which knocked the parent's weights off
# (digits diffusion, 5 fit seeds: warm macro-F1 0.9473 without the ramp, 0.9484 with it,
# gate passed 2/5 and 3/5 times; bench/results/transfer.json).
WARM_LR_RAMP = 0.2
# Tables below BUDGET_CELLS encoded cells (rows x width) get a share of the family's step
# minimum, at least BUDGET_FLOOR of it (`table_min_steps`).
BUDGET_CELLS = 12_000
BUDGET_FLOOR = 0.25
# Config fields that say how to run a fit, not what to learn: a checkpoint may be resumed
# with other values of these.
RUN_OPTIONS = frozenset({"device", "checkpoint_every", "progress"})
# Entries of config.json that `_from_saved` needs.
CONFIG_KEYS = ("family", "config", "resolved", "params", "classes", "label_dtype", "info",
               "transformer")
FIT_FACTS = ("augment_version", "torch_version", "fit_device", "fitted_at", "fit_seconds")

log = logging.getLogger("augment.generators")


@dataclass(frozen=True)
class BaseConfig:
    """Hyperparameters every family has. Families extend this dataclass."""

    epochs: int = 100
    # Optimizer steps to train at least: on small data epochs are raised to reach it (a
    # 400-row table at batch size 128 is 3 steps per epoch). None = the family's default
    # for the modality (TABLE_MIN_STEPS for tables, IMAGE_MIN_STEPS for images); 0 = epochs
    # as given.
    min_steps: int | None = None
    batch_size: int = 256
    lr: float = 1e-3
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    checkpoint_every: int = 10  # epochs between checkpoints when fit(checkpoint_dir=...)
    progress: Literal["auto", "always", "never"] = "auto"
    # With fit(init_from=...): train this share of the cold schedule's epochs (and of
    # min_steps). bench/transfer.py measures what a warm start reaches at 0.25.
    warm_share: float = 0.25

    # Allowed values (`augment.config.from_dict` checks them; unlisted numbers: >= 0).
    RANGES: ClassVar[dict[str, Range]] = {
        "batch_size": AT_LEAST_ONE, "lr": POSITIVE, "seed": SEED, "checkpoint_every": AT_LEAST_ONE,
        "warm_share": Range(0, 1, low_open=True)}


@dataclass(frozen=True)
class DataInfo:
    """What `_build` needs to know about the encoded data.

    Attributes:
        modality: "table" or "image".
        n_classes: number of classes (labels are indices 0..n_classes-1).
        dim: width D of the encoded table matrix (tables).
        spans: column spans of the encoded matrix (tables).
        image_shape: (C, H, W) of the encoded images (images).
        class_counts: training rows per class index.
        null_class: whether the networks need a null class (index n_classes) beside the
            real ones: for pretraining on unlabelled rows (diffusion always has one).
    """

    modality: Literal["table", "image"]
    n_classes: int
    class_counts: tuple[int, ...]
    dim: int = 0
    spans: tuple[Span, ...] = ()
    image_shape: tuple[int, int, int] = (0, 0, 0)
    null_class: bool = False


def show_progress(progress: str) -> bool:
    """Whether `fit` draws a progress bar for the `progress` option.

    "auto" draws it on a terminal and in a Jupyter kernel, whose stderr is no tty but
    shows tqdm.auto's widget.
    """
    if progress != "auto":
        return progress == "always"
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty()) or "ipykernel" in sys.modules


def _augment_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("augment")
    except PackageNotFoundError:
        return "unknown"


def table_min_steps(family_steps: int, rows: int, width: int) -> int:
    """The default step minimum of a table of `rows` rows encoded `width` wide: the
    family's TABLE_MIN_STEPS (tuned on breast_cancer's 398 x 30 training matrix,
    BUDGET_CELLS) times sqrt(rows * width / BUDGET_CELLS), between BUDGET_FLOOR and 1.

    A smaller table has less to learn: iris (105 x 4) trains a quarter of the steps.
    Larger tables keep the full minimum, and their epochs soon exceed it anyway.
    bench/fit_cost.py measures the fit times and TSTR it gives.
    """
    share = min(1.0, max(BUDGET_FLOOR, math.sqrt(rows * width / BUDGET_CELLS)))
    return math.ceil(family_steps * share)


class Generator(ABC):
    """Base class; see the module docstring for the contract.

    Attributes:
        params: the hyperparameters as given (the overrides only).
        config: every hyperparameter, defaults filled in (`Config`).
        resolved_: after fit or load, the values fit derived from config and data
            ({"min_steps", "epochs", ...family values from `_resolve`}).
    """

    name: ClassVar[str] = "base"
    TABLE_MIN_STEPS: ClassVar[int] = 0  # default min_steps on tables
    IMAGE_MIN_STEPS: ClassVar[int] = 0  # default min_steps on images
    Config: ClassVar[type[BaseConfig]] = BaseConfig

    def __init__(self, **params: Any) -> None:
        self.params = params
        self.config = from_dict(self.Config, params, where=self.name)  # types and ranges
        self._check_config()

    def _check_config(self) -> None:
        """Rules between fields (single values are checked by the Config's RANGES)."""
        return None

    # ---- hooks for families ------------------------------------------------------
    @abstractmethod
    def _build(self, info: DataInfo) -> None:
        """Create `self.modules_` {name: nn.Module} and `self.optimizers_` {name: Optimizer}."""

    @abstractmethod
    def _train_step(self, x: torch.Tensor, labels: torch.Tensor, rng: torch.Generator
                    ) -> dict[str, float]:
        """One optimisation step on a batch x [B, D] or [B, C, H, W], labels [B]; losses."""

    @abstractmethod
    def _generate(self, labels: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """Model-space samples [N, D] or [N, C, H, W] for class indices `labels` [N]."""

    def _resolve(self, info: DataInfo) -> dict[str, Any]:
        """Values of Config fields whose default depends on the data, as this fit uses them.

        Called before `_build` in fit; a loaded model gets them from its config.json
        instead, so a later change of the rule does not change the saved model.
        """
        return {}

    def _end_epoch(self, epoch: int) -> dict[str, float]:
        """Extra per-epoch figures for the training curve (e.g. a diversity score)."""
        return {}

    def _state_tensors(self) -> dict[str, torch.Tensor]:
        """Tensors a fitted model keeps besides its networks' weights (saved as
        "state.<name>"; not warm-started). The translation family keeps its source rows."""
        return {}

    def _load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """Restore what `_state_tensors` returned, on load (a family without any: none)."""
        if tensors:
            raise ModelError(f"unexpected state tensors {sorted(tensors)} for a {self.name} model")

    # ---- fitting --------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        wanted = self.config.device
        if wanted == "cuda" and not torch.cuda.is_available():
            raise ConfigError("device 'cuda' was asked for but CUDA is not available")
        if wanted == "auto":
            wanted = "cuda" if torch.cuda.is_available() else "cpu"
        return torch.device(wanted)

    def fit(self, X: pd.DataFrame | np.ndarray, y: Any, checkpoint_dir: str | Path | None = None,
            schema: TableSchema | None = None, init_from: Generator | str | Path | None = None,
            pretrain: pd.DataFrame | np.ndarray | None = None) -> Generator:
        """Train on features `X` and labels `y` [N].

        With `checkpoint_dir`, state is saved there every `checkpoint_every` epochs and a
        later call with the same directory, data and hyperparameters (run options such
        as `progress` aside) resumes from it. `schema` (tables) carries declared column
        kinds; it is inferred from `X` when absent.

        Transfer learning (`augment.generators.transfer`):
        - `init_from`, a fitted model of this family or its saved folder: its weights are
          copied in by class label and column key (new classes and categories start
          fresh, dropped ones are left out) and `warm_share` of the cold schedule is
          trained. An unusable parent raises IncompatibleModelError before any training.
        - `pretrain`, unlabelled rows [M, F] (same columns as X, no target) or images of
          X's shape: the transformer is fitted on X and them together, the null class is
          trained on them first (the schedule of M rows), each class then starts from the
          null class and is fine-tuned on X, y.
        `lineage_` records both; `save` keeps it in config.json.
        """
        started = time.perf_counter()
        parent = self._parent(init_from)
        data, labels, pool = self._prepare(X, y, schema, pretrain, warm=parent is not None)
        if parent is not None:
            transfer.check_compatible(self, parent)
        self.fit_info_: dict[str, Any] = {
            "augment_version": _augment_version(), "torch_version": torch.__version__,
            "fit_device": str(self.device), "fitted_at": None, "fit_seconds": None}
        log.info("fit %s: %d rows, %d classes, %d epochs%s, device %s", self.name, len(data),
                 self.info_.n_classes, self.epochs_,
                 f" after {self.resolved_['pretrain_epochs']} on {len(pool)} unlabelled rows"
                 if pool is not None else "", self.device)
        ckpt = Path(checkpoint_dir) / CHECKPOINT_FILE if checkpoint_dir else None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed)
            self._build(self.info_)
            for module in self.modules_.values():
                module.to(self.device)
            # the configured rates, before a resumed optimizer state brings a ramped one
            self.base_lrs_ = {k: [g["lr"] for g in o.param_groups] for k, o in self.optimizers_.items()}
            self.lineage_ = {"init_from": None, "pretrain": None}
            if parent is not None:
                self.lineage_["init_from"] = self._warm_start(parent)
            if pool is not None:
                self.lineage_["pretrain"] = {"rows": len(pool),
                                             "epochs": self.resolved_["pretrain_epochs"],
                                             "digest": transfer.pool_digest(pool.numpy())}
            rng = torch.Generator().manual_seed(self.config.seed + 1)
            self.curve_: list[dict] = []
            self.pretrain_curve_: list[dict] = []
            phase, start = self._resume(ckpt, rng) if ckpt else ("pretrain", 0)
            if pool is not None and phase == "pretrain":
                null = torch.full((len(pool),), self.info_.n_classes, dtype=torch.long)
                self._train(pool, null, rng, start, ckpt, "pretrain")
                transfer.classes_from_null(self)
                self._restart_averages()
            self._train(data, labels, rng, start if phase == "fit" else 0, ckpt, "fit")
        for module in self.modules_.values():
            module.eval()
        seconds = time.perf_counter() - started
        self.fit_info_["fitted_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        self.fit_info_["fit_seconds"] = round(seconds, 3)
        log.info("fit %s: done in %.1f s", self.name, seconds)
        return self

    def _parent(self, init_from: Generator | str | Path | None) -> Generator | None:
        """The model to warm-start from: `init_from` itself, or loaded from its folder."""
        if init_from is None or isinstance(init_from, Generator):
            return init_from
        if isinstance(init_from, str | Path):
            return load_generator(init_from)
        raise ConfigError(f"init_from must be a fitted generator or a saved model folder, got "
                          f"{type(init_from).__name__}")

    def _warm_start(self, parent: Generator) -> dict[str, Any]:
        """Copy `parent`'s weights into the freshly built modules; the lineage record.

        The weight averages (EMA) go on from the parent's, warm-up step count included: a
        restarted warm-up averaged the few noisy steps of the short warm fit only (digits
        diffusion, 5 fit seeds: macro-F1 0.9432 restarted, 0.9473 continued; cold 0.9506).
        """
        mapped = transfer.copy_weights(self, parent)
        log.info("fit %s: warm start from a model fitted %s (classes: %d kept, new %s, "
                 "dropped %s)", self.name, parent.fit_info_.get("fitted_at"),
                 mapped["classes"]["kept"], mapped["classes"]["new"], mapped["classes"]["dropped"])
        return {"family": parent.name, "fitted_at": parent.fit_info_.get("fitted_at"),
                "weights_sha256": transfer.weights_digest(parent), "classes": parent.classes_,
                "mapped": mapped}

    def _restart_averages(self) -> None:
        """Restart the warm-up of every EMA, so the average follows the weights the next
        phase trains instead of holding on to what came before."""
        for module in self.modules_.values():
            if isinstance(module, EMA):
                module.steps.zero_()

    def _layouts(self, info: DataInfo, dims: list, classes: list) -> dict[str, list]:
        """Key lists of the data-shaped axes of this family's networks: `dims` (one key per
        encoded table dim), `classes` (one per class). A family whose networks lay data
        out otherwise (e.g. a mixture output per continuous column) adds its own."""
        return {"classes": classes, "classes+null": [*classes, transfer.NULL], "dims": dims}

    def _prepare(self, X: Any, y: Any, schema: TableSchema | None = None, pretrain: Any = None,
                 warm: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Check inputs, fit the transformer, encode labels (and the pretraining pool).
        Sets info_/classes_/resolved_."""
        y = np.asarray(y)
        if y.ndim != 1:
            raise DataError(f"labels must be one-dimensional, got shape {y.shape}")
        if len(y) != len(X):
            raise DataError(f"{len(X)} rows of features but {len(y)} labels")
        if len(y) == 0:
            raise DataError("no training rows")
        if pd.isna(pd.Series(y)).any():
            raise DataError("some labels are missing (NaN/None)")
        classes, index, counts = np.unique(y, return_inverse=True, return_counts=True)
        if len(classes) < 2:
            raise DataError(f"only one class ({classes[0]!r}); need at least two")
        small = {to_python(c): int(n) for c, n in zip(classes, counts, strict=True) if n < 2}
        if small:
            raise DataError(f"classes with fewer than 2 training rows: {small}")
        self.classes_ = [to_python(c) for c in classes]
        self.label_dtype_ = y.dtype.str if y.dtype != object else "object"
        self.target_ = schema.target if schema is not None else None
        both = self._with_pool(X, pretrain)
        if schema is not None and pretrain is not None:
            schema = transfer.widen_schema(schema, pretrain)
        null = pretrain is not None
        if isinstance(X, pd.DataFrame):
            self.transformer_ = TableTransformer().fit(both, schema)
            encoded = self.transformer_.transform(X)
            spans = tuple(self.transformer_.spans)
            self.info_ = DataInfo("table", len(classes), tuple(map(int, counts)),
                                  dim=encoded.shape[1], spans=spans, null_class=null)
        else:
            self.transformer_ = ImageTransformer().fit(both)
            encoded = self.transformer_.transform(X)
            self.info_ = DataInfo("image", len(classes), tuple(map(int, counts)),
                                  image_shape=self.transformer_.tensor_shape, null_class=null)
        pool = None
        if pretrain is not None:
            pool = torch.from_numpy(self.transformer_.transform(pretrain))
        self.resolved_ = {**self._schedule(len(y), warm), **self._resolve(self.info_)}
        if pool is not None:
            self.resolved_["pretrain_epochs"] = self._schedule(len(pool))["epochs"]
        self.epochs_ = self.resolved_["epochs"]
        return torch.from_numpy(encoded), torch.from_numpy(index.astype(np.int64)), pool

    @staticmethod
    def _with_pool(X: Any, pretrain: Any) -> Any:
        """X and the unlabelled rows together (what the transformer is fitted on)."""
        if not isinstance(X, pd.DataFrame | np.ndarray):
            raise DataError(f"X must be a DataFrame or an image ndarray, got {type(X).__name__}")
        if pretrain is None:
            return X
        if isinstance(X, pd.DataFrame):
            if not isinstance(pretrain, pd.DataFrame):
                raise DataError(f"pretrain rows for a table must be a DataFrame, got "
                                f"{type(pretrain).__name__}")
            missing = [c for c in X.columns if c not in pretrain.columns]
            if missing:
                raise DataError(f"pretrain rows lack the columns {missing}")
            if len(pretrain) == 0:
                raise DataError("pretrain holds no rows")
            return pd.concat([X, pretrain[list(X.columns)]], ignore_index=True)
        pretrain = np.asarray(pretrain) if isinstance(pretrain, np.ndarray) else pretrain
        if not isinstance(pretrain, np.ndarray) or pretrain.shape[1:] != X.shape[1:] or not len(pretrain):
            shape = getattr(pretrain, "shape", type(pretrain).__name__)
            raise DataError(f"pretrain images must be a non-empty array of shape [M, "
                            f"{', '.join(map(str, X.shape[1:]))}], got {shape}")
        return np.concatenate([X, pretrain.astype(X.dtype, copy=False)])

    def _schedule(self, rows: int, warm: bool = False) -> dict[str, Any]:
        """{"min_steps": as used, "epochs": to train} for `rows` training rows; a warm
        start trains `warm_share` of both (and records the share)."""
        min_steps = self.config.min_steps
        if min_steps is None:
            min_steps = (table_min_steps(self.TABLE_MIN_STEPS, rows, self.info_.dim)
                         if self.info_.modality == "table" else self.IMAGE_MIN_STEPS)
        steps_per_epoch = rows // min(self.config.batch_size, rows)
        epochs = max(self.config.epochs, -(-min_steps // steps_per_epoch))
        if not warm:
            return {"min_steps": min_steps, "epochs": epochs}
        share = self.config.warm_share
        # rounded down: a warm fit trains at most `warm_share` of the cold steps
        return {"min_steps": math.floor(share * min_steps), "epochs": max(1, math.floor(share * epochs)),
                "warm_share": share}

    def _train(self, data: torch.Tensor, labels: torch.Tensor, rng: torch.Generator,
               start: int, ckpt: Path | None, phase: str) -> None:
        """Train `phase` ("pretrain" or "fit") from epoch `start` to its last epoch."""
        from tqdm.auto import tqdm

        self.phase_ = phase
        epochs = self.resolved_["pretrain_epochs"] if phase == "pretrain" else self.epochs_
        curve = self.pretrain_curve_ if phase == "pretrain" else self.curve_
        n = len(data)
        batch = min(self.config.batch_size, n)
        show = show_progress(self.config.progress)
        label = f"{phase} {self.name}"
        bar = tqdm(range(start, epochs), desc=label, disable=not show, initial=start, total=epochs)
        # Without a bar, log every k-th epoch and the last: at most MAX_LOG_LINES lines.
        every = max(1, math.ceil((epochs - start) / MAX_LOG_LINES))
        for module in self.modules_.values():
            module.train()
        for epoch in bar:
            self.epoch_ = epoch
            row = self._epoch(data, labels, rng, batch, epoch)
            curve.append(row)
            figures = {k: f"{v:.3g}" for k, v in row.items() if k != "epoch"}
            bar.set_postfix(figures)
            last = epoch + 1 == epochs
            if not show and ((epoch + 1 - start) % every == 0 or last):
                log.info("%s epoch %d/%d: %s", label, epoch + 1, epochs,
                         ", ".join(f"{k} {v}" for k, v in figures.items()))
            if ckpt and ((epoch + 1) % self.config.checkpoint_every == 0 or last):
                self._checkpoint(ckpt, phase, epoch + 1, rng)

    def _epoch(self, data: torch.Tensor, labels: torch.Tensor, rng: torch.Generator,
               batch: int, epoch: int) -> dict[str, float]:
        """One pass over shuffled `data`; the curve row {"epoch", mean losses, extras}."""
        order = torch.randperm(len(data), generator=rng)
        totals: dict[str, float] = {}
        steps = 0
        per_epoch = len(data) // batch
        for begin in range(0, len(data) - batch + 1, batch):  # drop the ragged last batch
            idx = order[begin : begin + batch]
            self._set_learning_rate(epoch * per_epoch + steps, self.epochs_ * per_epoch)
            rows, row_labels = data.index_select(0, idx), labels.index_select(0, idx)
            losses = self._train_step(rows.to(self.device), row_labels.to(self.device), rng)
            for key, value in losses.items():
                totals[key] = totals.get(key, 0.0) + float(value)
            steps += 1
        row = {"epoch": epoch + 1, **{k: v / max(steps, 1) for k, v in totals.items()}}
        row.update(self._end_epoch(epoch))
        return row

    def _set_learning_rate(self, step: int, total: int) -> None:
        """Every optimizer's learning rate at step `step` of `total` of this phase: the
        configured one, ramped up over the first WARM_LR_RAMP of a warm fit's steps."""
        warm = self.phase_ == "fit" and self.lineage_.get("init_from") is not None
        factor = min(1.0, (step + 1) / max(1.0, WARM_LR_RAMP * total)) if warm else 1.0
        for key, optimizer in self.optimizers_.items():
            for group, lr in zip(optimizer.param_groups, self.base_lrs_[key], strict=True):
                group["lr"] = lr * factor

    # ---- checkpoints ----------------------------------------------------------------
    def _hyper_key(self) -> str:
        """The effective hyperparameters as JSON: the config but its run options, the
        values resolved for this data, and the warm start and pretraining pool. A
        checkpoint resumes only under the same key."""
        config = {k: v for k, v in asdict(self.config).items() if k not in RUN_OPTIONS}
        lineage = getattr(self, "lineage_", {})
        parent = (lineage.get("init_from") or {}).get("weights_sha256")
        pool = (lineage.get("pretrain") or {}).get("digest")
        return json.dumps({"config": config, "resolved": self.resolved_, "init_from": parent,
                           "pretrain": pool}, sort_keys=True, default=to_python)

    def _checkpoint(self, path: Path, phase: str, epoch: int, rng: torch.Generator) -> None:
        state = {
            "phase": phase,
            "epoch": epoch,
            "hyperparameters": self._hyper_key(),
            "fingerprint": self._data_key(),
            "curve": json.dumps(self.curve_),
            "pretrain_curve": json.dumps(self.pretrain_curve_),
            "rng": rng.get_state(),
            "torch_rng": torch.get_rng_state(),
            "modules": {k: m.state_dict() for k, m in self.modules_.items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers_.items()},
        }
        from augment.io import atomic_file

        with atomic_file(path) as tmp:  # a kill leaves the previous checkpoint whole
            torch.save(state, tmp)

    def _resume(self, path: Path, rng: torch.Generator) -> tuple[str, int]:
        """(phase, epochs done in it) from the checkpoint at `path`; ("pretrain", 0) when
        there is none (a fit without a pool then starts its "fit" phase at 0)."""
        if not path.exists():
            return "pretrain", 0
        try:
            state = torch.load(path, map_location=self.device, weights_only=True)
        except Exception as err:
            raise ModelError(f"cannot read checkpoint {path}: {err}") from err
        if (state.get("hyperparameters") != self._hyper_key()
                or state.get("fingerprint") != self._data_key()):
            raise StaleCheckpointError(
                f"checkpoint {path} was written for other data or params; "
                "remove it or use another directory"
            )
        for key, module in self.modules_.items():
            module.load_state_dict(state["modules"][key])
        for key, optimizer in self.optimizers_.items():
            optimizer.load_state_dict(state["optimizers"][key])
        rng.set_state(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        self.curve_ = json.loads(state["curve"])
        self.pretrain_curve_ = json.loads(state["pretrain_curve"])
        log.info("fit %s: resumed from %s at epoch %d of the %s phase", self.name, path,
                 state["epoch"], state["phase"])
        return state["phase"], int(state["epoch"])

    def _data_key(self) -> str:
        config, _ = self.transformer_.get_state()
        return json.dumps([config, self.classes_, list(self.info_.class_counts)], sort_keys=True,
                          default=str)

    # ---- sampling -------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "modules_") or not hasattr(self, "classes_"):
            raise ModelError(f"{self.name} generator is not fitted: call fit() or load one")

    def label_indices(self, y: Any) -> np.ndarray:
        """Class indices [N] (int64) of labels `y` [N], matched by value or by text; an
        unknown label is a DataError naming it."""
        self._check_fitted()
        y = np.asarray(y, dtype=object)
        if y.ndim != 1:
            raise DataError(f"labels must be one-dimensional, got shape {y.shape}")
        by_value = {c: i for i, c in enumerate(self.classes_)}
        by_text = {str(c): i for i, c in enumerate(self.classes_)}
        out = np.empty(len(y), dtype=np.int64)
        for row, label in enumerate(y.tolist()):
            label = to_python(label)
            index = by_value.get(label, by_text.get(str(label)))
            if index is None:
                raise DataError(f"unknown class {label!r}; classes are {self.classes_}")
            out[row] = index
        return out

    def resolve_counts(self, counts: Mapping[Any, int]) -> list[tuple[int, int]]:
        """Map {label: n} to [(class index, n)], accepting labels by value or by text."""
        self._check_fitted()
        if not isinstance(counts, Mapping) or not counts:
            raise DataError("counts must be a non-empty mapping {class: number of rows}")
        by_text = {str(c): i for i, c in enumerate(self.classes_)}
        resolved = []
        for label, n in counts.items():
            label = to_python(label)
            if label in self.classes_:
                index = self.classes_.index(label)
            elif str(label) in by_text:
                index = by_text[str(label)]
            else:
                raise DataError(f"unknown class {label!r}; classes are {self.classes_}")
            if isinstance(n, bool) or not isinstance(to_python(n), int):
                raise DataError(f"count for class {label!r} must be an integer, got {n!r}")
            if n < 0:
                raise DataError(f"count for class {label!r} is negative ({n})")
            resolved.append((index, int(n)))
        return resolved

    @torch.no_grad()
    def sample(self, counts: Mapping[Any, int], seed: int = 0, rows: tuple[int, int] | None = None
               ) -> tuple[pd.DataFrame | np.ndarray, np.ndarray]:
        """Exactly `counts[c]` rows of each class `c`, grouped by class in the given order.

        The rows are made in blocks of `SAMPLE_BLOCK`; block b draws its noise from a seed
        derived from (seed, b) alone. So `rows=(start, stop)` (block-aligned `start`)
        returns exactly those rows of the full output: shards sampled on many workers
        and concatenated equal the single-machine result row for row.

        Returns:
            (X_syn, y_syn): same columns/dtypes/categories as the training table, or
            images with the training shape and dtype; labels [N] with the training dtype.
        """
        if isinstance(seed, bool) or not isinstance(to_python(seed), int) or not 0 <= seed <= SEED_MAX:
            raise DataError(f"seed must be an integer in [0, {SEED_MAX}], got {seed!r}")
        resolved = self.resolve_counts(counts)
        if sum(n for _, n in resolved) > MAX_ROWS:
            raise DataError(f"counts ask for {sum(n for _, n in resolved):,} rows; at most "
                            f"{MAX_ROWS:,} per call (sample shards with rows=(start, stop))")
        seed = int(seed)
        labels = torch.cat([torch.full((n,), i, dtype=torch.long) for i, n in resolved])
        start, stop = (0, len(labels)) if rows is None else rows
        if start % SAMPLE_BLOCK or not 0 <= start <= stop <= len(labels):
            raise DataError(f"rows=({start}, {stop}) must lie in [0, {len(labels)}] with a start "
                            f"that is a multiple of {SAMPLE_BLOCK}")
        chunks = []
        for module in self.modules_.values():
            module.eval()
        for begin in range(start, stop, SAMPLE_BLOCK):
            block_seed = int(np.random.SeedSequence([seed, begin // SAMPLE_BLOCK]).generate_state(1)[0])
            part = labels[begin : min(begin + SAMPLE_BLOCK, stop)].to(self.device)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(block_seed)
                rng = torch.Generator().manual_seed(block_seed)
                chunks.append(self._generate(part, rng).float().cpu())
        encoded = torch.cat(chunks).numpy() if chunks else np.zeros((0, *self._encoded_shape()))
        X_syn = self.transformer_.inverse_transform(encoded)
        picked = labels[start:stop].tolist()
        y_syn = np.asarray([self.classes_[i] for i in picked], dtype=self.label_dtype_)
        return X_syn, y_syn

    def _encoded_shape(self) -> tuple[int, ...]:
        return (self.info_.dim,) if self.info_.modality == "table" else self.info_.image_shape

    # ---- persistence ----------------------------------------------------------------
    def save(self, path: str | Path, force: bool = False) -> Path:
        """Write config.json + weights.safetensors + curve.json into folder `path`.

        config.json holds the whole resolved config, so `load_generator` rebuilds the
        model as it was fitted whatever the code's defaults are by then; "params" (the
        overrides as given) is kept for people reading the file. The folder is written
        with `augment.io.atomic_dir`: an interrupted save leaves the previous model (or
        none), never half of one, and a folder augment did not write is replaced only
        with `force` (`OutputExistsError` otherwise).
        """
        from safetensors.torch import save_file

        from augment.io import atomic_dir

        self._check_fitted()
        t_config, t_arrays = self.transformer_.get_state()
        facts = getattr(self, "fit_info_", {})
        config = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "family": self.name,
            "config": asdict(self.config),
            "resolved": self.resolved_,
            "params": self.params,
            **{key: facts.get(key) for key in FIT_FACTS},
            "classes": self.classes_,
            "label_dtype": self.label_dtype_,
            "target": self.target_,
            "lineage": getattr(self, "lineage_", {"init_from": None, "pretrain": None}),
            "info": {**asdict(self.info_), "spans": [asdict(s) for s in self.info_.spans]},
            "transformer": t_config,
        }
        tensors = {f"transformer.{k}": torch.from_numpy(np.ascontiguousarray(v))
                   for k, v in t_arrays.items()}
        for key, module in self.modules_.items():
            for name, value in module.state_dict().items():
                tensors[f"{key}.{name}"] = value.detach().cpu().contiguous()
        for name, value in self._state_tensors().items():
            tensors[f"state.{name}"] = value.detach().cpu().contiguous()
        with atomic_dir(path, "model", force=force) as tmp:
            (tmp / MODEL_CONFIG_FILE).write_text(json.dumps(config, indent=2, default=to_python))
            (tmp / CURVE_FILE).write_text(json.dumps(self.curve_, indent=1))
            save_file(tensors, str(tmp / WEIGHTS_FILE))
        return Path(path)

    @classmethod
    def _from_saved(cls, config: dict, tensors: dict[str, torch.Tensor], curve: list) -> Generator:
        self = cls(**config["config"])  # every field given: today's defaults play no part
        self.params = dict(config["params"])
        self.resolved_ = dict(config["resolved"])
        self.epochs_ = self.resolved_["epochs"]
        self.fit_info_ = {key: config.get(key) for key in FIT_FACTS}
        info = dict(config["info"])
        info["spans"] = tuple(Span(**s) for s in info["spans"])
        info["class_counts"] = tuple(info["class_counts"])
        info["image_shape"] = tuple(info["image_shape"])
        self.info_ = DataInfo(**info)
        self.classes_ = list(config["classes"])
        self.label_dtype_ = config["label_dtype"]
        self.target_ = config.get("target")
        self.lineage_ = config.get("lineage") or {"init_from": None, "pretrain": None}
        arrays = {k.removeprefix("transformer."): v.numpy() for k, v in tensors.items()
                  if k.startswith("transformer.")}
        transformer_cls = TableTransformer if self.info_.modality == "table" else ImageTransformer
        self.transformer_ = transformer_cls.from_state(config["transformer"], arrays)
        with torch.random.fork_rng(devices=[]):
            self._build(self.info_)
        for key, module in self.modules_.items():
            prefix = f"{key}."
            state = {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}
            module.load_state_dict(state)
            module.to(self.device).eval()
        self._load_state_tensors({k.removeprefix("state."): v for k, v in tensors.items()
                                  if k.startswith("state.")})
        self.curve_ = curve
        return self


def load_generator(path: str | Path) -> Generator:
    """Load a model folder written by `Generator.save`; no code is unpickled."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from augment.generators.registry import generator_class

    path = Path(path)
    config_file, weights_file = path / MODEL_CONFIG_FILE, path / WEIGHTS_FILE
    if not config_file.is_file() or not weights_file.is_file():
        raise ModelError(f"{path} is not a saved generator (needs {MODEL_CONFIG_FILE} and "
                         f"{WEIGHTS_FILE})")
    try:
        config = json.loads(config_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelError(f"{config_file} is not valid JSON: {err}") from err
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelError(f"{config_file} is not an augment generator config")
    if config.get("format_version") != FORMAT_VERSION:
        hint = ("; it stored only the overridden hyperparameters, so fit it again"
                if config.get("format_version") == 1 else "")
        raise ModelError(f"{path} has format version {config.get('format_version')}; "
                         f"this version reads {FORMAT_VERSION}{hint}")
    missing = [key for key in CONFIG_KEYS if key not in config]
    if missing:
        raise ModelError(f"{config_file} lacks the {', '.join(repr(k) for k in missing)} "
                         f"{'entry' if len(missing) == 1 else 'entries'}: it is incomplete or was "
                         "edited; save the model again")
    try:
        tensors = load_file(str(weights_file))
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelError(f"{weights_file} is corrupt: {err}") from err
    curve_file = path / CURVE_FILE
    try:
        curve = json.loads(curve_file.read_text()) if curve_file.is_file() else []
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelError(f"{curve_file} is not valid JSON ({err}); delete it (the training curve "
                         "is not needed to sample) or save the model again") from err
    if not isinstance(curve, list):
        raise ModelError(f"{curve_file} must hold a list of epoch rows")
    try:
        return generator_class(config["family"])._from_saved(config, tensors, curve)
    except (KeyError, RuntimeError, TypeError, AugmentError) as err:
        raise ModelError(f"{path} does not match its config: {err}") from err


def module_parameters(modules: Mapping[str, nn.Module], *keys: str) -> list[nn.Parameter]:
    """Parameters of the named modules, for building an optimiser."""
    return [p for key in keys for p in modules[key].parameters()]
