"""The LightningModule that trains a :class:`GenreNet`: loss, mixup, metrics, optimiser and
schedule (as factories built elsewhere, ``genre.build``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torchmetrics import MeanMetric, MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
)

from genre.errors import GenreError
from genre.model.augment import Mixup
from genre.model.net import GenreNet

OptimizerFactory = Callable[[Iterable[Any]], torch.optim.Optimizer]
"""Parameters (or parameter groups) in, optimiser out."""
SchedulerFactory = Callable[[torch.optim.Optimizer, int], dict[str, Any]]
"""Optimiser and the run's total optimiser steps in, Lightning's ``lr_scheduler`` dict out."""


def metric_set(n_classes: int, prefix: str) -> MetricCollection:
    return MetricCollection(
        {
            "acc": MulticlassAccuracy(n_classes, average="micro"),
            "macro_f1": MulticlassF1Score(n_classes, average="macro"),
            # Balanced accuracy is the mean per-class recall.
            "balanced_acc": MulticlassAccuracy(n_classes, average="macro"),
        },
        prefix=prefix,
    )


class GenreClassifier(pl.LightningModule):
    """Loss, metrics, optimiser and schedule around a :class:`GenreNet`. The optimiser and the
    schedule come as factories, built where the config is read (``genre.build``)."""

    def __init__(
        self,
        net: GenreNet,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        class_weights: torch.Tensor | None = None,
        label_smoothing: float = 0.0,
        mixup: float = 0.0,
    ):
        super().__init__()
        self.net, self.label_smoothing = net, label_smoothing
        self.make_optimizer, self.make_scheduler = optimizer, scheduler
        self.mixup = Mixup(mixup)
        self.register_buffer("class_weights", class_weights)
        n = len(net.genres)
        self.train_metrics = metric_set(n, "train/")
        self.val_metrics = metric_set(n, "val/")
        self.test_metrics = metric_set(n, "test/")
        # Metrics too, for the per-clip mean over all DDP processes: Lightning's sync_dist mean
        # rounds the clip count to an integer when the processes' shares differ.
        self.val_loss, self.test_loss = MeanMetric(), MeanMetric()
        # A metric, so that under DDP it sums every process's share of the test clips.
        self.test_confusion = MulticlassConfusionMatrix(n)
        self.test_matrix: torch.Tensor | None = None  # [true genre, predicted genre] counts

    def _loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(
            logits.float(), targets, weight=self.class_weights, label_smoothing=self.label_smoothing
        )

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int):
        waves, targets = batch
        if self.mixup:
            waves, targets, partners, lam = self.mixup(waves, targets)
            logits = self.net(waves)
            loss = lam * self._loss(logits, targets) + (1 - lam) * self._loss(logits, partners)
            targets = targets if lam >= 0.5 else partners  # the mix's main genre, for metrics
        else:
            logits = self.net(waves)
            loss = self._loss(logits, targets)
        self.train_metrics.update(logits, targets)
        # sync_dist: under DDP the mean over all processes' batches (whose sizes are equal in
        # training: Lightning's DistributedSampler pads the shards), not this process's.
        self.log(
            "train/loss",
            loss,
            on_step=False,
            on_epoch=True,
            batch_size=len(targets),
            sync_dist=True,
        )
        self.log_dict(self.train_metrics, on_step=False, on_epoch=True)
        return loss

    def on_train_epoch_end(self) -> None:
        # Judged once per epoch on the epoch's mean loss (synced: every DDP process stops
        # together), not per step: a per-step check would wait for the device at every step.
        loss = float(self.trainer.callback_metrics.get("train/loss", 0.0))
        if not math.isfinite(loss):
            raise GenreError(
                f"The training loss is not finite ({loss}) in epoch {self.current_epoch}: the run "
                "diverged (lower optim.lr or enable trainer.gradient_clip_val)"
            )

    def _eval_step(
        self, batch, metrics: MetricCollection, loss_metric: MeanMetric, prefix: str
    ) -> torch.Tensor:
        crops, targets = batch
        probs = self.net.clip_probabilities(crops)
        loss = F.nll_loss(torch.log(probs.clamp_min(1e-8)), targets)
        metrics.update(probs, targets)
        loss_metric.update(loss, weight=len(targets))
        self.log(f"{prefix}loss", loss_metric, on_epoch=True)
        self.log_dict(metrics, on_epoch=True)
        return probs

    def validation_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch, self.val_metrics, self.val_loss, "val/")

    def test_step(self, batch, batch_idx: int) -> None:
        probs = self._eval_step(batch, self.test_metrics, self.test_loss, "test/")
        self.test_confusion.update(probs, batch[1])

    def on_test_epoch_end(self) -> None:
        self.test_matrix = self.test_confusion.compute().cpu()  # on every rank: compute syncs
        self.test_confusion.reset()

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # What the weights do not say, so a checkpoint plus its config rebuilds a usable net.
        checkpoint["genre_net"] = {
            "genres": self.net.genres,
            "sample_rate": self.net.sample_rate,
            "chunk_samples": self.net.chunk_samples,
        }

    def configure_optimizers(self):
        optimizer = self.make_optimizer(self.net.parameter_groups())
        if self.make_scheduler is None:
            return optimizer
        steps = int(self.trainer.estimated_stepping_batches)
        return {"optimizer": optimizer, "lr_scheduler": self.make_scheduler(optimizer, steps)}
