"""Decode one audio file into a fixed-length mono waveform: the single decoding path shared by the
cache builder and by prediction, so both see exactly the same signal."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

AUDIO_EXTENSIONS = (".wav", ".mp3", ".flac", ".ogg", ".au", ".aiff", ".aif")
SILENCE_PEAK = 1e-4  # about -80 dBFS: below this a clip carries no usable signal


class DecodeError(Exception):
    """The file cannot be used; the message is the reason shown to the user."""


@dataclass(frozen=True)
class Decoded:
    samples: np.ndarray  # float32, mono, at the requested rate
    seconds: float  # length of the source file, before cutting or padding


def read_mono(path: str | Path, sample_rate: int, max_seconds: float | None = None) -> Decoded:
    """Decode, mix to mono and resample. With ``max_seconds`` only the middle of a longer file is
    read, so a full album track costs no more than the clip we keep."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise DecodeError("empty file")
        info = sf.info(str(path))
        start, frames = 0, info.frames
        if max_seconds is not None and info.frames > max_seconds * info.samplerate:
            frames = int(round(max_seconds * info.samplerate))
            start = (info.frames - frames) // 2
        data, rate = sf.read(str(path), start=start, frames=frames, dtype="float32", always_2d=True)
    except FileNotFoundError as exc:
        raise DecodeError("missing file") from exc
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise DecodeError(f"not decodable audio ({exc})") from exc
    if data.shape[0] == 0:
        raise DecodeError("no audio frames")
    mono = data.mean(axis=1)
    if not np.isfinite(mono).all():
        raise DecodeError("non-finite samples (NaN or inf)")
    if rate != sample_rate:
        mono = soxr.resample(mono, rate, sample_rate).astype(np.float32)
    if np.abs(mono).max() < SILENCE_PEAK:
        raise DecodeError("silent")
    # A truncated mp3 announces more frames in its header than it holds: trust what was read.
    seconds = (info.frames if start else data.shape[0]) / rate
    return Decoded(mono, seconds)


def fix_length(samples: np.ndarray, length: int) -> np.ndarray:
    """Cut the middle ``length`` samples, or zero-pad at the end."""
    if samples.shape[0] >= length:
        start = (samples.shape[0] - length) // 2
        return samples[start : start + length]
    return np.pad(samples, (0, length - samples.shape[0]))
