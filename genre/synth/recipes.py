"""The genre recipes: each genre's musical vocabulary (:class:`Recipe`), the scales, registers
and drum patterns they draw from, and the concrete :class:`Plan` every clip draws from its
recipe, more or less borrowed from other genres as difficulty grows."""

from __future__ import annotations

from dataclasses import dataclass, fields

from genre import GENRES
from genre.synth.dsp import Rng

BORROW = 0.4
"""At difficulty 1, the chance that each element of a clip's recipe comes from another genre."""
WIDEN = 0.6
"""At difficulty 1, the share of the way each range grows towards the extremes of all genres."""

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


def draw_plan(genre: str, rng: Rng, difficulty: float) -> Plan:
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


# --- tags: what a listener would say of a clip ------------------------------------------------

INSTRUMENT_TAGS = {
    "guitar": "guitar",
    "piano": "keys",
    "epiano": "keys",
    "organ": "keys",
    "saw": "synth",
    "square": "synth",
    "sine": "sub bass",
    "pad": "pad",
    "strings": "strings",
    "flute": "winds",
    "reed": "winds",
    "bell": "bells",
    "pluck": "plucked",
    "sitar": "plucked",
}
"""Each instrument's tag. Close instruments share one (organ with the pianos, sitar with the
plucked strings), so that every tag is common enough to appear in every split of a small
dataset (14% of the clips or more at the defaults)."""
FAST, SLOW = 120.0, 90.0
"""Tempi (BPM) from which a clip is tagged fast, below which slow."""
DISTORTED_GUITAR, DISTORTED_MIX = 3.0, 8.0
"""Drive from which a guitar part is audibly clipped, and from which the bus saturation
(``genre.synth.mix.render``) distorts the whole mix."""
REVERB = 0.35
"""Wet share from which a clip is tagged reverb."""
BRIGHT = 6000.0
"""Master low-pass cutoff (Hz) from which a clip is tagged bright."""
SWING = 0.08
"""Swing (beats the off-beat eighth is late) from which a clip is tagged swing."""


def clip_tags(plan: Plan) -> list[str]:
    """The tags of a clip, from the choices its plan already made (the audio is not looked at):
    drums, distorted, reverb, fast or slow, bright, swing, and its instruments' tags."""
    instruments = {plan.bass[1], plan.chords[1], plan.lead} - {"", "none"}
    if plan.texture == "drone":
        instruments.add("pad")  # the drone texture is played on the pad
    tags = {INSTRUMENT_TAGS[name] for name in instruments}
    drive = plan.drive >= DISTORTED_MIX or (
        "guitar" in instruments and plan.drive >= DISTORTED_GUITAR
    )
    flags = {
        "drums": plan.drums != "none",
        "distorted": drive,
        "reverb": plan.reverb >= REVERB,
        "fast": plan.tempo >= FAST,
        "slow": plan.tempo < SLOW,
        "bright": plan.cutoff >= BRIGHT,
        "swing": plan.swing >= SWING,
    }
    return sorted(tags | {tag for tag, on in flags.items() if on})
