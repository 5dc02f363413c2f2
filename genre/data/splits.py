"""Train/val/test assignment for clips whose source gives no split: stratified by genre, grouped
so that every clip of one group (artist, album, track) lands in the same split; and the checks
that the splits can train and score every label."""

from __future__ import annotations

import numpy as np
import pandas as pd

from genre.data.sources import SPLITS, TAGS, split_tags
from genre.errors import GenreError

MIN_CLIPS_PER_GENRE = 3  # one each for train, val and test


def assign_splits(
    clips: pd.DataFrame, val_fraction: float, test_fraction: float, seed: int, tagging: bool = False
) -> pd.DataFrame:
    """Fill the missing ``split`` values; rows that already have one keep it. ``tagging``: the
    labels are the ``tags`` column (a genre, where there is one, still stratifies)."""
    clips = clips.copy()
    todo = clips["split"].isna()
    if todo.any():
        clips.loc[todo, "split"] = _split_units(clips[todo], val_fraction, test_fraction, seed)
    if tagging:
        check_tag_splits(clips)
    else:
        check_splits(clips)
    return clips


def _split_units(
    clips: pd.DataFrame, val_fraction: float, test_fraction: float, seed: int
) -> pd.Series:
    unit = clips["group"].fillna(clips["clip_id"])
    # A group's genre is its most common one, so stratification works on whole groups. Clips
    # without a genre (tagging sources may have none) form one stratum of their own.
    unit_genre = clips["genre"].fillna("").groupby(unit).agg(lambda g: g.mode().iloc[0])
    rng = np.random.default_rng(seed)
    split_of_unit: dict[str, str] = {}
    for genre in sorted(unit_genre.unique()):
        units = unit_genre.index[unit_genre == genre].to_numpy(copy=True)  # shuffled in place
        rng.shuffle(units)
        n = len(units)
        if n < MIN_CLIPS_PER_GENRE:
            which = f"Genre '{genre}' has" if genre else "The clips without a genre have"
            raise GenreError(
                f"{which} only {n} clip(s) or group(s); at least {MIN_CLIPS_PER_GENRE} are "
                "needed for train/val/test: add clips or remove it."
            )
        n_test = max(1, round(n * test_fraction)) if test_fraction > 0 else 0
        n_val = max(1, round(n * val_fraction)) if val_fraction > 0 else 0
        for i, u in enumerate(units):
            split_of_unit[u] = "test" if i < n_test else "val" if i < n_test + n_val else "train"
    return unit.map(split_of_unit)


def check_splits(clips: pd.DataFrame) -> None:
    """Every genre must be trainable, and validation must exist for model selection."""
    train_genres = set(clips.loc[clips["split"] == "train", "genre"])
    missing = sorted(set(clips["genre"].dropna()) - train_genres)
    if missing:
        raise GenreError(
            f"Genre(s) {missing} have no training clips: add clips or fix the split column."
        )
    _check_validation(clips)


def check_tag_splits(clips: pd.DataFrame) -> None:
    """Every tag must have clips in every split there is: a tag training lacks is never learnt,
    and one a held-out split lacks has no ROC-AUC or PR-AUC there (its macro mean would be
    meaningless)."""
    _check_validation(clips)
    splits = [s for s in SPLITS if (clips["split"] == s).any()]
    counts = {
        split: pd.Series(
            [
                t
                for tags in clips.loc[clips["split"] == split, TAGS].fillna("")
                for t in split_tags(tags)
            ],
            dtype="string",
        ).value_counts()
        for split in splits
    }
    for tag in sorted(set().union(*(c.index for c in counts.values()))):
        where = [s for s in splits if tag in counts[s].index]
        if len(where) < len(splits):
            lacking = [s for s in splits if s not in where]
            n = sum(int(counts[s][tag]) for s in where)
            raise GenreError(
                f"Tag '{tag}' has clips only in {' and '.join(where)} ({n}), none in "
                f"{' and '.join(lacking)}: every tag needs clips in {', '.join(splits)} to be "
                "learnt and scored; add clips with it, or remove the tag."
            )


def _check_validation(clips: pd.DataFrame) -> None:
    if not (clips["split"] == "val").any():
        raise GenreError("No validation clips: set data.val_fraction > 0 or add val to the split.")
