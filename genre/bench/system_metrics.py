"""Row 8: the cost of MLflow's system metrics (``mlflow.system_metrics``, on by default): the
CPU time of training epochs while a run's monitor samples CPU, memory, disk and network, against
the same epochs with no monitor. The monitor samples every second here, ten times MLflow's
default rate, so that even short epochs see it work; its cost at the default is a tenth."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import mlflow

from genre.bench.common import Metric, RowResult, Target, Workspace, median
from genre.bench.overhead import THREADS, lightning_epochs
from genre.util import torch_threads

INTERVAL = 1.0  # seconds between samples (MLflow's default: 10)


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


def run(ws: Workspace) -> RowResult:
    result = RowResult("sysmetrics", "System metrics: training epochs with and without them")
    s = ws.settings
    loader = ws.data.train_dataloader()
    mlflow.set_tracking_uri(f"sqlite:///{ws.root / 'sysmetrics.db'}")
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
    shape = f"{ws.cfg.model.name}, {len(loader)} batches, {THREADS} torch thread"
    result.metrics.append(
        Metric(
            "CPU seconds per epoch",
            "s",
            median([c for _, c in on]),
            median([c for _, c in off]),
            Target("ratio", "<=", 1.02),
            note=f"{shape}; median of {len(on)} epochs each; the monitor took {samples} samples, "
            f"one every {INTERVAL:g} s (MLflow's default: 10 s). CPU time of this process, the "
            "monitor's thread included",
        )
    )
    result.details = {"samples": samples, "interval_s": INTERVAL}
    return result
