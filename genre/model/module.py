"""The LightningModule that trains a :class:`GenreNet`: mixup, the task's loss and metrics,
optimiser and schedule (the task and the factories built elsewhere, ``genre.build``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import lightning.pytorch as pl
import torch
from torchmetrics import MeanMetric, MetricCollection

from genre.errors import GenreError
from genre.model.augment import Mixup
from genre.model.net import GenreNet
from genre.model.task import Task

OptimizerFactory = Callable[[Iterable[Any]], torch.optim.Optimizer]
"""Parameters (or parameter groups) in, optimiser out."""
SchedulerFactory = Callable[[torch.optim.Optimizer, int], dict[str, Any]]
"""Optimiser and the run's total optimiser steps in, Lightning's ``lr_scheduler`` dict out."""


class GenreClassifier(pl.LightningModule):
    """Mixup, optimiser and schedule around a :class:`GenreNet`, with the loss and metrics of its
    ``task`` (one genre or many tags per clip). The task, the optimiser and the schedule come
    ready-made, built where the config is read (``genre.build``)."""

    def __init__(
        self,
        net: GenreNet,
        task: Task,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        mixup: float = 0.0,
    ):
        super().__init__()
        self.net, self.task = net, task
        self.make_optimizer, self.make_scheduler = optimizer, scheduler
        self.mixup = Mixup(mixup)
        self.train_metrics = task.metrics("train/")
        self.val_metrics = task.metrics("val/")
        self.test_metrics = task.metrics("test/")
        # Metrics too, for the per-clip mean over all DDP processes: Lightning's sync_dist mean
        # rounds the clip count to an integer when the processes' shares differ.
        self.val_loss, self.test_loss = MeanMetric(), MeanMetric()
        # A metric, so that under DDP it sums every process's share of the test clips.
        self.test_details = task.test_details()
        # What test_details computed (the confusion matrix; per-tag scores), for the report.
        self.test_result: Any = None

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int):
        waves, targets = batch
        loss_of = self.task.loss
        if self.mixup:
            # The loss is linear in the targets, so mixing the two targets' losses is the loss of
            # the mixed targets: genre indices and multi-hot tags alike.
            waves, targets, partners, lam = self.mixup(waves, targets)
            logits = self.net(waves)
            loss = lam * loss_of(logits, targets) + (1 - lam) * loss_of(logits, partners)
            targets = targets if lam >= 0.5 else partners  # the mix's main labels, for metrics
        else:
            logits = self.net(waves)
            loss = loss_of(logits, targets)
        # Logits: every training metric depends on their order alone, as on the probabilities'.
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
        crops, mask, targets = batch
        probs = self.net.clip_probabilities(crops, mask)
        loss = self.task.clip_loss(probs, targets)
        metrics.update(probs, targets)
        loss_metric.update(loss, weight=len(targets))
        self.log(f"{prefix}loss", loss_metric, on_epoch=True)
        self.log_dict(metrics, on_epoch=True)
        return probs

    def validation_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch, self.val_metrics, self.val_loss, "val/")

    def test_step(self, batch, batch_idx: int) -> None:
        probs = self._eval_step(batch, self.test_metrics, self.test_loss, "test/")
        self.test_details.update(probs, batch[-1])

    def on_test_epoch_end(self) -> None:
        result = self.test_details.compute()  # on every rank: compute syncs
        self.test_result = (
            {name: value.cpu() for name, value in result.items()}
            if isinstance(result, dict)
            else result.cpu()
        )
        self.test_details.reset()

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
