"""Signal helpers shared by the instruments, drums, composition and mix: time axes, pitch,
filters, envelopes, oscillator phases, an anti-aliased sawtooth and a plucked string."""

from __future__ import annotations

import numpy as np
from scipy import signal

Rng = np.random.Generator


def time(seconds: float, sr: int, limit: int | None = None) -> np.ndarray:
    n = int(seconds * sr)
    return np.arange(n if limit is None else min(n, limit)) / sr


def hz(midi: np.ndarray | float) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=float) - 69.0) / 12.0)


def butterworth(
    x: np.ndarray, sr: int, kind: str, cutoff: float | tuple[float, float], order: int = 2
) -> np.ndarray:
    # Clamped below Nyquist so that a recipe's cutoff is valid at any sample rate.
    edges = np.clip(cutoff, 20.0, 0.45 * sr)
    return signal.sosfilt(signal.butter(order, edges, kind, fs=sr, output="sos"), x)


def adsr(
    t: np.ndarray, gate: float, attack: float, decay: float, sustain: float, release: float
) -> np.ndarray:
    # A note shorter than attack + decay still completes them, as a struck or blown note does.
    hold = max(gate, attack + decay)
    return np.interp(
        t, [0.0, attack, attack + decay, hold, hold + release], [0.0, 1.0, sustain, sustain, 0.0]
    )


def phases(
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
    f = (hz(pitches)[:, None] * 2.0 ** (np.asarray(detune) / 1200.0)).reshape(-1, 1)
    rate = 5.5
    depth = vibrato * np.log(2.0) / 12.0
    wobble = t - depth * np.cos(2 * np.pi * rate * t) / (2 * np.pi * rate) if vibrato else t
    return f * wobble + rng.random((f.size, 1)), f / sr


def saw(phase: np.ndarray, inc: np.ndarray) -> np.ndarray:
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


def karplus(
    pitch: int, t: np.ndarray, sr: int, rng: Rng, decay: float, softness: int
) -> np.ndarray:
    """Karplus-Strong string: a noise burst circulating in a delay line whose loop averages
    neighbouring samples, so high partials die first. Computed one period per row in the
    frequency domain (the loop filter raised to the period's index) instead of sample by sample,
    and with the loop's fractional delay in its phase so that every note is in tune."""
    length = sr / float(hz(pitch))
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
