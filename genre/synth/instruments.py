"""The instruments (pitched, one waveform per note or chord) and the drum voices (one sample per
hit), each drawn with its own random variation."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from genre.synth.dsp import Rng, adsr, butterworth, hz, karplus, phases, saw, time

# ---------------------------------------------------------------------------------------------
# Instruments: (pitches, gate seconds, sample limit, sample rate, rng) -> waveform. Each decides
# its own tail; ``limit`` stops it at the end of the clip.

Instrument = Callable[[np.ndarray, float, int, int, Rng], np.ndarray]


def _sine(pitches: np.ndarray, gate: float, limit: int, sr: int, rng: Rng) -> np.ndarray:
    t = time(gate + 0.08, sr, limit)
    phase, _ = phases(pitches, t, sr, rng)
    return np.sin(2 * np.pi * phase).sum(0) * adsr(t, gate, 0.005, 0.05, 0.9, 0.08)


def _saw_synth(pitches: np.ndarray, gate: float, limit: int, sr: int, rng: Rng) -> np.ndarray:
    t = time(gate + 0.1, sr, limit)
    phase, inc = phases(pitches, t, sr, rng, detune=(-7.0, 7.0))
    return saw(phase, inc).sum(0) * adsr(t, gate, 0.005, 0.15, 0.6, 0.1)


def _square(pitches: np.ndarray, gate: float, limit: int, sr: int, rng: Rng) -> np.ndarray:
    t = time(gate + 0.08, sr, limit)
    phase, inc = phases(pitches, t, sr, rng)
    wave = saw(phase, inc) - saw(phase + 0.5, inc)
    return wave.sum(0) * adsr(t, gate, 0.005, 0.1, 0.7, 0.08)


def _pad(pitches: np.ndarray, gate: float, limit: int, sr: int, rng: Rng) -> np.ndarray:
    t = time(gate + 1.5, sr, limit)
    phase, inc = phases(pitches, t, sr, rng, detune=(-12.0, 12.0))
    return saw(phase, inc).sum(0) * adsr(t, gate, rng.uniform(0.6, 2.0), 0.5, 0.8, 1.5)


def _strings(pitches: np.ndarray, gate: float, limit: int, sr: int, rng: Rng) -> np.ndarray:
    t = time(gate + 0.4, sr, limit)
    phase, inc = phases(pitches, t, sr, rng, detune=(-8.0, 8.0), vibrato=0.15)
    return saw(phase, inc).sum(0) * adsr(t, gate, rng.uniform(0.1, 0.35), 0.2, 0.85, 0.4)


def _organ(pitches: np.ndarray, gate: float, limit: int, sr: int, rng: Rng) -> np.ndarray:
    t = time(gate + 0.06, sr, limit)
    phase, inc = phases(pitches, t, sr, rng)
    wave = np.zeros(t.size)
    for harmonic, weight in zip((1, 2, 3, 4, 6, 8), (1.0, 0.8, 0.5, 0.4, 0.2, 0.15), strict=True):
        audible = (harmonic * inc[:, 0] < 0.45).astype(float)  # drop drawbars above Nyquist
        wave += weight * (audible[:, None] * np.sin(2 * np.pi * harmonic * phase)).sum(0)
    return wave * adsr(t, gate, 0.01, 0.05, 1.0, 0.06)


def _epiano(pitches: np.ndarray, gate: float, limit: int, sr: int, rng: Rng) -> np.ndarray:
    t = time(gate + 0.3, sr, limit)
    phase, _ = phases(pitches, t, sr, rng)
    index = 1.8 * np.exp(-t / 0.3)  # bright attack mellowing, as a tine does
    wave = np.sin(2 * np.pi * phase + index * np.sin(2 * np.pi * phase)).sum(0)
    return wave * np.exp(-t / 1.2) * adsr(t, gate, 0.002, 0.0, 1.0, 0.3)


def _bell(pitches: np.ndarray, gate: float, limit: int, sr: int, rng: Rng) -> np.ndarray:
    ring = rng.uniform(1.0, 4.0)  # seconds to fall 60 dB
    t = time(gate + ring, sr, limit)
    phase, _ = phases(pitches, t, sr, rng)
    index = 2.5 * np.exp(-t / 0.15)  # inharmonic FM ratio 3.5: a struck metal bar
    wave = np.sin(2 * np.pi * phase + index * np.sin(2 * np.pi * 3.5 * phase)).sum(0)
    return wave * 10.0 ** (-3.0 * t / ring) * np.minimum(t / 0.002, 1.0)


def _piano(pitches: np.ndarray, gate: float, limit: int, sr: int, rng: Rng) -> np.ndarray:
    t = time(gate + 0.25, sr, limit)
    wave = np.zeros(t.size)
    for h in range(1, 9):
        # Stiff strings: partials slightly sharp, the higher ones quieter and shorter.
        f = hz(pitches)[:, None] * h * np.sqrt(1.0 + 2e-4 * h * h)
        partial = np.sin(2 * np.pi * f * t + rng.random((f.size, 1))) * (f < 0.45 * sr)
        wave += partial.sum(0) * h**-1.2 * np.exp(-t * h**0.7 / 1.5)
    return wave * adsr(t, gate, 0.002, 0.0, 1.0, 0.25)


def _string(decay: tuple[float, float], softness: int, tail: float, buzz: float) -> Instrument:
    """A plucked-string instrument (Karplus-Strong); ``buzz`` > 0 adds a sitar's bridge buzz."""

    def play(pitches: np.ndarray, gate: float, limit: int, sr: int, rng: Rng) -> np.ndarray:
        t = time(gate + tail, sr, limit)
        ring = rng.uniform(*decay)
        wave = sum(karplus(p, t, sr, rng, ring, softness) for p in pitches)
        if buzz:
            wave = wave + buzz * np.tanh(4.0 * wave)
        return wave * adsr(t, gate, 0.0005, 0.0, 1.0, tail)

    return play


def _reed(pitches: np.ndarray, gate: float, limit: int, sr: int, rng: Rng) -> np.ndarray:
    t = time(gate + 0.08, sr, limit)
    phase, inc = phases(pitches, t, sr, rng, vibrato=0.1)
    wave = 0.6 * saw(phase, inc) + 0.4 * (saw(phase, inc) - saw(phase + 0.5, inc))
    return wave.sum(0) * adsr(t, gate, 0.04, 0.1, 0.8, 0.08)


def _flute(pitches: np.ndarray, gate: float, limit: int, sr: int, rng: Rng) -> np.ndarray:
    t = time(gate + 0.12, sr, limit)
    phase, _ = phases(pitches, t, sr, rng, vibrato=0.12)
    tone = (np.sin(2 * np.pi * phase) + 0.15 * np.sin(4 * np.pi * phase)).sum(0)
    breath = 0.08 * butterworth(rng.standard_normal(t.size), sr, "bandpass", (1500.0, 5000.0))
    return (tone + breath) * adsr(t, gate, 0.08, 0.1, 0.85, 0.12)


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
    t = time(7.0 * tau, sr)
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
    rattle = butterworth(rng.standard_normal(t.size), sr, "highpass", 1200) * env
    return rattle + 0.6 * np.sin(2 * np.pi * rng.uniform(170, 230) * t) * np.exp(-t / 0.04)


def _clap(sr: int, rng: Rng) -> np.ndarray:
    t, env = _ring(rng.uniform(0.05, 0.1), sr)
    # Several hands a few milliseconds apart, then the room.
    env = np.exp(-(t % 0.011) / 0.004) * (t < 0.033) + 0.4 * env
    return butterworth(rng.standard_normal(t.size), sr, "bandpass", (900.0, 3500.0)) * env


def _metal(highpass: float, decay: tuple[float, float]) -> Callable[[int, Rng], np.ndarray]:
    """Hats and cymbals: high-passed noise with a random ring length."""

    def hit(sr: int, rng: Rng) -> np.ndarray:
        t, env = _ring(rng.uniform(*decay), sr)
        return butterworth(rng.standard_normal(t.size), sr, "highpass", highpass) * env

    return hit


def _ride(sr: int, rng: Rng) -> np.ndarray:
    t, env = _ring(rng.uniform(0.3, 0.5), sr)
    ping = np.sin(2 * np.pi * rng.uniform(1500, 3500, (3, 1)) * t).sum(0)  # the bell of the cymbal
    wash = butterworth(rng.standard_normal(t.size), sr, "highpass", 4000)
    return (0.2 * wash + 0.2 * ping) * env


def _shaker(sr: int, rng: Rng) -> np.ndarray:
    t, env = _ring(rng.uniform(0.03, 0.05), sr)
    noise = butterworth(rng.standard_normal(t.size), sr, "bandpass", (3000.0, 7000.0))
    return noise * np.minimum(t / 0.01, 1.0) * env


def _conga(sr: int, rng: Rng) -> np.ndarray:
    t, env = _ring(rng.uniform(0.08, 0.15), sr)
    f = rng.uniform(180, 320) * (1.0 + 0.1 * np.exp(-t / 0.02))
    slap = butterworth(rng.standard_normal(t.size), sr, "bandpass", (1000.0, 4000.0))
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
