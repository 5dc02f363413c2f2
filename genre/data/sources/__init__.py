"""Source adapters: one small function per dataset layout, each turning a dataset root into a
:class:`Manifest` (one row per clip). Everything after the manifest is layout-agnostic."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from genre.errors import GenreError

CLIP_COLUMNS = ["clip_id", "path", "genre", "split", "group"]
REJECT_COLUMNS = ["path", "reason"]
SPLITS = ("train", "val", "test")


def empty_rejected() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="string") for c in REJECT_COLUMNS})


@dataclass
class Manifest:
    """``clips``: ``clip_id`` (unique str), ``path`` (absolute), ``genre``, ``split`` (one of
    :data:`SPLITS`, or NA where the source has none), ``group`` (artist/album/track, or NA).
    ``rejected``: rows the adapter could not use (``path``, ``reason``)."""

    clips: pd.DataFrame
    rejected: pd.DataFrame = field(default_factory=empty_rejected)

    def __post_init__(self) -> None:
        for column in CLIP_COLUMNS:
            if column not in self.clips:
                self.clips[column] = pd.NA
        self.clips = self.clips[CLIP_COLUMNS].astype("string").reset_index(drop=True)
        self.rejected = self.rejected[REJECT_COLUMNS].astype("string").reset_index(drop=True)


Adapter = Callable[[DictConfig], Manifest]
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


def check_files(clips: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``clips`` into rows whose ``path`` is a non-empty file and rejected rows. Empty files
    are caught here rather than by the decoder because the stat is needed anyway for existence."""
    reasons = clips["path"].map(_file_problem)
    bad = reasons.notna()
    return clips[~bad], rejections(clips.loc[bad, "path"], reasons[bad])


def _file_problem(path: str) -> str | None:
    try:
        size = os.stat(path).st_size
    except (FileNotFoundError, NotADirectoryError):
        return "missing file"
    return "empty file" if size == 0 else None


def existing_root(root: str | None) -> Path:
    """The dataset root as a Path, or a clear error when it is unset or absent."""
    if root is None:
        raise GenreError("data.root is not set: point it at your dataset, e.g. data.root=/data/x.")
    path = Path(str(root)).expanduser()
    if not path.is_dir():
        raise GenreError(f"Dataset root {path} does not exist: check data.root.")
    return path.absolute()


def read_manifest(data: DictConfig) -> Manifest:
    """Dispatch on ``data.source`` to the layout's adapter."""
    # Imported for their registration side effect, here so that the registry is complete
    # whichever module is imported first.
    from genre.data.sources import csv, fma, folder, gtzan, mtat, synth  # noqa: F401

    if data.source not in ADAPTERS:
        known = ", ".join(sorted(ADAPTERS))
        raise GenreError(f"Unknown data source '{data.source}'; choose one of: {known}.")
    return drop_duplicates(ADAPTERS[data.source](data))


def drop_duplicates(manifest: Manifest) -> Manifest:
    """Keep the first row of each clip id (and of each file): a clip counted twice would sit in
    two splits or weigh double."""
    clips = manifest.clips
    dup = clips.duplicated("clip_id") | clips.duplicated("path")
    if not dup.any():
        return manifest
    rejected = pd.DataFrame({"path": clips["path"][dup], "reason": "duplicate clip id or path"})
    return Manifest(clips[~dup], pd.concat([manifest.rejected, rejected], ignore_index=True))
