"""Optuna pruning inside a Lightning fit: the trial's objective reported after each validation,
and the fit stopped when the study's pruner says so; in one process, or across DDP processes."""

from __future__ import annotations

import lightning.pytorch as pl
import optuna


def pruning_callback(trial: optuna.Trial, monitor: str) -> pl.Callback:
    """Lightning callback that reports ``monitor`` after each validation and prunes the trial."""
    from optuna_integration.pytorch_lightning import PyTorchLightningPruningCallback

    return PyTorchLightningPruningCallback(trial, monitor=monitor)


class DistributedPruning(pl.Callback):
    """Optuna pruning under DDP, with any study storage: rank 0 holds the trial, reports the
    objective and asks the pruner, and its verdict is broadcast so that every rank stops after
    the same epoch; ``check_pruned`` then raises TrialPruned on each. (optuna-integration's
    callback wants the trial on every rank and an RDB storage, so no journal file.)"""

    def __init__(self, trial: optuna.Trial | None, monitor: str):
        self.trial, self.monitor = trial, monitor
        self.pruned_at: int | None = None

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        prune, score = False, trainer.callback_metrics.get(self.monitor)
        if self.trial is not None and score is not None:  # no score: ModelCheckpoint says why
            self.trial.report(float(score), trainer.current_epoch)
            prune = self.trial.should_prune()
        if trainer.strategy.broadcast(prune):
            self.pruned_at = trainer.current_epoch
            trainer.should_stop = True

    def check_pruned(self) -> None:
        if self.pruned_at is not None:
            raise optuna.TrialPruned(f"Trial was pruned at epoch {self.pruned_at}.")
