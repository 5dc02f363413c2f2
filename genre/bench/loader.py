"""Row 1: training examples per second from the decode-once cache, against decoding the file for
every example as the seed report's scripts did."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from genre.bench.common import (
    Metric,
    RowResult,
    Target,
    Workspace,
    best,
    interleaved,
    median,
    rate,
)
from genre.data.audio import read_mono
from genre.util import torch_threads

THREADS = 1
"""Torch threads for both sides: as in DataLoader worker processes, where PyTorch itself runs one
thread; a second OpenMP thread would only add stalls to the collate's copy on a shared machine."""


class DecodeEveryTime(Dataset):
    """The baseline: each example reads its whole file (soundfile), mixes it to mono, resamples
    it to the training rate (soxr, where the file's rate differs) and takes a random crop."""

    def __init__(self, paths: list[str], labels: np.ndarray, sample_rate: int, chunk: int):
        self.paths, self.labels, self.sample_rate, self.chunk = paths, labels, sample_rate, chunk

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        wave = read_mono(self.paths[i], self.sample_rate).samples
        if wave.shape[0] < self.chunk:
            wave = np.pad(wave, (0, self.chunk - wave.shape[0]))
        start = int(torch.randint(0, wave.shape[0] - self.chunk + 1, ()))
        return torch.from_numpy(np.ascontiguousarray(wave[start : start + self.chunk])), int(
            self.labels[i]
        )


def examples_per_second(loader: DataLoader, min_seconds: float) -> float:
    """Examples per second delivered by ``loader``, run for whole epochs until ``min_seconds``."""
    batches = iter(())

    def step() -> int:
        nonlocal batches
        try:
            waves, _ = next(batches)
        except StopIteration:
            batches = iter(loader)
            waves, _ = next(batches)
        return len(waves)

    return rate(step, min_seconds, min_items=loader.batch_size or 1)


def run(ws: Workspace) -> RowResult:
    result = RowResult("loader", "Loader: training examples/s, cache vs decode per example")
    data, s = ws.data, ws.settings
    cached = data.train_dataloader()
    rows, labels = data.split_rows("train")
    paths = list(data.clips["path"].iloc[rows])
    baseline = DataLoader(
        DecodeEveryTime(paths, labels, int(data.data.sample_rate), data.chunk_samples),
        batch_size=cached.batch_size,
        shuffle=True,
        num_workers=cached.num_workers,
    )
    with torch_threads(THREADS):
        for path in paths:  # the page cache holds every file: the baseline pays no disk I/O
            Path(path).read_bytes()
        examples_per_second(baseline, 0.0)  # warm-up of both sides
        examples_per_second(cached, 0.0)
        samples = interleaved(
            {
                "cache": lambda: examples_per_second(cached, s.min_seconds),
                "decode": lambda: examples_per_second(baseline, s.min_seconds),
            },
            s.repeats,
        )
    mp3 = sum(p.lower().endswith(".mp3") for p in paths)
    result.metrics.append(
        Metric(
            "training examples/s",
            "examples/s",
            best(samples["cache"]),
            best(samples["decode"]),
            Target("ratio", ">=", 20),
            note=f"{data.data.chunk_seconds:g} s crops of {data.data.clip_seconds:g} s clips, "
            f"batch {cached.batch_size}, {cached.num_workers} loader workers, "
            f"{mp3}/{len(paths)} mp3, {THREADS} torch thread; best of {s.repeats}",
        )
    )
    result.details = {
        "samples_examples_per_s": samples,
        "median_examples_per_s": {k: median(v) for k, v in samples.items()},
        "train_clips": len(paths),
        "mp3_clips": mp3,
        "batch_size": cached.batch_size,
        "num_workers": cached.num_workers,
        "torch_threads": THREADS,
        "chunk_seconds": float(data.data.chunk_seconds),
        "sample_rate": int(data.data.sample_rate),
        "dataset": ws.source,
        "baseline": "soundfile read of the whole file + mono mix + soxr resample (where rates "
        "differ) + random crop, per example, files already in the page cache",
    }
    return result
