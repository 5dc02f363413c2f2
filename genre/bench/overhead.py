"""Row 3: the time of a training epoch through genre's Lightning path (``GenreClassifier`` and a
Trainer from ``build_trainer``: no logger, no checkpoint, no progress bar) against a bare PyTorch
loop over the same ``GenreNet``, DataLoader, batch size and optimiser."""

from __future__ import annotations

import time

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from torch.utils.data import DataLoader

from genre.bench.common import Metric, RowResult, Target, Workspace, best, median
from genre.build import build_module, build_network, build_optimizer, build_trainer
from genre.util import torch_threads

THREADS = 1
"""Torch threads on both sides. The two sides do the same math, so threads change both alike; on
a machine shared with other jobs, though, a straggling OpenMP thread stalls whole steps at random
and would decide the ratio."""


def clock() -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process)."""
    return time.perf_counter(), time.process_time()


def spans(marks: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(b[0] - a[0], b[1] - a[1]) for a, b in zip(marks, marks[1:], strict=False)]


class EpochClock(pl.Callback):
    """Wall and CPU time of every epoch, from one epoch's start to the next's (the last one's to
    the end of training), so the loop's bookkeeping between epochs is charged too."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, float]] = []

    def on_train_epoch_start(self, trainer, module) -> None:
        self.marks.append(clock())

    def on_train_end(self, trainer, module) -> None:
        self.marks.append(clock())


def lightning_epochs(
    ws: Workspace, loader: DataLoader, epochs: int
) -> tuple[list[tuple[float, float]], float]:
    """(wall, CPU) seconds of each epoch of one ``fit``, and the wall seconds from ``fit`` to the
    first epoch (the Trainer's one-time setup)."""
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
    module = build_module(cfg, net, None)
    epoch_clock = EpochClock()
    trainer = build_trainer(cfg, [epoch_clock], ws.root / "lightning")
    start = time.perf_counter()
    trainer.fit(module, train_dataloaders=loader)
    return spans(epoch_clock.marks), epoch_clock.marks[0][0] - start


def bare_epochs(ws: Workspace, loader: DataLoader, epochs: int) -> list[tuple[float, float]]:
    """The same network, optimiser and data in a plain loop."""
    cfg = ws.cfg
    # The determinism Lightning's Trainer sets from trainer.deterministic, set alike here.
    deterministic = cfg.trainer.get("deterministic")
    if deterministic in ("warn", True):
        torch.use_deterministic_algorithms(True, warn_only=deterministic == "warn")
    torch.manual_seed(int(cfg.seed))
    net = build_network(cfg, ws.data.genres)
    optimizer = build_optimizer(cfg.optim)(net.parameter_groups())
    net.train()
    marks = [clock()]
    for _ in range(epochs):
        for waves, targets in loader:
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(net(waves), targets)
            loss.backward()
            optimizer.step()
        marks.append(clock())
    return spans(marks)


def run(ws: Workspace) -> RowResult:
    result = RowResult("overhead", "Framework overhead: Lightning epoch vs bare PyTorch loop")
    s = ws.settings
    loader = ws.data.train_dataloader()  # one DataLoader for both sides
    epochs = s.overhead_epochs
    light: list[tuple[float, float]] = []
    bare: list[tuple[float, float]] = []
    setups: list[float] = []
    with torch_threads(THREADS):
        for r in range(s.repeats):
            # Alternate which side goes first; each fit's first epoch is warm-up, not counted.
            for side in ("lightning", "bare") if r % 2 == 0 else ("bare", "lightning"):
                if side == "lightning":
                    times, setup = lightning_epochs(ws, loader, epochs)
                    light += times[1:]
                    setups.append(setup)
                else:
                    bare += bare_epochs(ws, loader, epochs)[1:]
    wall = {"lightning": [w for w, _ in light], "bare": [w for w, _ in bare]}
    cpu = {"lightning": [c for _, c in light], "bare": [c for _, c in bare]}
    model = ws.cfg.model.name
    shape = f"{model}, {len(loader)} batches of {loader.batch_size}, {THREADS} torch thread"
    result.metrics += [
        Metric(
            "CPU seconds per epoch",
            "s",
            median(cpu["lightning"]),
            median(cpu["bare"]),
            Target("ratio", "<=", 1.10),
            note=f"{shape}; median of {len(light)} epochs each. CPU time of this process: "
            "what each side computes, not what other processes on the machine cost it",
        ),
        Metric(
            "wall seconds per epoch",
            "s",
            best(wall["lightning"], higher_is_better=False),
            best(wall["bare"], higher_is_better=False),
            note=f"fastest of {len(light)} epochs each (medians "
            f"{median(wall['lightning']):.3g} s vs {median(wall['bare']):.3g} s); "
            "informational: swings with the machine's load",
        ),
    ]
    result.details = {
        "samples_wall_s": wall,
        "samples_cpu_s": cpu,
        "lightning_fit_setup_s": setups,
        "model": model,
        "batches_per_epoch": len(loader),
        "batch_size": loader.batch_size,
        "epochs_per_fit": epochs,
        "torch_threads": THREADS,
        "counted": "epochs 2.. of each fit (the first is warm-up), from one epoch's start to the "
        "next; Lightning's one-time fit setup is in lightning_fit_setup_s",
    }
    return result
