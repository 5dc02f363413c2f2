"""The built-in synthetic dataset: genre-like music for the ten genres of :data:`genre.GENRES`.

Each genre is a :class:`~genre.synth.recipes.Recipe`, a musical vocabulary (tempo range, drum
patterns, bass and chord styles, instruments, distortion, reverb, brightness). Every clip draws
its own concrete :class:`~genre.synth.recipes.Plan` from its recipe with a random generator seeded
from ``(seed, genre, index)``, renders it with numpy/scipy and is written as a real audio file in
the folder-per-genre layout, so the rest of the framework reads it exactly as it reads a user's
folder of music.

The modules, each importing only from those before it:

- :mod:`~genre.synth.dsp`: signal helpers (filters, envelopes, oscillators, plucked strings);
- :mod:`~genre.synth.recipes`: the genre recipes, their scales and drum patterns, and the plan
  each clip draws from its recipe;
- :mod:`~genre.synth.instruments`: the instruments and drum voices;
- :mod:`~genre.synth.compose`: the notes of every part (chords, bass, lead) and the texture;
- :mod:`~genre.synth.mix`: playing the parts and mixing them into a finished clip;
- :mod:`~genre.synth.files`: writing the clips and the parameters file, :func:`generate`.
"""

from genre.synth.files import generate

__all__ = ["generate"]
