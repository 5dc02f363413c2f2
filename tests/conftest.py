"""Shared fixtures: real audio written to disk, and an isolated cache for every test session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]


TINY_RUN = (
    "data.chunk_seconds=1",
    "data.eval_crops=2",
    "data.batch_size=8",
    "trainer.max_epochs=2",
    "trainer.enable_progress_bar=false",
    "features.n_mels=32",
)
"""Overrides that make a `genre.train` run take seconds, for tests of what it leaves behind."""


def tone(seconds: float, rate: int, freq: float, seed: int = 0, channels: int = 1) -> np.ndarray:
    """A sine plus a little noise: real, non-silent audio with a known dominant frequency."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    x = 0.4 * np.sin(2 * np.pi * freq * t) + 0.02 * rng.standard_normal(t.size)
    x = x.astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def write_genre_folder(
    root: Path, genres: dict[str, float], clips: int, seconds: float, rate: int = 16000
) -> Path:
    """``<root>/<genre>/<i>.wav|mp3``: one dominant frequency per genre, every third clip mp3."""
    for g, (name, freq) in enumerate(genres.items()):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(clips):
            x = tone(seconds, rate, freq * (1 + 0.05 * i), seed=100 * g + i)
            if i % 3 == 2:
                sf.write(root / name / f"clip {i}.mp3", x, rate, format="MP3")
            else:
                sf.write(root / name / f"clip {i}.wav", x, rate)
    return root


# MLflow 3 sends usage telemetry when a process exits; offline, that waits ~10 s per process.
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keep every cache (and the synthetic dataset) of the run out of the user's home."""
    cache = tmp_path_factory.mktemp("genre-cache")
    os.environ["GENRE_CACHE"] = str(cache)
    return cache


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    return write_genre_folder(root, {"Low": 220.0, "Mid": 880.0, "High": 3000.0}, 9, 3.0)


def run_module(
    module: str, *args: str, cwd: Path, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run ``python -m module args`` as a user would, in ``cwd``."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "HYDRA_FULL_ERROR": "0"}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
