"""Writing the dataset: every clip as a wav or mp3 file in the folder-per-genre layout, in
parallel, with the parameters file that lets a complete dataset be recognised and reused, and the
clips' tags as a csv in the layout of ``data=csv``."""

from __future__ import annotations

import csv
import json
import os
import shutil
import uuid
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from genre import GENRES
from genre.errors import GenreError
from genre.synth.mix import Settings, clip_plan, render
from genre.synth.recipes import clip_tags

FORMAT_VERSION = 1
"""Bump whenever the audio or the tags for the same parameters change, so that old datasets are
refused."""
PARAMS_FILE = "synth.json"
TAGS_FILE = "tags.csv"
"""``clip_id,path,genre,tags``: each clip's tags (``;``-separated), paths relative to the root."""
MP3_RATES = frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000})


def _slug(genre: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in genre.lower())


def _is_mp3(index: int, share: float) -> bool:
    # Spread evenly (every 4th clip at 0.25) and identically in every genre, so that the file
    # format carries no hint of the genre.
    return int((index + 1) * share + 0.5) > int(index * share + 0.5)


def _name(genre: str, index: int, settings: Settings) -> str:
    """A clip's file, relative to the root."""
    suffix = ".mp3" if _is_mp3(index, settings.mp3_share) else ".wav"
    return f"{genre}/{_slug(genre)}_{index:04d}{suffix}"


def _write(folder: Path, genre: str, index: int, settings: Settings) -> None:
    audio = render(genre, index, settings)
    path = folder / _name(genre, index, settings)
    if path.suffix == ".mp3":
        sf.write(path, audio.astype(np.float32), settings.sample_rate, format="MP3")
    else:
        sf.write(path, audio, settings.sample_rate, subtype="PCM_16")


def _write_tags(folder: Path, settings: Settings) -> None:
    """:data:`TAGS_FILE`, from each clip's plan (no audio is rendered); written beside and
    renamed, so that it is whole or absent."""
    rows = []
    for genre in GENRES:
        for index in range(settings.clips_per_genre):
            name = _name(genre, index, settings)
            tags = ";".join(clip_tags(clip_plan(genre, index, settings)))
            rows.append([name, name, genre, tags])
    partial = folder / f".{TAGS_FILE}.{uuid.uuid4().hex[:12]}.partial"
    with partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["clip_id", "path", "genre", "tags"])
        writer.writerows(rows)
    partial.replace(folder / TAGS_FILE)


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
    between -12 and -1 dBFS, plus ``synth.json`` with the parameters and ``tags.csv`` with the
    clips' tags (:func:`genre.synth.recipes.clip_tags`). The audio depends only on
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
        if not (root / TAGS_FILE).exists():
            _write_tags(root, settings)  # a dataset made before there were tags: same audio
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    # Built beside root and renamed into place, so that an interrupted build never looks whole.
    partial = root.parent / f".{root.name}.{uuid.uuid4().hex[:12]}.partial"
    try:
        for genre in GENRES:
            (partial / genre).mkdir(parents=True)
        _write_all(partial, settings, workers or os.cpu_count() or 1)
        _write_tags(partial, settings)
        (partial / PARAMS_FILE).write_text(json.dumps(params, indent=2) + "\n")
        try:
            partial.rename(root)
        except OSError:
            _require_same(root, params)  # another process finished the same dataset first
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return root
