"""Decode one audio file into a fixed-length mono waveform: the single decoding path shared by the
cache builder and by prediction, so both see exactly the same signal."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from genre.data.files import file_problem, os_reason

AUDIO_EXTENSIONS = (".wav", ".mp3", ".flac", ".ogg", ".au", ".aiff", ".aif")
SILENCE_PEAK = 1e-4  # about -80 dBFS: a signal that varies less than this carries no sound
# Rates real recordings have: from half the 8 kHz of telephone audio (old archives) to the 768 kHz
# of the fastest converters. A header outside them is wrong, and resampling by it would stretch or
# squeeze the music beyond recognition.
SAMPLE_RATES = (4_000, 768_000)
# Decoded lossy audio overshoots full scale by a few dB (the inter-sample peaks of loud masters):
# that is kept as it is. Far beyond, the file's scale is wrong, not its music (integer samples
# stored as float, a tool that never normalised), so it is scaled down to a peak of full scale
# rather than rejected: a genre does not depend on gain, and the user expects the music used.
# Unscaled, it would not even fit the float16 cache, whose largest value is 65504.
OVERSCALE_PEAK = 4.0  # +12 dBFS
SCAN_SECONDS = 1.0  # block length when looking for where the sound of a file starts


class DecodeError(Exception):
    """The file cannot be used; the message is the reason shown to the user."""


@dataclass(frozen=True)
class Decoded:
    samples: np.ndarray  # float32, mono, at the requested rate
    seconds: float  # length of the source file, before cutting or padding


def read_mono(
    path: str | Path, sample_rate: int, max_seconds: float | None = None, min_seconds: float = 0.0
) -> Decoded:
    """Decode, mix to mono and resample. With ``max_seconds`` only the middle of a longer file is
    read, so a full album track costs no more than the clip we keep; where that middle is silent
    (music after minutes of silence, a hidden track), the part where the sound starts instead.
    A file shorter than ``min_seconds`` is too short, whatever its samples: length is checked
    before content (a one-sample file is not "constant")."""
    problem = file_problem(path)
    if problem is not None:
        raise DecodeError(problem)
    try:
        # Opened here, not by soundfile: an OS error then names its cause (libsndfile only says
        # "System error"), and a name that is not UTF-8 reaches the file system as its bytes.
        with open(path, "rb") as handle, sf.SoundFile(handle) as audio:
            mono, seconds = _read_kept(audio, max_seconds)
            rate = audio.samplerate
    except OSError as exc:
        raise DecodeError(os_reason(exc, path)) from exc
    except sf.LibsndfileError as exc:
        # Its own words only: str(exc) names the file object, not the file.
        raise DecodeError(f"not decodable audio ({exc.error_string.rstrip('.')})") from exc
    except (RuntimeError, ValueError) as exc:
        raise DecodeError(f"not decodable audio ({exc})") from exc
    if mono.size == 0:
        raise DecodeError("no audio frames")
    if seconds < min_seconds:
        raise DecodeError(f"too short ({seconds:.2f} s < {min_seconds} s)")
    if not np.isfinite(mono).all():
        raise DecodeError("non-finite samples (NaN or inf)")
    peak = float(np.abs(mono).max())
    if _quiet(mono):
        # The whole file was heard: either all of it was read, or no block of it had sound.
        raise DecodeError("silent" if peak < SILENCE_PEAK else "constant signal (DC only)")
    if peak > OVERSCALE_PEAK:
        mono = mono / np.float32(peak)
    if rate != sample_rate:
        mono = soxr.resample(mono, rate, sample_rate).astype(np.float32)
    return Decoded(mono, seconds)


def _read_kept(audio: sf.SoundFile, max_seconds: float | None) -> tuple[np.ndarray, float]:
    """The mono part of ``audio`` that is kept, and the file's length in seconds."""
    rate, total = audio.samplerate, audio.frames
    low, high = SAMPLE_RATES
    if not low <= rate <= high:
        raise DecodeError(f"implausible sample rate ({rate} Hz)")
    if max_seconds is None or total <= max_seconds * rate:
        mono = _mono(audio, 0, total)
        # A truncated mp3 announces more frames in its header than it holds: trust what was read.
        return mono, mono.size / rate
    frames = int(round(max_seconds * rate))
    mono = _mono(audio, (total - frames) // 2, frames)
    if _quiet(mono):
        start = _first_sound(audio)
        if start is not None:
            mono = _mono(audio, min(start, total - frames), frames)
    return mono, total / rate


def _mono(audio: sf.SoundFile, start: int, frames: int) -> np.ndarray:
    audio.seek(start)
    return audio.read(frames, dtype="float32", always_2d=True).mean(axis=1)


def _first_sound(audio: sf.SoundFile) -> int | None:
    """The first frame of the first block that is not quiet, or None when all of them are."""
    block = int(SCAN_SECONDS * audio.samplerate)
    audio.seek(0)
    for i, chunk in enumerate(audio.blocks(block, dtype="float32", always_2d=True)):
        if not _quiet(chunk.mean(axis=1)):
            return i * block
    return None


def _quiet(mono: np.ndarray) -> bool:
    """No sound: the signal swings less than :data:`SILENCE_PEAK` either way (a constant DC offset
    is no more sound than silence is). NaN is not quiet: it is rejected for itself."""
    return bool(mono.max() - mono.min() < 2 * SILENCE_PEAK) if mono.size else True


def fix_length(samples: np.ndarray, length: int) -> np.ndarray:
    """Cut the middle ``length`` samples, or zero-pad at the end."""
    if samples.shape[0] >= length:
        start = (samples.shape[0] - length) // 2
        return samples[start : start + length]
    return np.pad(samples, (0, length - samples.shape[0]))
