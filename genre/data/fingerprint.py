"""Near-duplicates: copies of one recording whose decoded samples are not bit-identical, so that
the exact hash of the cache misses them. A WAV and a FLAC of one master differ by a
least-significant bit where the encoders rounded; an MP3 of a WAV is a lossy re-encode, shifted
by the encoder's delay; a copy at another sample rate is resampled to the cache's rate, with a
different high band. Left in the dataset, such a pair may land in train and test.

Each clip gets a coarse, quantised spectrogram hash (after Haitsma and Kalker's audio
fingerprint): the clip in :data:`FRAMES` long frames, the energy of :data:`BANDS` log-spaced bands
in each, and one bit per band pair and frame step, saying whether the energy difference between
adjacent bands rose or fell. Encoding noise, a lost high band or a shift by a few milliseconds
flip few of these bits. Clips that share a whole frame step's bits with an earlier one are
candidates; a candidate is confirmed as a near-duplicate only when the two stored waveforms
correlate (:data:`MIN_CORRELATION`, at the best lag within :data:`MAX_LAG_SECONDS`), so that
two songs on the same beat with the same chords are never taken for one recording.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

FRAMES = 33  # frames per clip: 32 steps between them, each one row of bits
BANDS = 16  # log-spaced bands, so 15 adjacent pairs: 15 bits per row
F_LOW, F_HIGH = 100.0, 4000.0  # Hz: where music has energy at every sample rate genre allows
QUIET = 1e-8  # mean power below which a frame is silence or padding: its rows are not keys
# Rows that this many earlier clips share are a common pattern (a drum loop, padding noise), not
# evidence of a copy: they are not used to find candidates.
MAX_BUCKET = 64
# Rows a candidate shares with the clip, of 32: songs of one style on one tempo share a few (the
# same drum pattern), a copy shares most (an MP3 re-encode 21, a lossless copy all 32).
MIN_SHARED = 8
MAX_CANDIDATES = 4  # the candidates sharing the most rows, confirmed by correlation
MIN_CORRELATION = 0.85  # an MP3 re-encode correlates above 0.95, another recording below 0.5
MAX_LAG_SECONDS = 0.1  # encoder delay (MP3 adds up to ~50 ms) and a shifted middle cut
NO_KEY = -1


def fingerprint(samples: np.ndarray, rate: int) -> np.ndarray:
    """``int32 [FRAMES - 1]``: each frame step's 15 bits, or :data:`NO_KEY` where either frame
    is quiet (padding, silence)."""
    x = np.asarray(samples, dtype=np.float32)
    size = len(x) // FRAMES
    frames = x[: size * FRAMES].reshape(FRAMES, size)
    # Zero-padded to a power of two: a frame length with a large prime factor makes the FFT slow.
    padded = 1 << max(0, size - 1).bit_length()
    window = np.hanning(size).astype(np.float32)
    power = np.abs(np.fft.rfft(frames * window, n=padded, axis=1)) ** 2
    band = np.digitize(np.fft.rfftfreq(padded, 1 / rate), np.geomspace(F_LOW, F_HIGH, BANDS + 1))
    energy = np.stack([power[:, band == b].sum(axis=1) for b in range(1, BANDS + 1)], axis=1)
    slope = np.diff(np.log(energy + 1e-12), axis=1)  # [FRAMES, BANDS - 1]
    bits = (slope[1:] - slope[:-1]) > 0
    rows = bits.astype(np.int32) @ (1 << np.arange(BANDS - 1, dtype=np.int32))
    loud = (frames.astype(np.float64) ** 2).mean(axis=1) > QUIET
    return np.where(loud[1:] & loud[:-1], rows, NO_KEY).astype(np.int32)


def correlation(a: np.ndarray, b: np.ndarray, max_lag: int) -> float:
    """The largest normalised cross-correlation of ``a`` and ``b`` (equal lengths) over lags
    within ``max_lag`` samples, by FFT."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    norm = np.sqrt((a @ a) * (b @ b))
    if norm == 0:
        return 0.0
    size = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    full = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)
    lags = np.concatenate([full[: max_lag + 1], full[size - max_lag :]])
    return float(lags.max() / norm)


def near_duplicates(
    prints: Sequence[np.ndarray | None],
    order: Sequence[int],
    samples: Callable[[int], np.ndarray],
    rate: int,
) -> dict[int, int]:
    """``{row: kept row}`` for each clip that is a near-duplicate of one kept before it, in
    ``order`` (rows whose print is None, already left out, are skipped); ``samples(row)`` gives a
    clip's stored waveform, read only to confirm a candidate."""
    buckets: dict[tuple[int, int], list[int]] = {}
    found: dict[int, int] = {}
    max_lag = int(MAX_LAG_SECONDS * rate)
    for row in order:
        keys = prints[row]
        if keys is None:
            continue
        shared: dict[int, int] = {}
        for step, key in enumerate(keys):
            if key != NO_KEY:
                for other in buckets.get((step, int(key)), ())[:MAX_BUCKET]:
                    shared[other] = shared.get(other, 0) + 1
        candidates = [o for o in shared if shared[o] >= MIN_SHARED]
        candidates.sort(key=lambda o: (-shared[o], o))
        for other in candidates[:MAX_CANDIDATES]:
            if correlation(samples(row), samples(other), max_lag) >= MIN_CORRELATION:
                found[row] = other
                break
        else:
            for step, key in enumerate(keys):
                if key != NO_KEY:
                    buckets.setdefault((step, int(key)), []).append(row)
    return found
