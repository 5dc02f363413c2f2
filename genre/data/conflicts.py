"""Copies of one recording under two genres: a labelling conflict, not a copy. The cache keeps
the first copy of any audio (``genre.data.cache``); here the genres of the copies it left out
are compared with the kept one's, and ``data.conflicts`` says what to do where they differ:
``keep_first`` (the cache's choice), ``drop_both`` (neither label is trusted: the kept copy
leaves the splits too) or ``stop``. Every genre that loses clips to copies is said on the
console, and so is a genre that loses all of them."""

from __future__ import annotations

import logging

import pandas as pd

from genre.data.cache import Cache
from genre.errors import GenreError

COPY_REASONS = ("duplicate of ", "near-duplicate of ")
DROPPED = "conflict"  # the split of a kept copy dropped for a conflict: in no split

log = logging.getLogger(__name__)


def copies(manifest_clips: pd.DataFrame, cache: Cache) -> pd.DataFrame:
    """One row per copy the cache left out: ``path``, ``genre``, ``kept`` (the path of the copy
    kept) and ``kept_genre``."""
    genre_of = dict(zip(manifest_clips["path"], manifest_clips["genre"], strict=True))
    rows = []
    for path, reason in zip(cache.rejected["path"], cache.rejected["reason"], strict=True):
        for prefix in COPY_REASONS:
            if str(reason).startswith(prefix):
                kept = str(reason).removeprefix(prefix)
                rows.append((path, genre_of.get(path), kept, genre_of.get(kept)))
    return pd.DataFrame(rows, columns=["path", "genre", "kept", "kept_genre"])


def resolve(
    clips: pd.DataFrame, manifest_clips: pd.DataFrame, cache: Cache, policy: str, where: str
) -> pd.DataFrame:
    """``clips`` (the cache's) with ``policy`` applied to labelling conflicts, after saying on
    the console what copies and conflicts cost each genre."""
    found = copies(manifest_clips, cache)
    labelled = found.dropna(subset=["genre", "kept_genre"])
    conflicts = labelled[labelled["genre"] != labelled["kept_genre"]]
    if len(conflicts) and policy == "stop":
        first = conflicts.iloc[0]
        raise GenreError(
            f"{len(conflicts)} clip(s) of {where} have the same audio as a clip of another genre "
            f"(first: {first['path']} as {first['genre']}, {first['kept']} as "
            f"{first['kept_genre']}): fix their labels, or set data.conflicts=keep_first or "
            "drop_both."
        )
    clips = clips.copy()
    if len(conflicts) and policy == "drop_both":
        dropped = clips["path"].isin(set(conflicts["kept"]))
        clips.loc[dropped, "split"] = DROPPED
        clips.loc[dropped, "genre"] = pd.NA
    _say(found, conflicts, manifest_clips, clips, policy, cache)
    return clips


def _say(
    found: pd.DataFrame,
    conflicts: pd.DataFrame,
    manifest_clips: pd.DataFrame,
    clips: pd.DataFrame,
    policy: str,
    cache: Cache,
) -> None:
    listed = f"{cache.path}/rejected.csv"
    if len(conflicts):
        log.warning(
            "%d clip(s) have the same audio as a clip of another genre, a labelling conflict "
            "(data.conflicts=%s: %s; see %s).",
            len(conflicts),
            policy,
            "both copies left out" if policy == "drop_both" else "the first copy kept",
            listed,
        )
    lost = found.dropna(subset=["genre"]).groupby("genre").size()
    for genre, n in lost.items():
        log.warning("Genre %s loses %d clip(s) to copies of other clips (%s).", genre, n, listed)
    before = set(manifest_clips["genre"].dropna())
    after = set(clips["genre"].dropna())
    for genre in sorted(before - after):
        log.warning("Genre %s has no clip left: every one was left out (%s).", genre, listed)
