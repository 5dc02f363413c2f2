"""The built-in synthetic dataset: genre-like music for the ten genres of :data:`genre.GENRES`.

Each genre is a :class:`Recipe`, a musical vocabulary (tempo range, drum patterns, bass and chord
styles, instruments, distortion, reverb, brightness). Every clip draws its own concrete
:class:`Plan` from its recipe with a random generator seeded from ``(seed, genre, index)``,
renders it with numpy/scipy and is written as a real audio file in the folder-per-genre layout,
so the rest of the framework reads it exactly as it reads a user's folder of music.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
import zlib
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal
from tqdm import tqdm

from genre import GENRES
from genre.errors import GenreError

FORMAT_VERSION = 1
"""Bump whenever the audio for the same parameters changes, so that old datasets are refused."""
PARAMS_FILE = "synth.json"
PREROLL = 1.0
"""Seconds rendered before a clip starts, so that it begins mid-song with decays and reverb
already sounding, like an excerpt of a real recording."""
MP3_RATES = frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000})
BORROW = 0.4
"""At difficulty 1, the chance that each element of a clip's recipe comes from another genre."""
WIDEN = 0.6
"""At difficulty 1, the share of the way each range grows towards the extremes of all genres."""

Rng = np.random.Generator
Note = tuple[float, float, tuple[int, ...], float]
"""Onset (s), gate length (s), MIDI pitches sounding together, velocity."""

MODES: dict[str, tuple[int, ...]] = {
    "ionian": (0, 2, 4, 5, 7, 9, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "aeolian": (0, 2, 3, 5, 7, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "major_pentatonic": (0, 2, 4, 7, 9),
    "minor_pentatonic": (0, 3, 5, 7, 10),
    "hijaz": (0, 1, 4, 5, 7, 8, 10),
    "double_harmonic": (0, 1, 4, 5, 7, 8, 11),
    "in_sen": (0, 1, 5, 7, 10),
    "pelog": (0, 1, 3, 7, 8),
}
"""Scales as semitones above the key; the non-western ones are their 12-tone approximations."""

BASS, POWER, CHORD, LEAD = 33, 45, 57, 62
"""Registers: the MIDI note of each part's root in the key of A (A1, A2, A3, D4); other keys
move it by -5 to +6 semitones, so every key stays in the instrument's range."""

VELOCITY = {"x": 1.0, "o": 0.4}
"""Pattern letters: an accent and a ghost note; '.' is a rest."""

DRUMS: dict[str, dict[str, str]] = {
    "none": {},
    "rock": {"kick": "x.......x.x.....", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
    "halftime": {
        "kick": "x.....x...x.....",
        "snare": "........x.......",
        "hat": "x.x.x.x.x.x.x.x.",
    },
    "hardrock": {
        "kick": "x.x...x.x.x...x.",
        "snare": "....x.......x...",
        "crash": "x.x.x.x.x.x.x.x.",
    },
    "metal": {"kick": "xxxxxxxxxxxxxxxx", "snare": "....x.......x...", "crash": "x...x...x...x..."},
    "four": {"kick": "x...x...x...x...", "clap": "....x.......x...", "hat": "..x...x...x...x."},
    "four16": {
        "kick": "x...x...x...x...",
        "clap": "....x.......x...",
        "hat": "xoxoxoxoxoxoxoxo",
        "open": "..x...x...x...x.",
    },
    "breaks": {"kick": "x.........x.....", "snare": "....x..o.o..x..o", "hat": "x.x.x.x.x.x.x.x."},
    "boombap": {"kick": "x......x..x.....", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
    "trap": {"kick808": "x......x..x.....", "clap": "....x.......x...", "hat": "xoxoxoxoxoxoxxxx"},
    "jazz": {"ride": "x.xxx.xx", "hat": "..x...x.", "kick": "o...o...", "snare": ".o...o.o"},
    "shaker": {"shaker": "xoxoxoxoxoxoxoxo"},
    "bell12": {"bell": "x.x.xx.x.x.x", "conga": "x..o.xx..o.x", "shaker": "xooxooxooxoo"},
    "tresillo": {
        "conga": "x..x..x...x.x...",
        "tabla": "..o...o.o...o.oo",
        "shaker": "xoxoxoxoxoxoxoxo",
    },
    "tabla": {"tabla": "x.ox.ox.x.ox.oxo", "conga": "x.......x..x...."},
}
"""One bar of 4/4 per pattern; a pattern's length sets its grid (8ths, 8th triplets, 16ths)."""


@dataclass(frozen=True)
class Recipe:
    """A genre's vocabulary. Tuples of options are chosen from once per clip (repeats weight an
    option); ``(low, high)`` float pairs are ranges drawn uniformly and widened by difficulty.

    ``progression`` lists chord roots as scale degrees (0 = tonic), each held ``bars_per_chord``
    bars, with ``chord_size`` notes stacked in thirds of the ``mode``; ``bass`` and ``chords``
    pair a playing style with an instrument; ``swing`` delays the off-beat eighth by that many
    beats; ``density`` is lead notes per beat; ``drive`` is the tanh pre-gain of guitars (1 =
    clean), and more gently of the whole mix; ``reverb`` is the wet share, ``decay`` its RT60 in
    seconds; ``cutoff`` the master low-pass in Hz.
    """

    mode: tuple[str, ...]
    progression: tuple[tuple[int, ...], ...]
    bars_per_chord: tuple[int, ...]
    chord_size: tuple[int, ...]
    drums: tuple[str, ...]
    bass: tuple[tuple[str, str], ...]
    chords: tuple[tuple[str, str], ...]
    lead: tuple[str, ...]
    texture: tuple[str, ...]
    tempo: tuple[float, float]
    swing: tuple[float, float]
    density: tuple[float, float]
    drive: tuple[float, float]
    reverb: tuple[float, float]
    decay: tuple[float, float]
    cutoff: tuple[float, float]


RANGES = ("tempo", "swing", "density", "drive", "reverb", "decay", "cutoff")
"""The :class:`Recipe` fields that are ranges; all others are options."""

# Neighbours share on purpose: the rocks share drums, guitars and modes and differ mostly in
# drive, tempo and brightness; Ambient and New Age share pads and slow tempi; Electronica and
# Electro Rock share four-on-the-floor drums and saw synths.
RECIPES: dict[str, Recipe] = {
    "Alt Rock": Recipe(
        mode=("ionian", "mixolydian", "aeolian", "dorian"),
        progression=((0, 4, 5, 3), (5, 3, 0, 4), (0, 3, 5, 4), (0, 5, 3, 4)),
        bars_per_chord=(1, 2),
        chord_size=(3,),
        drums=("rock", "rock", "halftime"),
        bass=(("root8", "pluck"), ("root4", "pluck"), ("root8", "saw")),
        chords=(("strum8", "guitar"), ("strum", "guitar"), ("arp", "guitar"), ("power8", "guitar")),
        lead=("none", "guitar", "square", "none"),
        texture=("none",),
        tempo=(100, 150),
        swing=(0.0, 0.02),
        density=(0.5, 1.5),
        drive=(2.5, 7),
        reverb=(0.1, 0.3),
        decay=(0.8, 1.8),
        cutoff=(5000, 7500),
    ),
    "Ambient": Recipe(
        mode=("lydian", "ionian", "aeolian", "dorian"),
        progression=((0, 3), (0, 5), (0, 4, 5, 3), (0,)),
        bars_per_chord=(2, 4),
        chord_size=(3, 4),
        drums=("none",),
        bass=(("drone", "sine"), ("hold", "sine")),
        chords=(("hold", "pad"),),
        lead=("none", "bell", "none"),
        texture=("wash", "drone"),
        tempo=(50, 75),
        swing=(0.0, 0.0),
        density=(0.1, 0.4),
        drive=(1, 1),
        reverb=(0.55, 0.85),
        decay=(3, 6),
        cutoff=(1500, 3500),
    ),
    "Classical": Recipe(
        mode=("ionian", "aeolian", "harmonic_minor"),
        progression=((0, 3, 4, 0), (0, 5, 3, 4), (0, 4, 5, 2), (0, 1, 4, 0)),
        bars_per_chord=(1, 2),
        chord_size=(3,),
        drums=("none",),
        bass=(("hold", "strings"), ("alberti", "piano"), ("root4", "strings")),
        chords=(("hold", "strings"), ("arp", "piano"), ("arp", "pluck"), ("block", "piano")),
        lead=("strings", "flute", "reed", "none"),
        texture=("none",),
        tempo=(60, 120),
        swing=(0.0, 0.0),
        density=(0.5, 2),
        drive=(1, 1),
        reverb=(0.3, 0.5),
        decay=(1.8, 3),
        cutoff=(3000, 5500),
    ),
    "Electro Rock": Recipe(
        mode=("aeolian", "dorian", "minor_pentatonic", "phrygian"),
        progression=((0, 0, 5, 6), (0, 5, 3, 4), (0, 3, 0, 4)),
        bars_per_chord=(1, 2),
        chord_size=(3,),
        drums=("four", "rock", "four16"),
        bass=(("octave", "saw"), ("root8", "square"), ("root8", "saw")),
        chords=(("power8", "guitar"), ("riff", "guitar"), ("stab", "saw")),
        lead=("saw", "square", "guitar"),
        texture=("none",),
        tempo=(115, 140),
        swing=(0.0, 0.02),
        density=(1, 3),
        drive=(3, 12),
        reverb=(0.1, 0.3),
        decay=(0.8, 1.8),
        cutoff=(5000, 7500),
    ),
    "Electronica": Recipe(
        mode=("aeolian", "dorian", "phrygian", "ionian"),
        progression=((0, 5, 3, 4), (0, 0, 5, 5), (0, 3), (0, 6, 5, 6)),
        bars_per_chord=(1, 2),
        chord_size=(3, 4),
        drums=("four", "four16", "breaks"),
        bass=(("kick", "saw"), ("octave", "square"), ("offbeat", "saw")),
        chords=(("stab", "saw"), ("hold", "pad"), ("arp", "square"), ("arp", "saw")),
        lead=("none", "saw", "bell", "square"),
        texture=("none", "none", "wash"),
        tempo=(115, 135),
        swing=(0.0, 0.03),
        density=(2, 4),
        drive=(1, 1.3),
        reverb=(0.2, 0.4),
        decay=(1, 2.5),
        cutoff=(5000, 8000),
    ),
    "Hard Rock": Recipe(
        mode=("aeolian", "phrygian", "minor_pentatonic", "mixolydian"),
        progression=((0, 6, 5, 6), (0, 0, 3, 4), (0, 5, 6, 0), (0, 2, 3, 2)),
        bars_per_chord=(1,),
        chord_size=(3,),
        drums=("hardrock", "metal", "rock"),
        bass=(("root8", "saw"), ("root8", "pluck")),
        chords=(("power8", "guitar"), ("riff", "guitar"), ("riff", "guitar")),
        lead=("guitar", "guitar", "none"),
        texture=("none",),
        tempo=(110, 175),
        swing=(0.0, 0.02),
        density=(1, 3),
        drive=(10, 30),
        reverb=(0.05, 0.2),
        decay=(0.6, 1.5),
        cutoff=(6500, 8000),
    ),
    "Hip-Hop": Recipe(
        mode=("aeolian", "dorian", "minor_pentatonic", "harmonic_minor"),
        progression=((0, 0, 5, 5), (0, 3), (0, 5, 3, 4), (1, 4, 0, 0)),
        bars_per_chord=(1, 2),
        chord_size=(3, 4),
        drums=("boombap", "trap", "boombap"),
        bass=(("kick", "sine"), ("hold", "sine")),
        chords=(("block", "epiano"), ("hold", "strings"), ("stab", "piano"), ("comp", "epiano")),
        lead=("none", "none", "bell", "flute"),
        texture=("vinyl", "none", "vinyl"),
        tempo=(80, 98),
        swing=(0.04, 0.12),
        density=(0.5, 1.5),
        drive=(1, 1.5),
        reverb=(0.05, 0.2),
        decay=(0.5, 1.2),
        cutoff=(2800, 4500),
    ),
    "Jazz": Recipe(
        mode=("dorian", "mixolydian", "ionian"),
        progression=((1, 4, 0, 0), (0, 5, 1, 4), (1, 4, 0, 5), (2, 5, 1, 4)),
        bars_per_chord=(1,),
        chord_size=(4,),
        drums=("jazz",),
        bass=(("walk", "pluck"),),
        chords=(("comp", "epiano"), ("comp", "piano"), ("comp", "organ")),
        lead=("reed", "reed", "none", "flute"),
        texture=("none",),
        tempo=(100, 200),
        swing=(0.12, 0.2),
        density=(1.5, 3),
        drive=(1, 1),
        reverb=(0.15, 0.3),
        decay=(1, 2),
        cutoff=(3500, 5500),
    ),
    "New Age": Recipe(
        mode=("major_pentatonic", "ionian", "lydian", "mixolydian"),
        progression=((0, 4, 5, 3), (0, 3, 0, 4), (5, 3, 0, 4), (0, 3)),
        bars_per_chord=(1, 2),
        chord_size=(3, 4),
        drums=("none", "none", "none", "shaker"),
        bass=(("hold", "sine"), ("hold", "strings"), ("alberti", "piano")),
        chords=(("arp", "piano"), ("arp", "pluck"), ("hold", "pad"), ("arp", "bell")),
        lead=("flute", "flute", "bell", "none", "strings"),
        texture=("none", "wash", "drone"),
        tempo=(60, 90),
        swing=(0.0, 0.0),
        density=(0.5, 1.5),
        drive=(1, 1),
        reverb=(0.35, 0.6),
        decay=(2, 4),
        cutoff=(3000, 5500),
    ),
    "World": Recipe(
        mode=(
            "hijaz",
            "double_harmonic",
            "minor_pentatonic",
            "in_sen",
            "major_pentatonic",
            "pelog",
        ),
        progression=((0,), (0, 1), (0, 3), (0, 0, 0, 6)),
        bars_per_chord=(2, 4),
        chord_size=(3,),
        drums=("bell12", "tresillo", "tabla"),
        bass=(("drone", "sine"), ("root4", "pluck"), ("drone", "reed"), ("none", "")),
        chords=(("tanpura", "pluck"), ("hold", "reed"), ("tanpura", "sitar")),
        lead=("sitar", "flute", "bell", "reed"),
        texture=("none", "drone"),
        tempo=(85, 130),
        swing=(0.0, 0.06),
        density=(1, 3),
        drive=(1, 1),
        reverb=(0.1, 0.35),
        decay=(0.8, 2),
        cutoff=(4000, 7000),
    ),
}

SPANS = {
    name: (
        min(getattr(r, name)[0] for r in RECIPES.values()),
        max(getattr(r, name)[1] for r in RECIPES.values()),
    )
    for name in RANGES
}
"""Each range's extremes over all genres: where difficulty widens a genre's range towards."""


@dataclass(frozen=True)
class Plan:
    """One clip's concrete choices, drawn from a recipe (see :class:`Recipe` for the units);
    ``key`` is in semitones from A."""

    mode: str
    progression: tuple[int, ...]
    bars_per_chord: int
    chord_size: int
    drums: str
    bass: tuple[str, str]
    chords: tuple[str, str]
    lead: str
    texture: str
    tempo: float
    swing: float
    density: float
    drive: float
    reverb: float
    decay: float
    cutoff: float
    key: int


def _plan(genre: str, rng: Rng, difficulty: float) -> Plan:
    recipe = RECIPES[genre]
    others = [RECIPES[g] for g in GENRES if g != genre]
    widen = WIDEN * difficulty
    values: dict[str, object] = {}
    for f in fields(Recipe):
        if f.name in RANGES:
            lo, hi = getattr(recipe, f.name)
            span_lo, span_hi = SPANS[f.name]
            values[f.name] = rng.uniform(lo + widen * (span_lo - lo), hi + widen * (span_hi - hi))
        else:
            borrow = rng.random() < BORROW * difficulty
            source = others[rng.integers(len(others))] if borrow else recipe
            options = getattr(source, f.name)
            values[f.name] = options[rng.integers(len(options))]
    return Plan(key=int(rng.integers(-5, 7)), **values)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Signal helpers


def _time(seconds: float, sr: int, limit: int | None = None) -> np.ndarray:
    n = int(seconds * sr)
    return np.arange(n if limit is None else min(n, limit)) / sr


def _hz(midi: np.ndarray | float) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=float) - 69.0) / 12.0)


def _filter(
    x: np.ndarray, sr: int, kind: str, cutoff: float | tuple[float, float], order: int = 2
) -> np.ndarray:
    # Clamped below Nyquist so that a recipe's cutoff is valid at any sample rate.
    edges = np.clip(cutoff, 20.0, 0.45 * sr)
    return signal.sosfilt(signal.butter(order, edges, kind, fs=sr, output="sos"), x)


def _adsr(
    t: np.ndarray, gate: float, attack: float, decay: float, sustain: float, release: float
) -> np.ndarray:
    # A note shorter than attack + decay still completes them, as a struck or blown note does.
    hold = max(gate, attack + decay)
    return np.interp(
        t, [0.0, attack, attack + decay, hold, hold + release], [0.0, 1.0, sustain, sustain, 0.0]
    )


def _phases(
    pitches: np.ndarray,
    t: np.ndarray,
    sr: int,
    rng: Rng,
    detune: tuple[float, ...] = (0.0,),
    vibrato: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Phase in cycles, one row per pitch and detuned copy, with a random start so that detuned
    copies beat against each other; also each row's increment per sample (for anti-aliasing).
    ``vibrato`` is a depth in semitones at 5.5 Hz."""
    f = (_hz(pitches)[:, None] * 2.0 ** (np.asarray(detune) / 1200.0)).reshape(-1, 1)
    rate = 5.5
    depth = vibrato * np.log(2.0) / 12.0
    wobble = t - depth * np.cos(2 * np.pi * rate * t) / (2 * np.pi * rate) if vibrato else t
    return f * wobble + rng.random((f.size, 1)), f / sr


def _saw(phase: np.ndarray, inc: np.ndarray) -> np.ndarray:
    """PolyBLEP sawtooth: a naive one aliases audibly at 16 kHz; smoothing the jump over the
    sample on either side of each wrap removes most of it. Only those few samples are touched."""
    p = phase % 1.0
    y = 2.0 * p - 1.0
    inc = np.broadcast_to(inc, p.shape)
    after = p < inc
    x = p[after] / inc[after]
    y[after] -= 2.0 * x - x * x - 1.0
    before = p > 1.0 - inc
    x = (p[before] - 1.0) / inc[before]
    y[before] -= x * x + 2.0 * x + 1.0
    return y


def _karplus(
    pitch: int, t: np.ndarray, sr: int, rng: Rng, decay: float, softness: int
) -> np.ndarray:
    """Karplus-Strong string: a noise burst circulating in a delay line whose loop averages
    neighbouring samples, so high partials die first. Computed one period per row in the
    frequency domain (the loop filter raised to the period's index) instead of sample by sample,
    and with the loop's fractional delay in its phase so that every note is in tune."""
    length = sr / float(_hz(pitch))
    period = max(4, int(length))
    bins = np.arange(period // 2 + 1)
    # Loss per period such that the fundamental falls 60 dB in `decay` seconds at any pitch
    # (plain Karplus-Strong lets high notes die almost at once).
    gain = 10.0 ** (-3.0 * period / (sr * decay)) / np.cos(np.pi / period)
    loop = (
        gain
        * np.cos(np.pi * bins / period)
        * np.exp(-2j * np.pi * bins * (length - period) / period)
    )
    burst = np.fft.rfft(rng.uniform(-1.0, 1.0, period)) * np.cos(np.pi * bins / period) ** softness
    burst[0] = 0.0  # no DC: the loop would sustain it
    rows = -(-t.size // period)
    periods = np.fft.irfft(burst * loop ** np.arange(rows)[:, None], n=period, axis=1)
    return periods.ravel()[: t.size]


# ---------------------------------------------------------------------------------------------
# Instruments: (pitches, gate seconds, sample limit, sample rate, rng) -> waveform. Each decides
# its own tail; ``limit`` stops it at the end of the clip.

Instrument = Callable[[np.ndarray, float, int, int, Rng], np.ndarray]


def _sine(pitches: np.ndarray, gate: float, limit: int, sr: int, rng: Rng) -> np.ndarray:
    t = _time(gate + 0.08, sr, limit)
    phase, _ = _phases(pitches, t, sr, rng)
    return np.sin(2 * np.pi * phase).sum(0) * _adsr(t, gate, 0.005, 0.05, 0.9, 0.08)


def _saw_synth(pitches: np.ndarray, gate: float, limit: int, sr: int, rng: Rng) -> np.ndarray:
    t = _time(gate + 0.1, sr, limit)
    phase, inc = _phases(pitches, t, sr, rng, detune=(-7.0, 7.0))
    return _saw(phase, inc).sum(0) * _adsr(t, gate, 0.005, 0.15, 0.6, 0.1)


def _square(pitches: np.ndarray, gate: float, limit: int, sr: int, rng: Rng) -> np.ndarray:
    t = _time(gate + 0.08, sr, limit)
    phase, inc = _phases(pitches, t, sr, rng)
    wave = _saw(phase, inc) - _saw(phase + 0.5, inc)
    return wave.sum(0) * _adsr(t, gate, 0.005, 0.1, 0.7, 0.08)


def _pad(pitches: np.ndarray, gate: float, limit: int, sr: int, rng: Rng) -> np.ndarray:
    t = _time(gate + 1.5, sr, limit)
    phase, inc = _phases(pitches, t, sr, rng, detune=(-12.0, 12.0))
    return _saw(phase, inc).sum(0) * _adsr(t, gate, rng.uniform(0.6, 2.0), 0.5, 0.8, 1.5)


def _strings(pitches: np.ndarray, gate: float, limit: int, sr: int, rng: Rng) -> np.ndarray:
    t = _time(gate + 0.4, sr, limit)
    phase, inc = _phases(pitches, t, sr, rng, detune=(-8.0, 8.0), vibrato=0.15)
    return _saw(phase, inc).sum(0) * _adsr(t, gate, rng.uniform(0.1, 0.35), 0.2, 0.85, 0.4)


def _organ(pitches: np.ndarray, gate: float, limit: int, sr: int, rng: Rng) -> np.ndarray:
    t = _time(gate + 0.06, sr, limit)
    phase, inc = _phases(pitches, t, sr, rng)
    wave = np.zeros(t.size)
    for harmonic, weight in zip((1, 2, 3, 4, 6, 8), (1.0, 0.8, 0.5, 0.4, 0.2, 0.15), strict=True):
        audible = (harmonic * inc[:, 0] < 0.45).astype(float)  # drop drawbars above Nyquist
        wave += weight * (audible[:, None] * np.sin(2 * np.pi * harmonic * phase)).sum(0)
    return wave * _adsr(t, gate, 0.01, 0.05, 1.0, 0.06)


def _epiano(pitches: np.ndarray, gate: float, limit: int, sr: int, rng: Rng) -> np.ndarray:
    t = _time(gate + 0.3, sr, limit)
    phase, _ = _phases(pitches, t, sr, rng)
    index = 1.8 * np.exp(-t / 0.3)  # bright attack mellowing, as a tine does
    wave = np.sin(2 * np.pi * phase + index * np.sin(2 * np.pi * phase)).sum(0)
    return wave * np.exp(-t / 1.2) * _adsr(t, gate, 0.002, 0.0, 1.0, 0.3)


def _bell(pitches: np.ndarray, gate: float, limit: int, sr: int, rng: Rng) -> np.ndarray:
    ring = rng.uniform(1.0, 4.0)  # seconds to fall 60 dB
    t = _time(gate + ring, sr, limit)
    phase, _ = _phases(pitches, t, sr, rng)
    index = 2.5 * np.exp(-t / 0.15)  # inharmonic FM ratio 3.5: a struck metal bar
    wave = np.sin(2 * np.pi * phase + index * np.sin(2 * np.pi * 3.5 * phase)).sum(0)
    return wave * 10.0 ** (-3.0 * t / ring) * np.minimum(t / 0.002, 1.0)


def _piano(pitches: np.ndarray, gate: float, limit: int, sr: int, rng: Rng) -> np.ndarray:
    t = _time(gate + 0.25, sr, limit)
    wave = np.zeros(t.size)
    for h in range(1, 9):
        # Stiff strings: partials slightly sharp, the higher ones quieter and shorter.
        f = _hz(pitches)[:, None] * h * np.sqrt(1.0 + 2e-4 * h * h)
        partial = np.sin(2 * np.pi * f * t + rng.random((f.size, 1))) * (f < 0.45 * sr)
        wave += partial.sum(0) * h**-1.2 * np.exp(-t * h**0.7 / 1.5)
    return wave * _adsr(t, gate, 0.002, 0.0, 1.0, 0.25)


def _string(decay: tuple[float, float], softness: int, tail: float, buzz: float) -> Instrument:
    """A plucked-string instrument (Karplus-Strong); ``buzz`` > 0 adds a sitar's bridge buzz."""

    def play(pitches: np.ndarray, gate: float, limit: int, sr: int, rng: Rng) -> np.ndarray:
        t = _time(gate + tail, sr, limit)
        ring = rng.uniform(*decay)
        wave = sum(_karplus(p, t, sr, rng, ring, softness) for p in pitches)
        if buzz:
            wave = wave + buzz * np.tanh(4.0 * wave)
        return wave * _adsr(t, gate, 0.0005, 0.0, 1.0, tail)

    return play


def _reed(pitches: np.ndarray, gate: float, limit: int, sr: int, rng: Rng) -> np.ndarray:
    t = _time(gate + 0.08, sr, limit)
    phase, inc = _phases(pitches, t, sr, rng, vibrato=0.1)
    wave = 0.6 * _saw(phase, inc) + 0.4 * (_saw(phase, inc) - _saw(phase + 0.5, inc))
    return wave.sum(0) * _adsr(t, gate, 0.04, 0.1, 0.8, 0.08)


def _flute(pitches: np.ndarray, gate: float, limit: int, sr: int, rng: Rng) -> np.ndarray:
    t = _time(gate + 0.12, sr, limit)
    phase, _ = _phases(pitches, t, sr, rng, vibrato=0.12)
    tone = (np.sin(2 * np.pi * phase) + 0.15 * np.sin(4 * np.pi * phase)).sum(0)
    breath = 0.08 * _filter(rng.standard_normal(t.size), sr, "bandpass", (1500.0, 5000.0))
    return (tone + breath) * _adsr(t, gate, 0.08, 0.1, 0.85, 0.12)


INSTRUMENTS: dict[str, Instrument] = {
    "sine": _sine,
    "saw": _saw_synth,
    "square": _square,
    "pad": _pad,
    "strings": _strings,
    "organ": _organ,
    "epiano": _epiano,
    "bell": _bell,
    "piano": _piano,
    "reed": _reed,
    "flute": _flute,
    "pluck": _string(decay=(0.8, 1.6), softness=2, tail=0.3, buzz=0.0),
    "guitar": _string(decay=(2.0, 4.0), softness=0, tail=0.1, buzz=0.0),
    "sitar": _string(decay=(1.5, 3.0), softness=0, tail=0.4, buzz=0.5),
}

TONE = {
    "pad": (700, 2500),
    "strings": (1500, 4000),
    "reed": (1200, 3000),
    "saw": (1200, 6000),
    "square": (1200, 6000),
    "guitar": (3000, 6000),
}
"""Low-pass range (Hz) per instrument: subtractive synths are filtered, guitars go through a
speaker cabinet that rolls off the fizz of distortion."""


# ---------------------------------------------------------------------------------------------
# Drums: one sample per voice and clip (tuned at random), placed at every hit of the pattern.


def _ring(tau: float, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Time and exponential decay with time constant ``tau``, long enough (7 tau) to fall 60 dB:
    a shorter sample would end in an audible click."""
    t = _time(7.0 * tau, sr)
    return t, np.exp(-t / tau)


def _kick(sr: int, rng: Rng) -> np.ndarray:
    t, env = _ring(rng.uniform(0.1, 0.25), sr)
    f = rng.uniform(45, 60) + rng.uniform(80, 140) * np.exp(-t / 0.03)  # the beater's thump
    return np.sin(2 * np.pi * np.cumsum(f) / sr) * env + 0.3 * rng.standard_normal(t.size) * np.exp(
        -t / 0.003
    )


def _kick808(sr: int, rng: Rng) -> np.ndarray:
    t, env = _ring(rng.uniform(0.3, 0.6), sr)
    f = rng.uniform(40, 55) + 60 * np.exp(-t / 0.04)
    return np.tanh(1.5 * np.sin(2 * np.pi * np.cumsum(f) / sr) * env)


def _snare(sr: int, rng: Rng) -> np.ndarray:
    t, env = _ring(rng.uniform(0.05, 0.12), sr)
    rattle = _filter(rng.standard_normal(t.size), sr, "highpass", 1200) * env
    return rattle + 0.6 * np.sin(2 * np.pi * rng.uniform(170, 230) * t) * np.exp(-t / 0.04)


def _clap(sr: int, rng: Rng) -> np.ndarray:
    t, env = _ring(rng.uniform(0.05, 0.1), sr)
    # Several hands a few milliseconds apart, then the room.
    env = np.exp(-(t % 0.011) / 0.004) * (t < 0.033) + 0.4 * env
    return _filter(rng.standard_normal(t.size), sr, "bandpass", (900.0, 3500.0)) * env


def _metal(highpass: float, decay: tuple[float, float]) -> Callable[[int, Rng], np.ndarray]:
    """Hats and cymbals: high-passed noise with a random ring length."""

    def hit(sr: int, rng: Rng) -> np.ndarray:
        t, env = _ring(rng.uniform(*decay), sr)
        return _filter(rng.standard_normal(t.size), sr, "highpass", highpass) * env

    return hit


def _ride(sr: int, rng: Rng) -> np.ndarray:
    t, env = _ring(rng.uniform(0.3, 0.5), sr)
    ping = np.sin(2 * np.pi * rng.uniform(1500, 3500, (3, 1)) * t).sum(0)  # the bell of the cymbal
    wash = _filter(rng.standard_normal(t.size), sr, "highpass", 4000)
    return (0.2 * wash + 0.2 * ping) * env


def _shaker(sr: int, rng: Rng) -> np.ndarray:
    t, env = _ring(rng.uniform(0.03, 0.05), sr)
    noise = _filter(rng.standard_normal(t.size), sr, "bandpass", (3000.0, 7000.0))
    return noise * np.minimum(t / 0.01, 1.0) * env


def _conga(sr: int, rng: Rng) -> np.ndarray:
    t, env = _ring(rng.uniform(0.08, 0.15), sr)
    f = rng.uniform(180, 320) * (1.0 + 0.1 * np.exp(-t / 0.02))
    slap = _filter(rng.standard_normal(t.size), sr, "bandpass", (1000.0, 4000.0))
    return np.sin(2 * np.pi * np.cumsum(f) / sr) * env + 0.2 * slap * np.exp(-t / 0.01)


def _tabla(sr: int, rng: Rng) -> np.ndarray:
    t, env = _ring(rng.uniform(0.2, 0.35), sr)
    # Harmonic partials (the loaded head) and the upward bend of a pressed palm.
    f = rng.uniform(350, 550) * (1.0 + 0.03 * (1.0 - np.exp(-t / 0.1)))
    phase = np.cumsum(f) / sr
    tone = sum(a * np.sin(2 * np.pi * h * phase) for h, a in ((1, 1.0), (2, 0.5), (3, 0.3)))
    return tone * env


def _agogo(sr: int, rng: Rng) -> np.ndarray:
    t, env = _ring(rng.uniform(0.1, 0.2), sr)
    f = rng.uniform(700, 1100)
    modulator = 2.0 * np.exp(-t / 0.05) * np.sin(2 * np.pi * 2.4 * f * t)
    return np.sin(2 * np.pi * f * t + modulator) * env


VOICES: dict[str, Callable[[int, Rng], np.ndarray]] = {
    "kick": _kick,
    "kick808": _kick808,
    "snare": _snare,
    "clap": _clap,
    "ride": _ride,
    "hat": _metal(6000, (0.02, 0.05)),
    "open": _metal(5000, (0.15, 0.3)),
    "crash": _metal(3500, (0.4, 0.8)),
    "shaker": _shaker,
    "conga": _conga,
    "tabla": _tabla,
    "bell": _agogo,
}


# ---------------------------------------------------------------------------------------------
# Composition: notes for every part, on a swung grid.


def _onsets(plan: Plan, bars: int, steps: int) -> np.ndarray:
    """Onset (s) of every step of every bar. Swing warps time within each beat so the off-beat
    eighth lands ``swing`` beats late: every part, whatever its grid, swings alike."""
    beats = np.arange(bars * steps) * 4.0 / steps
    whole, u = np.divmod(beats, 1.0)
    mid = 0.5 + plan.swing
    warped = np.where(u < 0.5, u * mid / 0.5, mid + (u - 0.5) * (1.0 - mid) / 0.5)
    return ((whole + warped) * 60.0 / plan.tempo).reshape(bars, steps)


def _degree(plan: Plan, degree: int, register: int) -> int:
    scale = MODES[plan.mode]
    octave, step = divmod(degree, len(scale))
    return register + plan.key + 12 * octave + scale[step]


def _rhythm(
    plan: Plan, bars: int, pattern: str, pitches: Callable[[int, int], tuple[int, ...]], gate: float
) -> list[Note]:
    """A note wherever ``pattern`` has a hit; ``pitches(bar, n)`` gives the n-th note's pitches
    and ``gate`` its length in grid steps."""
    times = _onsets(plan, bars, len(pattern))
    step = 240.0 / plan.tempo / len(pattern)
    notes: list[Note] = []
    for bar in range(bars):
        for s, c in enumerate(pattern):
            if c in VELOCITY:
                notes.append((times[bar, s], gate * step, pitches(bar, len(notes)), VELOCITY[c]))
    return notes


def _chords(plan: Plan, bars: int) -> list[int]:
    """The chord root (scale degree) of every bar."""
    return [
        plan.progression[(b // plan.bars_per_chord) % len(plan.progression)] for b in range(bars)
    ]


def _stacked(plan: Plan, root: int) -> tuple[int, ...]:
    """The chord on a root: ``chord_size`` notes a third apart in the mode (a triad, a 7th)."""
    return tuple(_degree(plan, root + 2 * i, CHORD) for i in range(plan.chord_size))


def _power(plan: Plan, root: int) -> tuple[int, ...]:
    low = _degree(plan, root, POWER)
    return (low, low + 7, low + 12)


def _held(plan: Plan, bars: int, voicing: Callable[[int], tuple[int, ...]]) -> list[Note]:
    """One long note per chord change."""
    roots = _chords(plan, bars)
    bar = 240.0 / plan.tempo
    return [
        (b * bar, 0.98 * plan.bars_per_chord * bar, voicing(roots[b]), 1.0)
        for b in range(0, bars, plan.bars_per_chord)
    ]


def _comp(plan: Plan, bars: int, rng: Rng) -> list[Note]:
    style, _ = plan.chords
    roots = _chords(plan, bars)

    def chord(bar: int, _: int) -> tuple[int, ...]:
        return _stacked(plan, roots[bar])

    def power(bar: int, _: int) -> tuple[int, ...]:
        return _power(plan, roots[bar])

    if style == "hold":
        return _held(plan, bars, lambda root: _stacked(plan, root))
    if style == "strum8":
        return _rhythm(plan, bars, "xoxoxoxo", chord, 0.95)
    if style == "strum":
        pattern = ("x..x..x.x..x..x.", "x.x..x.xx.x..x.x", "x..x.x..x..x.x..")[rng.integers(3)]
        return _rhythm(plan, bars, pattern, chord, 2.0)
    if style == "power8":
        return _rhythm(plan, bars, "xoxoxoxo", power, 0.7)
    if style == "riff":
        pattern = ("x.xx..x.x.xx..x.", "xx.x.xx.x..x.x.x", "x..xx..xx.x.x..x")[rng.integers(3)]
        return _rhythm(plan, bars, pattern, power, 0.9)
    if style == "stab":
        pattern = ("..x...x...x...x.", "x..x..x...x..x..", "..x..x....x..x..")[rng.integers(3)]
        return _rhythm(plan, bars, pattern, chord, 1.0)
    if style == "block":
        return _rhythm(plan, bars, "xxxx", chord, 0.9)
    if style == "comp":
        # Jazz comping: a few irregular hits per bar on the swung eighths, varied in length.
        times = _onsets(plan, bars, 8)
        eighth = 30.0 / plan.tempo
        return [
            (
                times[b, s],
                rng.uniform(1.0, 3.0) * eighth,
                _stacked(plan, roots[b]),
                rng.uniform(0.5, 1.0),
            )
            for b in range(bars)
            for s in range(8)
            if rng.random() < 0.3
        ]
    if style == "arp":
        steps = 16 if rng.random() < 0.5 else 8
        order = (0, 1, 2, 3, 2, 1) if rng.random() < 0.5 else (0, 1, 2, 3)

        def tone(bar: int, n: int) -> tuple[int, ...]:
            i = order[n % len(order)]
            return (_degree(plan, roots[bar] + 2 * min(i, 2), CHORD) + 12 * (i == 3),)

        return _rhythm(plan, bars, "x" * steps, tone, 2.0)
    # "tanpura": fifth, octave, octave, root on the beats, each left ringing.
    return _rhythm(
        plan,
        bars,
        "xxxx",
        lambda bar, n: (_degree(plan, roots[bar], POWER) + (7, 12, 12, 0)[n % 4],),
        3.5,
    )


def _bassline(plan: Plan, bars: int, rng: Rng) -> list[Note]:
    style, _ = plan.bass
    roots = _chords(plan, bars)

    def root(bar: int, _: int) -> tuple[int, ...]:
        return (_degree(plan, roots[bar], BASS),)

    if style == "root8":
        return _rhythm(plan, bars, "xoxoxoxo", root, 0.85)
    if style == "root4":
        return _rhythm(plan, bars, "xxxx", root, 0.9)
    if style == "hold":
        return _held(plan, bars, lambda r: (_degree(plan, r, BASS),))
    if style == "octave":
        return _rhythm(
            plan,
            bars,
            "xxxxxxxx",
            lambda bar, n: (_degree(plan, roots[bar], BASS) + 12 * (n % 2),),
            0.8,
        )
    if style == "offbeat":
        return _rhythm(plan, bars, ".x.x.x.x", root, 0.8)
    if style == "kick":
        # Doubling the kick drum, each note held until the next one: an 808 or house bass line.
        kit = DRUMS[plan.drums]
        pattern = kit.get("kick", kit.get("kick808", "x.......x.x....."))
        notes = _rhythm(plan, bars, pattern, root, 1.0)
        ends = [n[0] for n in notes[1:]] + [notes[-1][0] + 60.0 / plan.tempo]
        return [(t, 0.95 * (end - t), p, v) for (t, _, p, v), end in zip(notes, ends, strict=True)]
    if style == "walk":
        # Walking bass: the root on beat one, scale steps on two and three, and a semitone
        # from the next chord's root on four, pulling towards it.
        times = _onsets(plan, bars, 4)
        notes: list[Note] = []
        for b in range(bars):
            degree = roots[b]
            line = [_degree(plan, degree, BASS + 12)]
            for _ in range(2):
                degree += int(rng.choice((-2, -1, 1, 2)))
                line.append(_degree(plan, degree, BASS + 12))
            target = _degree(plan, roots[min(b + 1, bars - 1)], BASS + 12)
            line.append(target + int(rng.choice((-1, 1))))
            notes += [(times[b, i], 0.9 * 60.0 / plan.tempo, (p,), 1.0) for i, p in enumerate(line)]
        return notes
    if style == "alberti":
        return _rhythm(
            plan,
            bars,
            "xxxxxxxx",
            lambda bar, n: (_degree(plan, roots[bar] + (0, 4, 2, 4)[n % 4], BASS + 12),),
            1.0,
        )
    if style == "drone":
        low = _degree(plan, roots[0], BASS + 12)
        return [(0.0, bars * 240.0 / plan.tempo, (low, low + 7), 1.0)]
    return []


def _melody(plan: Plan, bars: int, rng: Rng) -> list[Note]:
    """A random walk through the scale in phrases, at ``density`` notes per beat on average."""
    if plan.lead == "none":
        return []
    steps = 16 if plan.density > 2 else 8
    chance = plan.density * 4 / steps
    times = _onsets(plan, bars, steps)
    step = 240.0 / plan.tempo / steps
    size = len(MODES[plan.mode])
    degree = size // 2
    notes: list[Note] = []
    for b in range(bars):
        if rng.random() < 0.25:
            continue  # a bar's rest between phrases
        for s in range(steps):
            if rng.random() < chance:
                degree = int(np.clip(degree + rng.integers(-2, 3), 0, size + size // 2))
                notes.append(
                    (
                        times[b, s],
                        step * rng.integers(1, 4),
                        (_degree(plan, degree, LEAD),),
                        rng.uniform(0.6, 1.0),
                    )
                )
    return notes


def _texture(plan: Plan, total: int, sr: int, rng: Rng) -> np.ndarray:
    t = np.arange(total) / sr
    if plan.texture == "wash":
        # Wind or surf: dark noise swelling slowly.
        swell = 0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.05, 0.2) * t + rng.uniform(0, 6.3))
        return _filter(rng.standard_normal(total), sr, "lowpass", rng.uniform(600, 2000)) * swell
    if plan.texture == "vinyl":
        # Record crackle (sparse clicks of random size) over hiss.
        clicks = np.zeros(total)
        where = rng.integers(0, total, int(rng.uniform(5, 20) * total / sr))
        clicks[where] = rng.exponential(1.0, where.size) * rng.choice((-1.0, 1.0), where.size)
        return _filter(clicks, sr, "highpass", 1500) + 0.05 * rng.standard_normal(total)
    if plan.texture == "drone":
        low = _degree(plan, plan.progression[0], BASS + 12)
        return _pad(np.array([low, low + 7]), total / sr, total, sr, rng)
    return np.zeros(total)


# ---------------------------------------------------------------------------------------------
# Rendering and mixing


def _add(out: np.ndarray, wave: np.ndarray, start: float, sr: int) -> None:
    i = int(start * sr)
    seg = wave[: max(out.size - i, 0)]
    out[i : i + seg.size] += seg


def _beat(plan: Plan, bars: int, total: int, sr: int, rng: Rng) -> np.ndarray:
    out = np.zeros(total)
    for voice, pattern in DRUMS[plan.drums].items():
        hit = VOICES[voice](sr, rng)
        for t, c in zip(_onsets(plan, bars, len(pattern)).ravel(), pattern * bars, strict=True):
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
        out = _filter(out, sr, "lowpass", rng.uniform(*TONE[name]))
    return out


def _level(x: np.ndarray) -> np.ndarray:
    """Scale to unit RMS, but never push a sparse part's peaks above 4 (12 dB over the RMS)."""
    scale = max(np.sqrt(np.mean(x * x)), np.abs(x).max() / 4.0)
    return x / scale if scale > 0 else x


def _reverb(x: np.ndarray, plan: Plan, sr: int, rng: Rng) -> np.ndarray:
    """Convolution with exponentially decaying, darkened noise after a short pre-delay: a cheap
    room whose tail falls 60 dB in ``decay`` seconds."""
    t = _time(plan.decay, sr)
    tail = _filter(rng.standard_normal(t.size), sr, "lowpass", 5000)
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


def _render(genre: str, index: int, settings: Settings) -> np.ndarray:
    # Seeded by the clip's identity alone, so that the audio ignores worker count and order.
    rng = np.random.default_rng([settings.seed, zlib.crc32(genre.encode()), index])
    d = settings.difficulty
    sr = settings.sample_rate
    plan = _plan(genre, rng, d)
    bar = 240.0 / plan.tempo
    start = PREROLL + rng.uniform(0.0, bar)  # clips start anywhere in the bar, as excerpts do
    bars = int(np.ceil((start + settings.seconds) / bar))
    total = int((start + settings.seconds) * sr) + 1
    parts = {
        "drums": _beat(plan, bars, total, sr, rng),
        "bass": _filter(
            _play(_bassline(plan, bars, rng), plan.bass[1], 1.0, total, sr, rng),
            sr,
            "lowpass",
            rng.uniform(300, 1200),
        ),
        "chords": _play(_comp(plan, bars, rng), plan.chords[1], plan.drive, total, sr, rng),
        "lead": _play(_melody(plan, bars, rng), plan.lead, plan.drive, total, sr, rng),
        "texture": _texture(plan, total, sr, rng),
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
    mix = _filter(_filter(mix, sr, "lowpass", plan.cutoff), sr, "highpass", 30.0)
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


# ---------------------------------------------------------------------------------------------
# Files


def _slug(genre: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in genre.lower())


def _is_mp3(index: int, share: float) -> bool:
    # Spread evenly (every 4th clip at 0.25) and identically in every genre, so that the file
    # format carries no hint of the genre.
    return int((index + 1) * share + 0.5) > int(index * share + 0.5)


def _write(folder: Path, genre: str, index: int, settings: Settings) -> None:
    audio = _render(genre, index, settings)
    stem = folder / genre / f"{_slug(genre)}_{index:04d}"
    if _is_mp3(index, settings.mp3_share):
        sf.write(
            stem.with_suffix(".mp3"), audio.astype(np.float32), settings.sample_rate, format="MP3"
        )
    else:
        sf.write(stem.with_suffix(".wav"), audio, settings.sample_rate, subtype="PCM_16")


def _write_all(folder: Path, settings: Settings, workers: int) -> None:
    jobs = [
        (folder, genre, i, settings) for genre in GENRES for i in range(settings.clips_per_genre)
    ]
    with tqdm(total=len(jobs), desc="synth", unit="clip") as progress:
        if workers == 1:
            for job in jobs:
                _write(*job)
                progress.update()
            return
        with ProcessPoolExecutor(min(workers, len(jobs))) as pool:
            futures = [pool.submit(_write, *job) for job in jobs]
            try:
                for future in as_completed(futures):
                    future.result()
                    progress.update()
            except BaseException:
                # Stop at the first failure (or Ctrl-C) instead of rendering everything else.
                pool.shutdown(cancel_futures=True)
                raise


def _require_same(root: Path, params: dict[str, object]) -> None:
    try:
        found = json.loads((root / PARAMS_FILE).read_text())
    except (OSError, ValueError):
        found = None
    if found != params:
        raise GenreError(
            f"{root} already exists and is not the synthetic dataset for these parameters; "
            "choose another root or delete it."
        )


def generate(
    root: Path,
    clips_per_genre: int,
    seconds: float,
    sample_rate: int = 16000,
    seed: int = 0,
    difficulty: float = 0.5,
    mp3_share: float = 0.25,
    workers: int | None = None,
) -> Path:
    """Write the dataset under root (if not already complete for these exact parameters) and
    return root.

    The layout is a user's folder of music: ``<root>/<genre>/<slug>_<NNNN>.wav`` (``.mp3`` for a
    ``mp3_share`` of the clips), mono at ``sample_rate``, each clip ``seconds`` long and peaking
    between -12 and -1 dBFS, plus ``synth.json`` with the parameters. The audio depends only on
    the parameters (not on ``workers``, which defaults to every core), so a dataset is built once
    and reused; it appears under ``root`` only when complete.

    ``difficulty`` (0 to 1) sets how much the genres overlap. At 0 every clip keeps to its
    genre's recipe: genres differ clearly in tempo, drums, instruments, distortion, reverb and
    brightness, with almost inaudible noise. Towards 1 each numeric range (tempo, swing, note
    density, drive, reverb, brightness) widens towards the extremes of all genres (60% of the
    way at 1), each recipe element (scale, drums, bass, chords, lead, texture...) is taken from
    another genre with a chance of up to 40%, the parts' levels vary more, and noise rises to
    12-30 dB below the music.
    """
    settings = Settings(
        int(clips_per_genre),
        float(seconds),
        int(sample_rate),
        int(seed),
        float(difficulty),
        float(mp3_share),
    )
    if settings.clips_per_genre < 1 or int(settings.seconds * settings.sample_rate) < 1:
        raise GenreError(
            "The synthetic dataset needs at least one clip per genre and a positive clip length."
        )
    if not (0.0 <= settings.difficulty <= 1.0 and 0.0 <= settings.mp3_share <= 1.0):
        raise GenreError("The synthetic dataset's difficulty and mp3_share must lie in [0, 1].")
    if settings.sample_rate < 8000:
        raise GenreError("The synthetic dataset needs a sample rate of at least 8000 Hz.")
    if settings.mp3_share > 0 and settings.sample_rate not in MP3_RATES:
        raise GenreError(
            f"MP3 cannot be written at {settings.sample_rate} Hz; use one of "
            f"{sorted(MP3_RATES)} or set mp3_share to 0."
        )
    params = {"format_version": FORMAT_VERSION, "genres": list(GENRES), **asdict(settings)}
    root = Path(root)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        _require_same(root, params)
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    # Built beside root and renamed into place, so that an interrupted build never looks whole.
    partial = root.parent / f".{root.name}.{uuid.uuid4().hex[:12]}.partial"
    try:
        for genre in GENRES:
            (partial / genre).mkdir(parents=True)
        _write_all(partial, settings, workers or os.cpu_count() or 1)
        (partial / PARAMS_FILE).write_text(json.dumps(params, indent=2) + "\n")
        try:
            partial.rename(root)
        except OSError:
            _require_same(root, params)  # another process finished the same dataset first
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return root
