"""MTG-Jamendo's autotagging_genre subset, as downloaded: ``autotagging_genre.tsv`` and the
official splits ``splits/split-<k>/autotagging_genre-{train,validation,test}.tsv`` beside the audio
folders ``00`` … ``99`` (``NN/<id>.low.mp3`` for the low-quality audio genre.download fetches,
``NN/<id>.mp3`` for the full one: ``data.audio``).

Each row is ``TRACK_ID ARTIST_ID ALBUM_ID PATH DURATION`` then one TAB-separated field per tag,
``genre---<name>``. For ``task=tagging`` the tags are every genre of the track (multi-label, as the
benchmark is). For ``task=genre``, the documented single-label reading: the tracks with exactly one
genre tag, the others left out with their reason. The split is ``data.split`` of the five official
ones; ``group`` is the artist. Tracks whose audio archive was not downloaded are listed as missing
files."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from genre.data.sources import (
    TAG_SEPARATOR,
    Manifest,
    adapter,
    check_files,
    existing_root,
    rejections,
)
from genre.data.tables import read_text
from genre.errors import GenreError

if TYPE_CHECKING:
    from genre.config import MtgJamendoDataConfig

METADATA = "autotagging_genre.tsv"
HEADER = ["TRACK_ID", "ARTIST_ID", "ALBUM_ID", "PATH", "DURATION"]
GENRE_PREFIX = "genre---"
SPLIT_FILES = {"train": "train", "validation": "val", "test": "test"}
AUDIO_SUFFIX = {"low": ".low.mp3", "full": ".mp3"}


@adapter("mtg_jamendo")
def mtg_jamendo(data: MtgJamendoDataConfig, tagging: bool = False) -> Manifest:
    """Manifest of an MTG-Jamendo root; see the module docstring."""
    root = existing_root(data.root)
    tracks = read_tracks(root / METADATA)
    split_number = data.split
    split = pd.concat(
        [
            pd.Series(name, index=read_tracks(_split_file(root, split_number, file))["clip_id"])
            for file, name in SPLIT_FILES.items()
        ]
    )
    split = split[~split.index.duplicated()]
    suffix = AUDIO_SUFFIX[data.audio]
    clips = pd.DataFrame(
        {
            "clip_id": tracks["clip_id"],
            "path": [str(root / p.removesuffix(".mp3")) + suffix for p in tracks["path"]],
            "split": tracks["clip_id"].map(split),
            "group": tracks["artist"],
        }
    )
    genres = tracks["genres"]
    reason = pd.Series(pd.NA, index=tracks.index, dtype="string")
    if tagging:
        clips["tags"] = genres.map(TAG_SEPARATOR.join)
        reason[genres.map(len) == 0] = "no genre tag"
    else:
        clips["genre"] = genres.map(lambda g: g[0] if len(g) == 1 else pd.NA)
        reason[genres.map(len) == 0] = "no genre tag"
        several = genres.map(len) > 1
        reason[several] = "several genre tags: " + genres[several].map(", ".join)
    reason[clips["split"].isna() & reason.isna()] = f"not in split-{split_number}"
    unusable = reason.notna()
    kept, bad_files = check_files(clips[~unusable])
    left_out = rejections(clips.loc[unusable, "path"], reason[unusable])
    return Manifest(kept, pd.concat([left_out, bad_files], ignore_index=True))


def read_tracks(path: Path) -> pd.DataFrame:
    """``clip_id``, ``artist``, ``path`` and ``genres`` (a list) of an autotagging tsv, whose rows
    have as many fields as the track has tags."""
    hint = "run python -m genre.download mtg_jamendo, or fetch it from the dataset's repository"
    text = read_text(path, "MTG-Jamendo's track list", hint)
    rows = [row for row in csv.reader(io.StringIO(text), delimiter="\t") if row]
    if not rows or rows[0][: len(HEADER)] != HEADER:
        raise GenreError(
            f"{path} does not start with the header {' '.join(HEADER)} TAGS; use the original "
            "file of the MTG-Jamendo repository."
        )
    short = next((i for i, row in enumerate(rows) if len(row) < len(HEADER)), None)
    if short is not None:
        raise GenreError(f"Line {short + 1} of {path} has fewer than {len(HEADER)} fields.")
    body = rows[1:]
    return pd.DataFrame(
        {
            "clip_id": [row[0] for row in body],
            "artist": [row[1] for row in body],
            "path": [row[3] for row in body],
            "genres": [
                sorted(
                    {t.removeprefix(GENRE_PREFIX) for t in row[5:] if t.startswith(GENRE_PREFIX)}
                )
                for row in body
            ],
        }
    )


def _split_file(root: Path, number: int, split: str) -> Path:
    return root / "splits" / f"split-{number}" / f"autotagging_genre-{split}.tsv"
