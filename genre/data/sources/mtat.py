"""MagnaTagATune, as downloaded: mp3 folders ``0``…``f`` beside ``annotations_final.csv`` (188
binary tags) and ``clip_info_final.csv`` (artist, album), both TAB-separated despite the name.

MTAT has no genre column, so for ``task=genre`` genres come from a mapping file
(``data.genre_map``) or from chosen tag columns (``data.genre_tags``). For ``task=tagging`` the
labels are the ``data.top_tags`` most frequent tag columns of the file (the benchmark's top 50),
and clips with none of them are dropped unless ``data.keep_untagged``, as in Won et al. (2020).
The split is the customary one by folder; ``group`` is the album, so stratified re-splits never
put clips of one album on both sides."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
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
from genre.data.tables import read_table
from genre.errors import GenreError
from genre.pretrained.names import MTT_TAGS

if TYPE_CHECKING:
    from genre.config import MtatDataConfig

ANNOTATIONS = "annotations_final.csv"
CLIP_INFO = "clip_info_final.csv"
NOT_TAGS = ("clip_id", "mp3_path")  # the other columns of annotations_final.csv are tags
# The split used since Dieleman & Schrauwen (2014), in the code of Pons et al.'s musicnn-training
# (aux/mtt/partition_gt.py) and in the cleaned split of Won et al. (2020): folders 0-b train,
# c validation, d-f test.
FOLDER_SPLIT = {
    **dict.fromkeys("0123456789ab", "train"),
    "c": "val",
    **dict.fromkeys("def", "test"),
}
# Most specific first: a mapping file that has several of these columns is keyed by the first.
MAP_KEYS = ("mp3_path", "clip_id", "album", "artist")
# The published top-50 tags (Won et al. 2020's split/mtat/top50_tags.txt, the same set as the
# tags musicnn's MTT models predict, whose list is their one home here; named as
# annotations_final.csv names them). data.top_tags=50 computes the list from the file and warns
# where it differs, since scores over other tags do not compare with the published ones.
PUBLISHED_TOP50 = MTT_TAGS


@adapter("mtat")
def mtat(data: MtatDataConfig, tagging: bool = False) -> Manifest:
    """Manifest of a MagnaTagATune root; see the module docstring."""
    root = existing_root(data.root)
    tags = _read_tsv(root / ANNOTATIONS, list(NOT_TAGS))
    info = _read_tsv(root / CLIP_INFO, ["clip_id", "artist", "album"])
    table = tags.merge(info[["clip_id", "artist", "album"]], on="clip_id", how="left")
    clips = pd.DataFrame(
        {
            "clip_id": table["clip_id"],
            "path": [str(root / p) for p in table["mp3_path"]],
            "split": table["mp3_path"].str.split("/").str[0].map(FOLDER_SPLIT),
            "group": _album_group(table),
        }
    )
    if tagging:
        clips["tags"], reason = _top_tags(data, table)
    else:
        clips["genre"], reason = _genres(data, table)
    unlabelled = reason.notna()
    kept, bad_files = check_files(clips[~unlabelled])
    rejected = rejections(clips.loc[unlabelled, "path"], reason[unlabelled])
    return Manifest(kept, pd.concat([rejected, bad_files], ignore_index=True))


def _read_tsv(path: Path, required: list[str]) -> pd.DataFrame:
    hint = "download it from the MagnaTagATune page into data.root"
    # The csv reader unwraps the double quotes around every value and header.
    table = read_table(path, "MagnaTagATune's", hint, sep="\t")
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise GenreError(
            f"{path} has no column {', '.join(missing)}; use the original TAB-separated "
            f"{path.name}."
        )
    return table


def _album_group(table: pd.DataFrame) -> pd.Series:
    """Album qualified by artist (album titles repeat across artists), else the artist alone."""
    artist = table["artist"].fillna("").str.strip()
    album = table["album"].fillna("").str.strip()
    group = (artist + " / " + album).where(album != "", artist)
    return group.mask(group == "")


def _top_tags(data: MtatDataConfig, table: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Per clip: its tags among the file's ``data.top_tags`` most frequent ones (``;``-joined),
    and why it is left out (NA when kept): no such tag, unless ``data.keep_untagged``."""
    if data.genre_map is not None or data.genre_tags is not None:
        raise GenreError(
            "data.genre_map and data.genre_tags make genres for task=genre; task=tagging learns "
            "the data.top_tags most frequent tags: unset them."
        )
    n = data.top_tags
    hits = table.drop(columns=[*NOT_TAGS, "artist", "album"])
    hits = hits.apply(pd.to_numeric, errors="coerce").fillna(0).gt(0)
    # Ties at the cut go to the column that comes first in the file, on every machine alike.
    top = list(hits.sum().sort_values(ascending=False, kind="stable").index[:n])
    if n == len(PUBLISHED_TOP50) and set(top) != set(PUBLISHED_TOP50):
        extra = sorted(set(top) - set(PUBLISHED_TOP50))
        lacking = sorted(set(PUBLISHED_TOP50) - set(top))
        warnings.warn(
            f"The 50 most frequent tags of {ANNOTATIONS} are not the published top 50 of Won "
            f"et al. (2020): {', '.join(extra)} instead of {', '.join(lacking)}; scores will "
            "not compare with published ones.",
            stacklevel=3,
        )
    chosen = hits[top].to_numpy()
    names = pd.Index(top)
    tags = pd.Series(
        [TAG_SEPARATOR.join(names[row]) for row in chosen], index=table.index, dtype="string"
    )
    reason = pd.Series(pd.NA, index=table.index, dtype="string")
    if not data.keep_untagged:
        reason[tags == ""] = f"no top-{n} tag"
    return tags, reason


def _genres(data: MtatDataConfig, table: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Per clip: its genre (NA when it has none) and why it has none (NA when it has one)."""
    genre_map, genre_tags = data.genre_map, data.genre_tags
    if genre_map is None and genre_tags is None:
        raise GenreError(
            "MagnaTagATune has no genre labels; set data.genre_map (a csv mapping mp3_path, "
            "clip_id, album or artist to genre) or data.genre_tags (tag columns to use as genres)."
        )
    if genre_map is not None and genre_tags is not None:
        raise GenreError("Set only one of data.genre_map and data.genre_tags, not both.")
    if genre_map is not None:
        return _genres_from_map(table, Path(str(genre_map)).expanduser())
    return _genres_from_tags(table, _tag_genres(genre_tags))


def _genres_from_map(table: pd.DataFrame, path: Path) -> tuple[pd.Series, pd.Series]:
    key, mapping = _read_genre_map(path)
    genre = _normalise(table[key]).map(mapping)
    reason = pd.Series(pd.NA, index=table.index, dtype="string").mask(
        genre.isna(), "not in genre_map"
    )
    return genre, reason


def _read_genre_map(path: Path) -> tuple[str, pd.Series]:
    """The column the map is keyed by, and normalised key -> genre."""
    table = read_table(path, "data.genre_map", "point it at your genre csv")
    table.columns = table.columns.str.lower()
    key = next((k for k in MAP_KEYS if k in table.columns), None)
    if key is None or "genre" not in table.columns:
        raise GenreError(
            f"data.genre_map {path} needs a genre column and one of {', '.join(MAP_KEYS)}; "
            f"it has {', '.join(table.columns)}."
        )
    pairs = pd.DataFrame({"key": _normalise(table[key]), "genre": table["genre"].str.strip()})
    pairs = pairs[(pairs["key"] != "") & (pairs["genre"] != "")].drop_duplicates()
    clashes = pairs.loc[pairs["key"].duplicated(), "key"]
    if len(clashes):
        raise GenreError(
            f"data.genre_map {path} gives several genres for {key} '{clashes.iloc[0]}'; keep one."
        )
    return key, pairs.set_index("key")["genre"]


def _normalise(keys: pd.Series) -> pd.Series:
    # Hand-written maps differ from clip_info in case and stray spaces, never in meaning.
    return keys.fillna("").astype(str).str.strip().str.casefold()


def _tag_genres(genre_tags: object) -> dict[str, str]:
    """``data.genre_tags`` as tag column -> genre name."""
    if isinstance(genre_tags, Mapping):
        names = {str(tag): str(genre) for tag, genre in genre_tags.items()}
    elif isinstance(genre_tags, Sequence) and not isinstance(genre_tags, str):
        names = {str(tag): str(tag) for tag in genre_tags}
    else:
        names = {}
    if not names:
        raise GenreError(
            "data.genre_tags must be a non-empty list of tag columns or a mapping tag -> genre."
        )
    return names


def _genres_from_tags(
    table: pd.DataFrame, tag_genre: dict[str, str]
) -> tuple[pd.Series, pd.Series]:
    missing = [tag for tag in tag_genre if tag not in table.columns]
    if missing:
        raise GenreError(
            f"data.genre_tags names {', '.join(missing)}, not a column of {ANNOTATIONS}; use "
            "its tag names, e.g. classical, rock, new age."
        )
    hits = table[list(tag_genre)].apply(pd.to_numeric, errors="coerce").fillna(0).gt(0)
    # Tags mapped to the same genre (rock, hard rock -> Rock) count as one genre, not a clash.
    by_genre = hits.T.groupby(pd.Series(tag_genre)).any().T
    count = by_genre.sum(axis=1)
    genre = by_genre.idxmax(axis=1).where(count == 1)
    reason = pd.Series(pd.NA, index=table.index, dtype="string")
    reason[count == 0] = "no genre tag"
    several = hits[count > 1]
    if len(several):
        reason[count > 1] = several.apply(
            lambda row: "several genre tags: " + ", ".join(row.index[row]), axis=1
        )
    return genre, reason
