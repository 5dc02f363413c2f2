"""Row 3: the time of a training epoch through genre's Lightning path (``GenreClassifier`` and a
Trainer from ``build_trainer``: no logger, no checkpoint, no progress bar) against a bare PyTorch
loop over the same ``GenreNet``, DataLoader, batch size and optimiser."""

from __future__ import annotations

import time

import hydra
import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from torch.utils.data import DataLoader

from genre.bench.common import Metric, RowResult, Target, Workspace, best, median
from genre.module import GenreClassifier
from genre.train import build_network, build_trainer


class EpochClock(pl.Callback):
    """Wall time of every epoch, from one epoch's start to the next's (the last one's to the end
    of training), so the loop's bookkeeping between epochs is charged too."""

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.end = 0.0

    def on_train_epoch_start(self, trainer, module) -> None:
        self.starts.append(time.perf_counter())

    def on_train_end(self, trainer, module) -> None:
        self.end = time.perf_counter()

    @property
    def epochs(self) -> list[float]:
        marks = [*self.starts, self.end]
        return [b - a for a, b in zip(marks, marks[1:], strict=False)]


def lightning_epochs(ws: Workspace, loader: DataLoader, epochs: int) -> tuple[list[float], float]:
    """Epoch times of one ``fit``, and the seconds from ``fit`` to the first epoch (setup)."""
    cfg = ws.cfg.copy()
    OmegaConf.set_struct(cfg, False)
    cfg.trainer.max_epochs = epochs
    cfg.trainer.enable_progress_bar = False
    cfg.trainer.enable_checkpointing = False
    cfg.trainer.limit_val_batches = 0
    cfg.trainer.num_sanity_val_steps = 0
    cfg.trainer.accelerator = "cpu"
    cfg.trainer.devices = 1
    torch.manual_seed(int(cfg.seed))
    net = build_network(cfg, ws.data.genres)
    module = GenreClassifier(net, cfg.optim, None, float(cfg.loss.label_smoothing))
    clock = EpochClock()
    trainer = build_trainer(cfg, [clock], ws.root / "lightning")
    start = time.perf_counter()
    trainer.fit(module, train_dataloaders=loader)
    return clock.epochs, clock.starts[0] - start


def bare_epochs(ws: Workspace, loader: DataLoader, epochs: int) -> list[float]:
    """The same network, optimiser and data in a plain loop."""
    cfg = ws.cfg
    # The determinism Lightning's Trainer sets from trainer.deterministic, set alike here.
    deterministic = cfg.trainer.get("deterministic")
    if deterministic in ("warn", True):
        torch.use_deterministic_algorithms(True, warn_only=deterministic == "warn")
    torch.manual_seed(int(cfg.seed))
    net = build_network(cfg, ws.data.genres)
    options = OmegaConf.to_container(cfg.optim, resolve=True)
    options.pop("schedule", None)
    optimizer = hydra.utils.instantiate(options, params=net.parameters())
    net.train()
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        for waves, targets in loader:
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(net(waves), targets)
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter() - start)
    return times


def run(ws: Workspace) -> RowResult:
    result = RowResult("overhead", "Framework overhead: Lightning epoch vs bare PyTorch loop")
    s = ws.settings
    loader = ws.data.train_dataloader()  # one DataLoader for both sides
    epochs = s.overhead_epochs
    light: list[float] = []
    bare: list[float] = []
    setups: list[float] = []
    for r in range(s.repeats):
        # Alternate which side goes first; each fit's first epoch is warm-up and not counted.
        for side in ("lightning", "bare") if r % 2 == 0 else ("bare", "lightning"):
            if side == "lightning":
                times, setup = lightning_epochs(ws, loader, epochs)
                light += times[1:]
                setups.append(setup)
            else:
                bare += bare_epochs(ws, loader, epochs)[1:]
    model = ws.cfg.model.name
    result.metrics.append(
        Metric(
            "seconds per epoch",
            "s",
            best(light, higher_is_better=False),
            best(bare, higher_is_better=False),
            Target("ratio", "<=", 1.10),
            note=f"{model}, {len(loader)} batches of {loader.batch_size}; fastest of "
            f"{len(light)} epochs each (medians {median(light):.3g} s vs {median(bare):.3g} s)",
        )
    )
    result.details = {
        "samples_lightning_s": light,
        "samples_bare_s": bare,
        "lightning_fit_setup_s": setups,
        "model": model,
        "batches_per_epoch": len(loader),
        "batch_size": loader.batch_size,
        "epochs_per_fit": epochs,
        "counted": "epochs 2.. of each fit (the first is warm-up); Lightning's one-time fit "
        "setup is in lightning_fit_setup_s",
    }
    return result
