"""GTZAN, as downloaded: ``genres_original/<genre>/<genre>.000NN.wav`` (the Kaggle copy) or
``genres/<genre>/<genre>.000NN.au`` (the original tarball), or a root holding the genre folders.

GTZAN repeats artists (and even recordings) within genres, so a random split measures memory of
artists, not genre recognition. The default split is therefore the artist-filtered one of
Kereliuk, Sturm & Larsen (2015), shipped with the package; ``data.split_dir`` points at other lists
of the same shape, and ``data.split_dir: random`` asks for a stratified random split anyway.
``data.stem_split: [a, b]`` splits by stem number instead (stems up to ``a`` train, up to ``b``
validation, the rest test): consecutive GTZAN stems often share an artist, so contiguous ranges
keep most artists on one side, for copies such as excerpts that the lists only partly cover."""

from __future__ import annotations

import warnings
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from genre.data.audio import AUDIO_EXTENSIONS
from genre.data.files import os_reason
from genre.data.sources import (
    Manifest,
    adapter,
    check_files,
    existing_root,
    no_tags,
    rejections,
)
from genre.data.tables import read_text
from genre.errors import GenreError

if TYPE_CHECKING:
    from genre.config import GtzanDataConfig

GENRES = (
    "blues",
    "classical",
    "country",
    "disco",
    "hiphop",
    "jazz",
    "metal",
    "pop",
    "reggae",
    "rock",
)
# Where the genre folders sit below data.root, in the copies people download.
LAYOUTS = ("genres_original", "genres", "Data/genres_original", ".")
SPLIT_FILES = {
    "train": "train_filtered.txt",
    "val": "valid_filtered.txt",
    "test": "test_filtered.txt",
}
RANDOM_SPLIT = "random"
NOT_IN_SPLIT = "not in the artist-filtered split"


@adapter("gtzan")
def gtzan(data: GtzanDataConfig, tagging: bool = False) -> Manifest:
    """Manifest of a GTZAN root; see the module docstring. GTZAN has genres, no tags."""
    if tagging:
        raise no_tags("gtzan")
    base = _genre_folders(existing_root(data.root))
    found, unreadable = _list_audio(base)
    split_dir, stem_split = data.split_dir, data.stem_split
    if stem_split is not None:
        clips, unsplit = _split_by_stem(found, stem_split), rejections([], [])
    elif split_dir == RANDOM_SPLIT:
        warnings.warn(
            "data.split_dir=random: a random GTZAN split puts songs of one artist in train and "
            "test, so its scores are inflated; leave data.split_dir null for the artist-filtered "
            "split.",
            stacklevel=2,
        )
        clips, unsplit = found, rejections([], [])
    else:
        clips, unsplit = _apply_split(found, _read_split(split_dir), base)
    kept, bad_files = check_files(clips)
    return Manifest(kept, pd.concat([unreadable, unsplit, bad_files], ignore_index=True))


def _genre_folders(root: Path) -> Path:
    for layout in LAYOUTS:
        base = root / layout
        if any((base / genre).is_dir() for genre in GENRES):
            return base
    raise GenreError(
        f"No GTZAN genre folders (blues, classical, ...) under {root}; point data.root at the "
        "folder holding genres_original/ (Kaggle copy) or genres/ (original)."
    )


def _list_audio(base: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every audio file in the ten genre folders, keyed ``genre/stem`` so that list entries match
    whatever the extension (``.wav`` in the Kaggle copy, ``.au`` in the original); and the genre
    folders that cannot be listed, as rejected rows."""
    rows, unreadable, reasons = [], [], []
    for genre in GENRES:
        folder = base / genre
        if not folder.is_dir():
            continue
        try:
            files = sorted(folder.iterdir())
        except OSError as exc:
            unreadable.append(str(folder))
            reasons.append(f"unreadable folder ({os_reason(exc, folder)})")
            continue
        rows += [
            {"key": f"{genre}/{file.stem}", "clip_id": file.stem, "path": str(file), "genre": genre}
            for file in files
            # Dot files are macOS resource forks (._blues.00000.au) that some copies carry.
            if file.suffix.lower() in AUDIO_EXTENSIONS and not file.name.startswith(".")
        ]
    found = pd.DataFrame(rows, columns=["key", "clip_id", "path", "genre"])
    twins = found.loc[found["key"].duplicated(), "key"]
    if len(twins):
        raise GenreError(
            f"GTZAN clip {twins.iloc[0]} is there in two formats under {base}; keep one of them."
        )
    return found, rejections(unreadable, reasons)


def _split_by_stem(found: pd.DataFrame, bounds: object) -> pd.DataFrame:
    """Train up to stem ``bounds[0]``, validation up to ``bounds[1]``, test after it."""
    try:
        if isinstance(bounds, str):
            raise TypeError(bounds)
        last_train, last_val = (int(b) for b in bounds)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        last_train = last_val = -1
    if not 0 <= last_train < last_val:
        raise GenreError(
            f"data.stem_split={bounds} must be two stem numbers [last train, last val] with "
            "0 <= last train < last val, e.g. data.stem_split=[35,42]."
        )
    stems = found["clip_id"].str.rsplit(".", n=1).str[-1]
    numbers = pd.to_numeric(stems, errors="coerce")
    if numbers.isna().any():
        odd = found.loc[numbers.isna(), "path"].iloc[0]
        raise GenreError(f"{odd} has no GTZAN stem number (genre.000NN): drop data.stem_split.")
    split = pd.cut(numbers, [-1, last_train, last_val, float("inf")], labels=list(SPLIT_FILES))
    return found.drop(columns="key").assign(split=split.astype("string").to_numpy())


def _read_split(split_dir: str | None) -> pd.Series:
    """``genre/stem`` -> split, from the three ``*_filtered.txt`` lists."""
    folder = _split_folder(split_dir)
    keys = {split: _list_keys(folder / name) for split, name in SPLIT_FILES.items()}
    split = pd.concat([pd.Series(name, index=k, dtype="string") for name, k in keys.items()])
    twice = split.index[split.index.duplicated()]
    if len(twice):
        raise GenreError(f"GTZAN clip {twice[0]} is in two of the split lists in {folder}.")
    return split


def _split_folder(split_dir: str | None) -> Traversable:
    if split_dir is None:
        return resources.files("genre") / "resources" / "gtzan_split"
    folder = Path(str(split_dir)).expanduser()
    missing = [name for name in SPLIT_FILES.values() if not (folder / name).is_file()]
    if missing:
        raise GenreError(
            f"data.split_dir {folder} lacks {', '.join(missing)}; point it at the folder holding "
            f"{', '.join(SPLIT_FILES.values())}, or leave it null for the shipped lists."
        )
    return folder


def _list_keys(listing: Traversable) -> list[str]:
    """Lines such as ``blues/blues.00012.wav`` as ``blues/blues.00012``."""
    text = read_text(listing, "GTZAN split list", "point data.split_dir at a folder of split lists")
    lines = [line.strip() for line in text.splitlines()]
    return ["/".join(Path(line).with_suffix("").parts[-2:]) for line in lines if line]


def _apply_split(
    found: pd.DataFrame, split: pd.Series, base: Path
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Clips with their split; rejected: files outside the lists, listed clips not on disk."""
    in_lists = found["key"].isin(split.index)
    clips = found[in_lists].assign(split=lambda f: f["key"].map(split).to_numpy())
    unlisted = found[~in_lists]
    absent = split.index[~split.index.isin(found["key"])]
    rejected = pd.concat(
        [
            rejections(unlisted["path"], [NOT_IN_SPLIT] * len(unlisted)),
            # Named as the lists name them (.wav); the copy's own extension is unknowable here.
            rejections(
                [str(base / f"{key}.wav") for key in absent], ["missing file"] * len(absent)
            ),
        ],
        ignore_index=True,
    )
    return clips.drop(columns="key"), rejected
