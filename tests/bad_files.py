"""Bad input as users bring it, written by the tests: audio that is loud, constant, silent for
minutes or mislabelled in its header, names that are not UTF-8, and file-system entries that are
not files (dangling and looping symlinks, FIFOs, folders nobody may read). Kept small: low sample
rates, seconds of sound."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import tone

RATE = 8000
# As root, permission bits stop nothing; without these two capabilities they stop root too.
DAC_CAPS = "-dac_override,-dac_read_search"


def write_audio(path: Path, samples: np.ndarray, rate: int = RATE, **options: str) -> Path:
    """``samples`` in the format the suffix names; through a file object, so that a name whose
    bytes are not UTF-8 (a str with surrogates) reaches the file system unchanged."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        sf.write(handle, samples, rate, format=path.suffix.lstrip(".").upper(), **options)
    return path


def music(seconds: float = 1.5, freq: float = 440.0, seed: int = 0) -> np.ndarray:
    return tone(seconds, RATE, freq, seed=seed)


def non_utf8(folder: Path, name: bytes) -> Path:
    """``folder / name`` for a name in bytes that are not UTF-8, as Python spells it (PEP 383)."""
    return folder / os.fsdecode(name)


def dangling_symlink(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(path.parent / "gone-for-good.wav")
    return path


def symlink_loop(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(path.name)  # itself
    return path


def fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


@contextmanager
def locked(*paths: Path) -> Iterator[None]:
    """``paths`` with no permissions at all while the block runs."""
    modes = [path.stat().st_mode for path in paths]
    for path in paths:
        path.chmod(0)
    try:
        yield
    finally:
        for path, mode in zip(paths, modes, strict=True):
            path.chmod(mode)


def as_ordinary_user() -> list[str]:
    """A command prefix under which permission bits apply. Nothing is needed unless we are root;
    root keeps its user id but loses the capabilities that let it read and list anything."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip(
            "running as root, and setpriv (util-linux) is missing to make permissions apply"
        )
    prefix = [setpriv, f"--inh-caps={DAC_CAPS}", f"--bounding-set={DAC_CAPS}", "--"]
    probe = subprocess.run([*prefix, "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"running as root, and setpriv cannot drop capabilities: {probe.stderr}")
    return prefix
