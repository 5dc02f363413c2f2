"""Rendering and mixing one clip: the drums and each part played on its instrument, levelled,
saturated, filtered, put in a room, with noise added; :func:`render` returns the finished clip."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from scipy import signal

from genre.synth.compose import Note, bassline, comp, melody, onsets, texture
from genre.synth.dsp import Rng, butterworth, time
from genre.synth.instruments import INSTRUMENTS, TONE, VOICES
from genre.synth.recipes import DRUMS, VELOCITY, Plan, draw_plan

PREROLL = 1.0
"""Seconds rendered before a clip starts, so that it begins mid-song with decays and reverb
already sounding, like an excerpt of a real recording."""


def _add(out: np.ndarray, wave: np.ndarray, start: float, sr: int) -> None:
    i = int(start * sr)
    seg = wave[: max(out.size - i, 0)]
    out[i : i + seg.size] += seg


def _beat(plan: Plan, bars: int, total: int, sr: int, rng: Rng) -> np.ndarray:
    out = np.zeros(total)
    for voice, pattern in DRUMS[plan.drums].items():
        hit = VOICES[voice](sr, rng)
        for t, c in zip(onsets(plan, bars, len(pattern)).ravel(), pattern * bars, strict=True):
            if c in VELOCITY:
                _add(out, hit * VELOCITY[c] * rng.uniform(0.85, 1.0), t, sr)
    return out


def _play(notes: list[Note], name: str, drive: float, total: int, sr: int, rng: Rng) -> np.ndarray:
    out = np.zeros(total)
    if not notes:
        return out
    instrument = INSTRUMENTS[name]
    # Repeated notes (a strummed chord, a bass on eighths) are rendered once per clip; notes
    # come in time order, so a cached one is never shorter than what is left of the clip.
    cache: dict[tuple[float, tuple[int, ...]], np.ndarray] = {}
    for start, gate, pitches, velocity in notes:
        i = int(start * sr)
        if i >= total:
            break
        key = (gate, pitches)
        if key not in cache:
            cache[key] = instrument(np.array(pitches), gate, total - i, sr, rng)
        _add(out, velocity * rng.uniform(0.85, 1.0) * cache[key], start, sr)
    if name == "guitar":
        out = np.tanh(drive * out / (np.abs(out).max() or 1.0))
    if name in TONE:
        out = butterworth(out, sr, "lowpass", rng.uniform(*TONE[name]))
    return out


def _level(x: np.ndarray) -> np.ndarray:
    """Scale to unit RMS, but never push a sparse part's peaks above 4 (12 dB over the RMS)."""
    scale = max(np.sqrt(np.mean(x * x)), np.abs(x).max() / 4.0)
    return x / scale if scale > 0 else x


def _reverb(x: np.ndarray, plan: Plan, sr: int, rng: Rng) -> np.ndarray:
    """Convolution with exponentially decaying, darkened noise after a short pre-delay: a cheap
    room whose tail falls 60 dB in ``decay`` seconds."""
    t = time(plan.decay, sr)
    tail = butterworth(rng.standard_normal(t.size), sr, "lowpass", 5000)
    tail *= 10.0 ** (-3.0 * t / plan.decay)
    ir = np.concatenate([np.zeros(int(rng.uniform(0.01, 0.03) * sr)), tail])
    wet = signal.fftconvolve(x, ir / np.sqrt(np.sum(ir * ir)))[: x.size]
    return (1.0 - plan.reverb) * x + plan.reverb * wet


def _noise(n: int, rng: Rng) -> np.ndarray:
    """White, pink or brown noise (at random) with unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    slope = rng.integers(3) / 2.0
    spectrum /= np.maximum(np.arange(spectrum.size), 1.0) ** slope
    x = np.fft.irfft(spectrum, n)
    return x / np.sqrt(np.mean(x * x))


PART_DB = {"drums": -2.0, "bass": -5.0, "chords": -6.0, "lead": -6.0, "texture": -14.0}
"""Typical level of each part in the mix, before each clip's random deviation."""


@dataclass(frozen=True)
class Settings:
    """Everything that determines the dataset's audio (what ``synth.json`` records)."""

    clips_per_genre: int
    seconds: float
    sample_rate: int
    seed: int
    difficulty: float
    mp3_share: float


def _clip_rng(genre: str, index: int, settings: Settings) -> Rng:
    # Seeded by the clip's identity alone, so that the audio ignores worker count and order.
    return np.random.default_rng([settings.seed, zlib.crc32(genre.encode()), index])


def clip_plan(genre: str, index: int, settings: Settings) -> Plan:
    """The plan :func:`render` draws for this clip (its generator's first draws), without
    rendering: what the clip's tags are made from."""
    return draw_plan(genre, _clip_rng(genre, index, settings), settings.difficulty)


def render(genre: str, index: int, settings: Settings) -> np.ndarray:
    rng = _clip_rng(genre, index, settings)
    d = settings.difficulty
    sr = settings.sample_rate
    plan = draw_plan(genre, rng, d)
    bar = 240.0 / plan.tempo
    start = PREROLL + rng.uniform(0.0, bar)  # clips start anywhere in the bar, as excerpts do
    bars = int(np.ceil((start + settings.seconds) / bar))
    total = int((start + settings.seconds) * sr) + 1
    parts = {
        "drums": _beat(plan, bars, total, sr, rng),
        "bass": butterworth(
            _play(bassline(plan, bars, rng), plan.bass[1], 1.0, total, sr, rng),
            sr,
            "lowpass",
            rng.uniform(300, 1200),
        ),
        "chords": _play(comp(plan, bars, rng), plan.chords[1], plan.drive, total, sr, rng),
        "lead": _play(melody(plan, bars, rng), plan.lead, plan.drive, total, sr, rng),
        "texture": texture(plan, total, sr, rng),
    }
    spread = 3.0 * (1.0 + d)
    mix = sum(
        _level(x) * 10.0 ** ((PART_DB[name] + rng.uniform(-spread, spread)) / 20.0)
        for name, x in parts.items()
    )
    # Bus saturation grows with the guitars' drive: a loud rock master glues and compresses.
    # The small offset keeps a clean mix (drive 1) linear instead of dividing zero by zero.
    heat = 0.15 * (plan.drive - 1.0) + 1e-3
    mix = np.tanh(heat * mix / (np.abs(mix).max() or 1.0)) / np.tanh(heat)
    mix = butterworth(butterworth(mix, sr, "lowpass", plan.cutoff), sr, "highpass", 30.0)
    mix = _reverb(mix, plan, sr, rng)
    first = int(start * sr)
    clip = mix[first : first + int(settings.seconds * sr)]
    # Added noise from inaudible (difficulty 0: 40-55 dB below the music) to plain (1: 12-30 dB);
    # the floor on the RMS keeps even a silent excerpt from being written as silence.
    snr = rng.uniform(40.0 - 28.0 * d, 55.0 - 25.0 * d)
    clip = clip + _noise(clip.size, rng) * max(np.sqrt(np.mean(clip * clip)), 1e-4) * 10.0 ** (
        -snr / 20.0
    )
    return clip * 10.0 ** (rng.uniform(-12.0, -1.0) / 20.0) / np.abs(clip).max()
