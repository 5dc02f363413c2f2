"""From a composed config to ready-made pieces: the network, the LightningModule with its
optimiser and schedule factories, the training callbacks and the Trainer. The one place where the
model side meets the config: nothing in ``genre.model`` sees a ``DictConfig``."""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any

import hydra
import lightning.pytorch as pl
import torch
import torchaudio
from hydra.errors import InstantiationException
from lightning.pytorch.callbacks import EarlyStopping, EMAWeightAveraging, ModelCheckpoint
from omegaconf import DictConfig, OmegaConf
from torch import nn

from genre.config import is_tagging, model_target, settings
from genre.console import in_sweep
from genre.errors import GenreError
from genre.model.augment import WaveAugment
from genre.model.module import GenreClassifier, OptimizerFactory, SchedulerFactory
from genre.model.net import GenreNet
from genre.model.spectrogram import Spectrogram
from genre.model.task import GenreTask, TaggingTask, Task


def build_spectrogram(features: DictConfig, sample_rate: int, **changes: Any) -> Spectrogram:
    """The ``features`` group (with ``changes``) as a spectrogram layer at ``sample_rate``."""
    options = {**OmegaConf.to_container(features, resolve=True), **changes}
    options.pop("name", None)
    return Spectrogram(sample_rate, **options)


def _front_end(cfg: DictConfig, fixed: dict[str, Any] | None) -> nn.Module:
    """The run's spectrogram layer; or, for a pretrained network, the ``fixed`` settings it was
    trained with (SpecAugment's masks still from ``features``), behind a resampler on the device
    where the data's rate is higher."""
    rate = int(cfg.data.sample_rate)
    if fixed is None:
        return build_spectrogram(cfg.features, rate)
    masks = {k: v for k, v in cfg.features.items() if k.endswith(("_masks", "_mask"))}
    settings = {**fixed, **masks}
    needed = int(settings.pop("sample_rate"))
    spectrogram = Spectrogram(needed, **settings)
    if rate == needed:
        return spectrogram
    if rate < needed:
        raise GenreError(
            f"model={cfg.model.name} hears audio at {needed} Hz, and data.sample_rate={rate} "
            f"lacks the band above {rate // 2} Hz: set data.sample_rate={needed}."
        )
    return nn.Sequential(torchaudio.transforms.Resample(rate, needed), spectrogram)


def build_network(cfg: DictConfig, genres: list[str]) -> GenreNet:
    """The network of ``cfg`` predicting ``genres`` (for ``task=tagging``, the tags)."""
    model = OmegaConf.to_container(cfg.model, resolve=True)
    model.pop("name", None)
    model["_target_"] = model_target(cfg.model)
    try:
        classifier = hydra.utils.instantiate(model, n_classes=len(genres))
    except InstantiationException as exc:
        # A model's own one-sentence error, which Hydra wraps in a report of the call.
        if isinstance(exc.__cause__, GenreError):
            raise exc.__cause__ from None
        raise
    augment, data = cfg.get("augment") or {}, settings(cfg, "data")
    return GenreNet(
        _front_end(cfg, getattr(classifier, "SPECTROGRAM", None)),
        classifier,
        genres,
        data.sample_rate,
        data.chunk_samples,
        WaveAugment(augment.get("gain_db", 0.0), augment.get("shift", 0.0)),
        multilabel=is_tagging(cfg),
        hop_samples=data.hop_samples,
    )


def build_optimizer(optim: DictConfig) -> OptimizerFactory:
    """``optim`` without its schedule keys, as a factory of its ``_target_`` over parameter
    groups; a group's ``lr_scale`` sets its rate to that share of ``optim.lr``."""
    options = OmegaConf.to_container(optim, resolve=True)
    for key in ("schedule", "warmup_epochs"):
        options.pop(key, None)
    options["_partial_"] = True
    make = hydra.utils.instantiate(options)
    return partial(_scaled_groups, make, float(options.get("lr", 0.0)))


def _scaled_groups(
    make: OptimizerFactory, lr: float, groups: Iterable[dict[str, Any]]
) -> torch.optim.Optimizer:
    scaled = []
    for group in groups:
        group = dict(group)
        scale = group.pop("lr_scale", None)
        scaled.append(group if scale is None else {**group, "lr": lr * scale})
    return make(scaled)


def build_scheduler(optim: DictConfig, max_epochs: int) -> SchedulerFactory | None:
    """``optim.schedule``: ``none``, or ``cosine``: a linear warm-up over
    ``optim.warmup_epochs`` from zero to ``optim.lr``, then a cosine decay to zero at the last
    step. Stepped per optimiser step, so warm-up works within the first epoch too."""
    warmup_epochs = float(optim.get("warmup_epochs", 0.0))
    if optim.get("schedule", "none") == "none":
        return None
    return partial(_cosine_schedule, warmup_share=warmup_epochs / max(1, max_epochs))


def _cosine_schedule(
    optimizer: torch.optim.Optimizer, total_steps: int, warmup_share: float
) -> dict[str, Any]:
    warmup = int(round(warmup_share * total_steps))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    return {"scheduler": scheduler, "interval": "step"}


def build_task(cfg: DictConfig, n_labels: int, weights: torch.Tensor | None) -> Task:
    """The task's loss and metrics over ``n_labels`` genres or tags; ``weights`` are the
    DataModule's ``class_weights()`` (class weights, or each tag's ``pos_weight``)."""
    if is_tagging(cfg):
        return TaggingTask(n_labels, weights)
    return GenreTask(n_labels, weights, float(cfg.loss.label_smoothing))


def build_module(
    cfg: DictConfig, net: GenreNet, class_weights: torch.Tensor | None
) -> GenreClassifier:
    """The LightningModule training ``net``; ``class_weights``: see :func:`build_task`."""
    return GenreClassifier(
        net,
        build_task(cfg, len(net.genres), class_weights),
        build_optimizer(cfg.optim),
        build_scheduler(cfg.optim, int(cfg.trainer.max_epochs)),
        float((cfg.get("augment") or {}).get("mixup", 0.0)),
    )


def build_callbacks(cfg: DictConfig, output_dir: Path) -> tuple[ModelCheckpoint, list[pl.Callback]]:
    """The best-checkpoint keeper (by ``cfg.objective``) and every callback of the run."""
    checkpoint = ModelCheckpoint(
        dirpath=output_dir / "checkpoints",
        monitor=cfg.objective,
        mode="max",
        save_top_k=1,
        filename="best",
    )
    callbacks: list[pl.Callback] = [checkpoint]
    training = cfg.get("training") or {}
    patience = training.get("early_stopping")
    if patience is not None:
        callbacks.append(EarlyStopping(cfg.objective, patience=int(patience), mode="max"))
    decay = training.get("ema_decay")
    if decay is not None:
        # Validation, the checkpoints and so the tested weights are the averaged ones.
        callbacks.append(EMAWeightAveraging(decay=float(decay)))
    return checkpoint, callbacks


def build_trainer(cfg: DictConfig, callbacks: Iterable[pl.Callback], root: Path) -> pl.Trainer:
    options = OmegaConf.to_container(cfg.trainer, resolve=True)
    if options.get("enable_progress_bar") is None:
        # In a sweep, the trial lines are the progress (with the time left); bars would
        # interleave between them, from every job at once under a parallel launcher.
        options["enable_progress_bar"] = not in_sweep()
    return pl.Trainer(**options, callbacks=list(callbacks), logger=False, default_root_dir=root)
