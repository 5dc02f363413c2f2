"""What every row of the benchmark shares: the measured figures, the targets, the timing helpers
and the workspace (a temporary dataset and cache, built once and shared by the rows)."""

from __future__ import annotations

import math
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
}


@dataclass(frozen=True)
class Target:
    """``on`` (``ratio`` = ours / baseline, ``delta`` = ours - baseline, or ``ours``) ``op``
    ``value``: e.g. ``Target("ratio", ">=", 20)`` reads "ours is at least 20x the baseline"."""

    on: str
    op: str
    value: float

    def __str__(self) -> str:
        if self.on == "ratio":
            return f"{self.op} {self.value:g}x"
        return f"{self.on} {self.op} {self.value:g}"

    def check(self, metric: Metric) -> bool | None:
        figure = {"ratio": metric.ratio, "delta": metric.delta, "ours": metric.ours}[self.on]
        if figure is None or not math.isfinite(figure):
            return None
        return OPS[self.op](figure, self.value)


@dataclass
class Metric:
    """One line of the table. ``ratio`` is always ``ours / baseline`` and ``delta`` always
    ``ours - baseline``, whichever way the target reads them."""

    name: str
    unit: str
    ours: float | None
    baseline: float | None = None
    target: Target | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.ours is None or self.baseline is None or self.baseline == 0:
            return None
        return self.ours / self.baseline

    @property
    def delta(self) -> float | None:
        if self.ours is None or self.baseline is None:
            return None
        return self.ours - self.baseline

    @property
    def passed(self) -> bool | None:
        return None if self.target is None else self.target.check(self)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unit": self.unit,
            "ours": self.ours,
            "baseline": self.baseline,
            "ratio": self.ratio,
            "delta": self.delta,
            "target": None
            if self.target is None
            else {
                "on": self.target.on,
                "op": self.target.op,
                "value": self.target.value,
                "text": str(self.target),
            },
            "passed": self.passed,
            "note": self.note,
        }


@dataclass
class RowResult:
    """A row's outcome: ``ok`` with its metrics, ``skipped`` (with the reason) or ``error``."""

    row: str
    title: str
    status: str = "ok"
    reason: str = ""
    seconds: float = 0.0
    metrics: list[Metric] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "title": self.title,
            "status": self.status,
            "reason": self.reason,
            "seconds": round(self.seconds, 3),
            "metrics": [m.as_dict() for m in self.metrics],
            "details": self.details,
        }


def progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def best(values: list[float], higher_is_better: bool = True) -> float:
    """The best of repeated measurements: other processes only ever slow a run down, so the
    fastest repeat is the closest to what the code itself costs (as ``timeit`` advises)."""
    return float(max(values) if higher_is_better else min(values))


def interleaved(runs: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Call each measurement ``repeats`` times, alternating the order (ABBA...) so that a change
    in the machine's load during the run falls on both sides alike."""
    names = list(runs)
    samples: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        for name in names if r % 2 == 0 else reversed(names):
            samples[name].append(float(runs[name]()))
    return samples


def rate(step: Callable[[], int], min_seconds: float, min_items: int = 1) -> float:
    """Items per second of ``step`` (which does some work and returns how many items it made),
    called until both ``min_seconds`` have passed and ``min_items`` were made."""
    items, start = 0, time.perf_counter()
    while True:
        items += step()
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds and items >= min_items:
            return items / elapsed


# ---------------------------------------------------------------------------------------------
# The workspace: a dataset generated on the spot (nothing downloaded), its cache, the config.


@dataclass(frozen=True)
class Settings:
    """Sizes of a run: ``quick`` for a few minutes on two cores, else a steadier measurement.

    The dataset is the built-in synthetic music written as the datasets genre is made for come:
    30 s clips at 22050 Hz (GTZAN's rate; MTAT's clips are 29 s, FMA's 30 s), a quarter of them
    mp3, trained at the config's 16 kHz, so decoding a clip means reading 30 s and resampling."""

    quick: bool
    clips_per_genre: int  # synthetic dataset: 10 genres
    clip_seconds: float
    file_rate: int  # sample rate the files are written at
    repeats: int  # alternations of ours and baseline per row; the best of each side counts
    min_seconds: float  # shortest timed stretch of one measurement
    spectrogram_clips: int
    overhead_epochs: int  # epochs per fit; the first of each is warm-up and not counted
    sweep_trials: int  # 0: the demo sweep's own
    sweep_epochs: int  # 0: the demo sweep's own
    sweep_clips_per_genre: int  # 0: the demo sweep's own (the synth config's)
    sweep_clip_seconds: float  # 0: the demo sweep's own (the synth config's)
    data: str = ""  # the embed row's dataset as genre.train overrides; "": the generated one

    @classmethod
    def make(cls, quick: bool) -> Settings:
        if quick:
            return cls(True, 12, 30.0, 22050, 3, 0.5, 64, 3, 0, 0, 0, 0.0)
        return cls(False, 40, 30.0, 22050, 5, 2.0, 256, 5, 0, 0, 0, 0.0)


class Workspace:
    """A temporary folder with the synthetic dataset, its decode-once cache and the composed
    config. ``GENRE_CACHE`` points into it, so nothing lands in the user's home."""

    def __init__(self, settings: Settings, root: Path | None = None, keep: bool = False):
        import tempfile

        self.settings = settings
        self.keep = keep or root is not None
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="genre-bench-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.cache_dir = self.root / "cache"
        from genre.util import cache_dir

        # The user's pretrained weights are read, never written: the embed row links them in.
        self.user_pretrained = cache_dir() / "pretrained"
        os.environ["GENRE_CACHE"] = str(self.cache_dir)
        self._cfg: DictConfig | None = None
        self._data = None
        self.source = ""

    def close(self) -> None:
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def overrides(self) -> list[str]:
        """The composed config of every row: the workspace dataset as a user's folder."""
        s = self.settings
        return [
            "data=folder",
            f"data.root={self.dataset()}",
            f"data.cache_dir={self.cache_dir}",
            f"data.clip_seconds={s.clip_seconds:g}",
            "trainer.enable_progress_bar=false",
        ]

    def dataset(self) -> Path:
        """The synthetic dataset (``genre.synth``), generated once into the workspace."""
        s = self.settings
        if synth_available():
            from genre.synth import generate

            self.source = f"genre.synth, {s.clip_seconds:g} s clips at {s.file_rate} Hz"
            root = self.root / "synth"
            if not (root / "synth.json").exists():
                start = time.perf_counter()
                generate(root, s.clips_per_genre, s.clip_seconds, sample_rate=s.file_rate)
                progress(
                    f"generated {10 * s.clips_per_genre} synthetic clips in "
                    f"{time.perf_counter() - start:.1f} s"
                )
            return root
        self.source = f"tones (genre.synth unavailable), {s.clip_seconds:g} s at {s.file_rate} Hz"
        root = self.root / "tones"
        if not root.exists():
            write_tones(root, 10, s.clips_per_genre, s.clip_seconds, s.file_rate)
        return root

    @property
    def cfg(self) -> DictConfig:
        if self._cfg is None:
            from genre.config import compose_config

            self._cfg = compose_config(self.overrides())
        return self._cfg

    @property
    def data(self):
        """The project's DataModule on the workspace dataset, its cache built (once)."""
        if self._data is None:
            from genre.config import settings
            from genre.data.datamodule import GenreDataModule

            data = GenreDataModule(settings(self.cfg, "data"))
            start = time.perf_counter()
            data.load()
            progress(
                f"dataset ready: {len(data.clips)} clips ({self.source}), cached in "
                f"{time.perf_counter() - start:.1f} s"
            )
            self._data = data
        return self._data


def synth_available() -> bool:
    try:
        from genre.synth import generate  # noqa: F401
    except ImportError:
        return False
    return True


def write_tones(root: Path, genres: int, clips: int, seconds: float, rate: int = 16000) -> Path:
    """Stand-in dataset while ``genre.synth`` is unavailable: per genre a dominant frequency, a
    few harmonics and noise; every fourth clip mp3, like the synthetic set's mp3 share."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    for g in range(genres):
        folder = root / f"genre{g}"
        folder.mkdir(parents=True, exist_ok=True)
        base = 110.0 * 2 ** (g / 2)
        for i in range(clips):
            f = base * (1 + 0.03 * rng.standard_normal())
            x = sum(np.sin(2 * np.pi * k * f * t) / k for k in (1, 2, 3))
            x = 0.3 * x * (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.5, 3) * t))
            x = (x + 0.02 * rng.standard_normal(t.size)).astype(np.float32)
            if i % 4 == 3:
                sf.write(folder / f"{i}.mp3", x, rate, format="MP3")
            else:
                sf.write(folder / f"{i}.wav", x, rate)
    return root
