"""Free Music Archive, as downloaded: ``fma_metadata/tracks.csv`` (two-row header) beside the audio
folder of one subset, ``fma_<subset>/<first 3 digits>/<6-digit track id>.mp3``.

Labels are ``track.genre_top``, the split is the dataset's own ``set.split`` (artist-filtered by
its authors), and ``group`` is the artist id so that stratified re-splits stay artist-filtered."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from genre.data.sources import Manifest, adapter, check_files, existing_root, rejections
from genre.data.tables import read_rows
from genre.errors import GenreError

# Nested: each subset holds the tracks of the ones before it. fma_full has every track, untrimmed.
SUBSETS = ("small", "medium", "large")
FULL = "full"
SPLIT_NAMES = {"training": "train", "validation": "val", "test": "test"}
COLUMNS = {
    ("track", "genre_top"): "genre",
    ("set", "split"): "split",
    ("set", "subset"): "subset",
    ("artist", "id"): "group",
}


@adapter("fma")
def fma(data: DictConfig) -> Manifest:
    """Manifest of an FMA root for ``data.subset``; see the module docstring."""
    root = existing_root(data.get("root"))
    subset = str(data.get("subset") or "small")
    levels = _subset_levels(subset)
    audio = root / f"fma_{subset}"
    if not audio.is_dir():
        raise GenreError(
            f"{audio} does not exist; unzip fma_{subset}.zip into data.root, or set data.subset "
            "to the subset you downloaded."
        )
    tracks = _read_tracks(root / "fma_metadata" / "tracks.csv")
    tracks = tracks[tracks["subset"].isin(levels)]
    track_id = tracks.index.str.strip().str.zfill(6)
    clips = pd.DataFrame(
        {
            "clip_id": track_id,
            "path": [str(audio / t[:3] / f"{t}.mp3") for t in track_id],
            "genre": tracks["genre"].to_numpy(),
            "split": tracks["split"].map(SPLIT_NAMES).to_numpy(),
            "group": tracks["group"].to_numpy(),
        }
    )
    no_genre = clips["genre"].isna()
    kept, bad_files = check_files(clips[~no_genre])
    unlabelled = rejections(clips.loc[no_genre, "path"], ["no top genre"] * int(no_genre.sum()))
    return Manifest(kept, pd.concat([unlabelled, bad_files], ignore_index=True))


def _subset_levels(subset: str) -> tuple[str, ...]:
    """The ``set.subset`` values whose tracks belong to ``subset``."""
    if subset == FULL:
        return SUBSETS
    if subset not in SUBSETS:
        raise GenreError(
            f"data.subset {subset!r} is not an FMA subset; use small, medium, large or full."
        )
    return SUBSETS[: SUBSETS.index(subset) + 1]


def _read_tracks(path: Path) -> pd.DataFrame:
    """The columns of :data:`COLUMNS`, renamed, indexed by track id (as str), with NA for an
    empty field. The file has two header rows (section, field), then a row naming the index."""
    hint = "unzip fma_metadata.zip into data.root so that fma_metadata/tracks.csv is there"
    rows, _ = read_rows(path, "FMA's track list", hint, sep=",")
    header = list(zip(*rows[:2], strict=True)) if len(rows) > 1 else []
    missing = [".".join(column) for column in COLUMNS if column not in header]
    if missing:
        raise GenreError(
            f"{path} has no column {', '.join(missing)}; use the original tracks.csv from "
            "fma_metadata.zip."
        )
    body = rows[2:]
    if body and not any(body[0][1:]):
        body = body[1:]  # the index's name, track_id
    positions = [header.index(column) for column in COLUMNS]
    table = pd.DataFrame(
        [[row[i] for i in positions] for row in body],
        index=[row[0] for row in body],
        columns=list(COLUMNS.values()),
        dtype=str,
    )
    return table.replace("", pd.NA)
