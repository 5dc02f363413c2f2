"""Row 8: the cost of MLflow's system metrics (``mlflow.system_metrics``, on by default). Its
monitor is a thread that samples CPU, memory, disk and network and logs each sample to the run.

Two figures. First, the monitor alone: its CPU time per sample, from a run that does nothing
else while the monitor samples every second; at MLflow's default of one sample every 10 s, that
is what it adds to a training epoch of the overhead row's size (the target). Second, for
information, the same epochs trained inside a run sampled every second (ten times the default
rate) against the same epochs with no run: a direct measure, but one that the machine's load
swings by more than the cost it measures."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import mlflow

from genre.bench.common import Metric, RowResult, Target, Workspace, median
from genre.bench.overhead import THREADS, lightning_epochs
from genre.util import torch_threads

INTERVAL = 1.0  # seconds between samples here
DEFAULT_INTERVAL = 10.0  # MLflow's


@contextmanager
def sampling_interval(seconds: float) -> Iterator[None]:
    """MLflow's system-metrics sampling interval (its environment variable) for the block."""
    name = "MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL"
    before = os.environ.get(name)
    os.environ[name] = str(seconds)
    try:
        yield
    finally:
        if before is None:
            del os.environ[name]
        else:
            os.environ[name] = before


def idle_run_cpu(seconds: float, monitor: bool) -> tuple[float, int]:
    """CPU seconds of this process over a run that only waits ``seconds``, with or without the
    monitor sampling every INTERVAL; and its sample count."""
    with sampling_interval(INTERVAL):
        start = time.process_time()
        with mlflow.start_run(log_system_metrics=monitor) as run:
            time.sleep(seconds)
        cpu = time.process_time() - start
    history = mlflow.MlflowClient().get_metric_history(
        run.info.run_id, "system/cpu_utilization_percentage"
    )
    return cpu, len(history)


def monitor_cpu_per_sample(seconds: float) -> tuple[float, int]:
    """The monitor's CPU seconds per sample: a run that only waits, with the monitor, less the
    same run without it (which goes first, and so also pays for creating the store)."""
    idle_run_cpu(1.0, monitor=False)  # creates the store's tables
    plain, _ = idle_run_cpu(seconds, monitor=False)
    monitored, samples = idle_run_cpu(seconds, monitor=True)
    return max(monitored - plain, 0.0) / max(samples, 1), samples


def run(ws: Workspace) -> RowResult:
    result = RowResult("sysmetrics", "System metrics: their monitor's cost per training epoch")
    s = ws.settings
    loader = ws.data.train_dataloader()
    mlflow.set_tracking_uri(f"sqlite:///{ws.root / 'sysmetrics.db'}")
    per_sample, alone = monitor_cpu_per_sample(10.0 if s.quick else 30.0)
    on: list[tuple[float, float]] = []
    off: list[tuple[float, float]] = []
    samples = 0
    with torch_threads(THREADS), sampling_interval(INTERVAL):
        for r in range(s.repeats):
            # Alternate which side goes first; each fit's first epoch is warm-up, not counted.
            for side in ("on", "off") if r % 2 == 0 else ("off", "on"):
                if side == "off":
                    off += lightning_epochs(ws, loader, s.overhead_epochs)[0][1:]
                    continue
                with mlflow.start_run(log_system_metrics=True) as run:
                    on += lightning_epochs(ws, loader, s.overhead_epochs)[0][1:]
                history = mlflow.MlflowClient().get_metric_history(
                    run.info.run_id, "system/cpu_utilization_percentage"
                )
                samples += len(history)
    epoch_cpu, epoch_wall = median([c for _, c in off]), median([w for w, _ in off])
    added = per_sample * epoch_wall / DEFAULT_INTERVAL
    shape = f"{ws.cfg.model.name}, {len(loader)} batches, {THREADS} torch thread"
    result.metrics += [
        Metric(
            "CPU seconds per epoch, monitor at its default rate",
            "s",
            epoch_cpu + added,
            epoch_cpu,
            Target("ratio", "<=", 1.02),
            note=f"{shape}; the monitor's {per_sample * 1000:.1f} ms of CPU per sample "
            f"({alone} samples of a monitor alone) at one sample per {DEFAULT_INTERVAL:g} s, "
            f"added to the median epoch ({epoch_wall:.3g} s wall) with no monitor",
        ),
        Metric(
            "CPU seconds per epoch, monitor every second",
            "s",
            median([c for _, c in on]),
            epoch_cpu,
            note=f"median of {len(on)} epochs each, {samples} samples; informational: ten "
            "times MLflow's default rate, and swings with the machine's load",
        ),
    ]
    result.details = {"cpu_per_sample_s": per_sample, "samples_alone": alone}
    return result
