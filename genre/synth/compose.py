"""Composition: the notes of every part (chords, bass, lead) on a swung grid, and the
texture under them."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from genre.synth.dsp import Rng, butterworth
from genre.synth.instruments import INSTRUMENTS
from genre.synth.recipes import BASS, CHORD, DRUMS, LEAD, MODES, POWER, VELOCITY, Plan

Note = tuple[float, float, tuple[int, ...], float]
"""Onset (s), gate length (s), MIDI pitches sounding together, velocity."""


def onsets(plan: Plan, bars: int, steps: int) -> np.ndarray:
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
    times = onsets(plan, bars, len(pattern))
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


def comp(plan: Plan, bars: int, rng: Rng) -> list[Note]:
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
        times = onsets(plan, bars, 8)
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


def bassline(plan: Plan, bars: int, rng: Rng) -> list[Note]:
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
        times = onsets(plan, bars, 4)
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


def melody(plan: Plan, bars: int, rng: Rng) -> list[Note]:
    """A random walk through the scale in phrases, at ``density`` notes per beat on average."""
    if plan.lead == "none":
        return []
    steps = 16 if plan.density > 2 else 8
    chance = plan.density * 4 / steps
    times = onsets(plan, bars, steps)
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


def texture(plan: Plan, total: int, sr: int, rng: Rng) -> np.ndarray:
    t = np.arange(total) / sr
    if plan.texture == "wash":
        # Wind or surf: dark noise swelling slowly.
        swell = 0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.05, 0.2) * t + rng.uniform(0, 6.3))
        return (
            butterworth(rng.standard_normal(total), sr, "lowpass", rng.uniform(600, 2000)) * swell
        )
    if plan.texture == "vinyl":
        # Record crackle (sparse clicks of random size) over hiss.
        clicks = np.zeros(total)
        where = rng.integers(0, total, int(rng.uniform(5, 20) * total / sr))
        clicks[where] = rng.exponential(1.0, where.size) * rng.choice((-1.0, 1.0), where.size)
        return butterworth(clicks, sr, "highpass", 1500) + 0.05 * rng.standard_normal(total)
    if plan.texture == "drone":
        low = _degree(plan, plan.progression[0], BASS + 12)
        return INSTRUMENTS["pad"](np.array([low, low + 7]), total / sr, total, sr, rng)
    return np.zeros(total)
