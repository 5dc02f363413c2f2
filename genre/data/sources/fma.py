"""Free Music Archive, as downloaded: ``fma_metadata/tracks.csv`` (two-row header) beside the audio
folder of one subset, ``fma_<subset>/<first 3 digits>/<6-digit track id>.mp3``.

Labels are ``track.genre_top``; for ``task=tagging``, every genre of ``track.genres_all`` (ids,
named through ``fma_metadata/genres.csv``) that has at least ``data.min_tag_tracks`` tracks in the
training split. The split is the dataset's own ``set.split`` (artist-filtered by its authors), and
``group`` is the artist id so that stratified re-splits stay artist-filtered."""

from __future__ import annotations

from collections import Counter
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
from genre.data.tables import read_rows, read_table
from genre.errors import GenreError

if TYPE_CHECKING:
    from genre.config import FmaDataConfig

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
GENRES_ALL = ("track", "genres_all")  # e.g. "[21, 38]": every genre of the track, ancestors too


@adapter("fma")
def fma(data: FmaDataConfig, tagging: bool = False) -> Manifest:
    """Manifest of an FMA root for ``data.subset``; see the module docstring."""
    root = existing_root(data.root)
    subset = str(data.subset)
    levels = _subset_levels(subset)
    audio = root / f"fma_{subset}"
    if not audio.is_dir():
        raise GenreError(
            f"{audio} does not exist; unzip fma_{subset}.zip into data.root, or set data.subset "
            "to the subset you downloaded."
        )
    columns = {**COLUMNS, GENRES_ALL: "genres_all"} if tagging else COLUMNS
    tracks = _read_tracks(root / "fma_metadata" / "tracks.csv", columns)
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
    if tagging:
        names = _genre_names(root / "fma_metadata" / "genres.csv")
        clips["tags"] = _genre_tags(tracks["genres_all"], names, clips["split"], data)
        unlabelled = clips["tags"] == ""
        reason = f"no genre with {data.min_tag_tracks} training tracks"
    else:
        unlabelled, reason = clips["genre"].isna(), "no top genre"
    kept, bad_files = check_files(clips[~unlabelled])
    left_out = rejections(clips.loc[unlabelled, "path"], [reason] * int(unlabelled.sum()))
    return Manifest(kept, pd.concat([left_out, bad_files], ignore_index=True))


def _genre_names(path: Path) -> dict[str, str]:
    """Genre id -> title, from FMA's ``genres.csv``."""
    hint = "unzip fma_metadata.zip into data.root so that fma_metadata/genres.csv is there"
    table = read_table(path, "FMA's genre list", hint, sep=",")
    if not {"genre_id", "title"} <= set(table.columns):
        raise GenreError(
            f"{path} has no genre_id and title columns; use the original genres.csv from "
            "fma_metadata.zip."
        )
    return dict(zip(table["genre_id"].str.strip(), table["title"].str.strip(), strict=True))


def _genre_tags(
    genres_all: pd.Series, names: dict[str, str], split: pd.Series, data: FmaDataConfig
) -> list[str]:
    """Each track's genres (``;``-joined titles) among those with at least
    ``data.min_tag_tracks`` tracks in the training split."""
    titles = [
        sorted({names.get(i.strip(), i.strip()) for i in str(ids).strip("[] ").split(",")} - {""})
        for ids in genres_all.fillna("")
    ]
    in_training = split.eq("train").fillna(False).to_numpy()
    counts = Counter(
        title for track, train in zip(titles, in_training, strict=True) if train for title in track
    )
    minimum = data.min_tag_tracks
    kept = {title for title, n in counts.items() if n >= minimum}
    return [TAG_SEPARATOR.join(title for title in track if title in kept) for track in titles]


def _subset_levels(subset: str) -> tuple[str, ...]:
    """The ``set.subset`` values whose tracks belong to ``subset``."""
    if subset == FULL:
        return SUBSETS
    if subset not in SUBSETS:
        raise GenreError(
            f"data.subset {subset!r} is not an FMA subset; use small, medium, large or full."
        )
    return SUBSETS[: SUBSETS.index(subset) + 1]


def _read_tracks(path: Path, columns: dict[tuple[str, str], str]) -> pd.DataFrame:
    """The ``columns`` (section, field) renamed as their values, indexed by track id (as str),
    with NA for an empty field. The file has two header rows (section, field), then a row naming
    the index."""
    hint = "unzip fma_metadata.zip into data.root so that fma_metadata/tracks.csv is there"
    rows, _ = read_rows(path, "FMA's track list", hint, sep=",")
    header = list(zip(*rows[:2], strict=True)) if len(rows) > 1 else []
    missing = [".".join(column) for column in columns if column not in header]
    if missing:
        raise GenreError(
            f"{path} has no column {', '.join(missing)}; use the original tracks.csv from "
            "fma_metadata.zip."
        )
    body = rows[2:]
    if body and not any(body[0][1:]):
        body = body[1:]  # the index's name, track_id
    positions = [header.index(column) for column in columns]
    table = pd.DataFrame(
        [[row[i] for i in positions] for row in body],
        index=[row[0] for row in body],
        columns=list(columns.values()),
        dtype=str,
    )
    return table.replace("", pd.NA)
