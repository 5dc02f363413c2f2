"""Source adapters: one small function per dataset layout, each turning a dataset root into a
:class:`Manifest` (one row per clip). Everything after the manifest is layout-agnostic.

An adapter is called with ``tagging``: for ``task=tagging`` it gives each clip its tags (the
``tags`` column, ``;``-separated), and a source that has none refuses with one sentence."""

from __future__ import annotations

import re
import stat
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from genre.data.files import FS_ERRORS, MISSING, file_problem, os_reason
from genre.errors import GenreError

if TYPE_CHECKING:
    from genre.config import DataConfig

CLIP_COLUMNS = ["clip_id", "path", "genre", "split", "group"]
# Only in a tagging manifest, so that a genre manifest (and the fingerprint of its cache) stays
# as it was before tags existed.
TAGS = "tags"
TAG_SEPARATOR = ";"
REJECT_COLUMNS = ["path", "reason"]
SPLITS = ("train", "val", "test")


def empty_rejected() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="string") for c in REJECT_COLUMNS})


@dataclass
class Manifest:
    """``clips``: ``clip_id`` (unique str), ``path`` (absolute), ``genre``, ``split`` (one of
    :data:`SPLITS`, or NA where the source has none), ``group`` (artist/album/track, or NA), and
    for tagging ``tags`` (``;``-separated, "" for a clip with none). ``rejected``: rows the
    adapter could not use (``path``, ``reason``)."""

    clips: pd.DataFrame
    rejected: pd.DataFrame = field(default_factory=empty_rejected)

    def __post_init__(self) -> None:
        for column in CLIP_COLUMNS:
            if column not in self.clips:
                self.clips[column] = pd.NA
        columns = CLIP_COLUMNS + [TAGS] * (TAGS in self.clips)
        self.clips = self.clips[columns].astype("string").reset_index(drop=True)
        self.rejected = self.rejected[REJECT_COLUMNS].astype("string").reset_index(drop=True)


Adapter = Callable[["DataConfig", bool], Manifest]
ADAPTERS: dict[str, Adapter] = {}


def adapter(name: str) -> Callable[[Adapter], Adapter]:
    """Register a layout's adapter under ``data.source = name``."""

    def register(fn: Adapter) -> Adapter:
        ADAPTERS[name] = fn
        return fn

    return register


def rejections(paths: Iterable[str], reasons: Iterable[str]) -> pd.DataFrame:
    """Rejected rows in the manifest's ``path, reason`` layout."""
    return pd.DataFrame({"path": list(paths), "reason": list(reasons)}, columns=REJECT_COLUMNS)


def reason_kind(reason: str) -> str:
    """What a rejection reason counts as: the reason without its detail, which follows in
    brackets ("too short (0.20 s < 1 s)"), after a colon ("several genre tags: rock, jazz"), or
    as the path of the kept copy ("duplicate of /data/a.wav")."""
    return re.sub(r" \(.*| of /.*|: .*", "", reason, flags=re.DOTALL)


def check_files(clips: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``clips`` into rows whose ``path`` is a non-empty regular file and rejected rows
    (missing, empty, dangling or looping symlinks, FIFOs, no permission), before any decoding."""
    reasons = clips["path"].map(file_problem)
    bad = reasons.notna()
    return clips[~bad], rejections(clips.loc[bad, "path"], reasons[bad])


def no_tags(source: str) -> GenreError:
    """The error of ``task=tagging`` on a source whose clips have no tags."""
    return GenreError(
        f"task=tagging needs tags, and data={source} has none: use data=mtat, fma, mtg_jamendo, "
        "synth or a csv with a tags column, or task=genre."
    )


def existing_root(root: str | None) -> Path:
    """The dataset root as an absolute Path, or a clear error when it is unset or unusable."""
    if root is None:
        raise GenreError("data.root is not set: point it at your dataset, e.g. data.root=/data/x.")
    path = Path(str(root)).expanduser().absolute()
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        reason = os_reason(exc, path)
        if reason == MISSING:
            raise GenreError(f"Dataset root {path} does not exist: check data.root.") from exc
        message = f"Dataset root {path} cannot be used ({reason}): check data.root."
        raise GenreError(message) from exc
    if not stat.S_ISDIR(mode):
        raise GenreError(f"Dataset root {path} is not a folder: check data.root.")
    return path


def read_manifest(data: DataConfig, tagging: bool = False) -> Manifest:
    """Dispatch on ``data.source`` to the layout's adapter; ``tagging``: with each clip's tags."""
    # Imported for their registration side effect, here so that the registry is complete
    # whichever module is imported first.
    from genre.data.sources import (  # noqa: F401
        ballroom,
        csv,
        fma,
        folder,
        gtzan,
        mtat,
        mtg_jamendo,
        synth,
    )

    if data.source not in ADAPTERS:
        known = ", ".join(sorted(ADAPTERS))
        raise GenreError(f"Unknown data source '{data.source}'; choose one of: {known}.")
    manifest = ADAPTERS[data.source](data, tagging)
    return tidy_tags(manifest, str(data.root or data.source)) if tagging else tidy(manifest)


def genre_label(name: str) -> str:
    """A genre name as a class label: its spaces tidied (a trailing space must not make a second
    class), and text even where it comes from a folder name whose bytes are not UTF-8."""
    text = name.encode("utf-8", FS_ERRORS).decode("utf-8", "backslashreplace")
    return " ".join(text.split())


def tidy(manifest: Manifest) -> Manifest:
    """Every adapter's manifest, made consistent: genre labels tidied, rows without one rejected,
    one row per clip id and per file, and a warning for genres that look like one another."""
    clips = manifest.clips.copy()
    clips["genre"] = clips["genre"].map(genre_label, na_action="ignore").replace("", pd.NA)
    no_genre = clips["genre"].isna()
    # The first row of each clip id (and of each file): a clip counted twice would sit in two
    # splits or weigh double.
    twice = ~no_genre & (clips.duplicated("clip_id") | clips.duplicated("path"))
    rejected = pd.concat(
        [
            manifest.rejected,
            rejections(clips.loc[no_genre, "path"], ["empty genre"] * int(no_genre.sum())),
            rejections(clips.loc[twice, "path"], ["duplicate clip id or path"] * int(twice.sum())),
        ],
        ignore_index=True,
    )
    kept = clips[~no_genre & ~twice]
    _warn_lookalike_genres(kept["genre"].unique())
    return Manifest(kept, rejected)


def tidy_tags(manifest: Manifest, name: str) -> Manifest:
    """A tagging manifest made consistent: each clip's tags tidied like genre names, without
    repeats, sorted and ``;``-joined ("" for none); one row per clip id and per file. The genre
    is optional here. A tags column that is empty for every clip is an error: nothing to learn."""
    clips = manifest.clips.copy()
    clips[TAGS] = clips[TAGS].fillna("").map(join_tags)
    if not (clips[TAGS] != "").any():
        raise GenreError(
            f"The tags of {name} are empty for every clip: give each clip its tags, "
            f"separated by '{TAG_SEPARATOR}'."
        )
    clips["genre"] = clips["genre"].map(genre_label, na_action="ignore").replace("", pd.NA)
    twice = clips.duplicated("clip_id") | clips.duplicated("path")
    duplicates = rejections(
        clips.loc[twice, "path"], ["duplicate clip id or path"] * int(twice.sum())
    )
    rejected = pd.concat([manifest.rejected, duplicates], ignore_index=True)
    return Manifest(clips[~twice], rejected)


def join_tags(text: str) -> str:
    """``"rock; Guitar;rock"`` as ``"Guitar;rock"``: tidied, each once, sorted."""
    tags = {genre_label(tag) for tag in str(text).split(TAG_SEPARATOR)} - {""}
    return TAG_SEPARATOR.join(sorted(tags))


def split_tags(text: str) -> list[str]:
    """The tags of a manifest's ``tags`` value."""
    return [tag for tag in str(text).split(TAG_SEPARATOR) if tag]


def _warn_lookalike_genres(genres: Iterable[str]) -> None:
    by_key: dict[str, list[str]] = {}
    for genre in sorted(genres):
        by_key.setdefault("".join(genre.split()).casefold(), []).append(genre)
    for names in by_key.values():
        if len(names) > 1:
            shown = " and ".join(f"'{name}'" for name in names)
            warnings.warn(
                f"Genres {shown} differ only in case or spaces, so they are separate classes: "
                "rename them alike if they are one genre.",
                stacklevel=3,
            )
