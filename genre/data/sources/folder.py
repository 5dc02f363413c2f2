"""``<root>/<Genre>/<clip>.<ext>``: the genre is the folder name (the seed report's layout); clips
may sit in subfolders of their genre's folder (albums, discs)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from genre.data.audio import AUDIO_EXTENSIONS
from genre.data.files import file_problem, os_reason
from genre.data.sources import Manifest, adapter, existing_root, no_tags, rejections
from genre.errors import GenreError

if TYPE_CHECKING:
    from genre.config import DataConfig

NO_GENRE = "not in a genre folder"


@adapter("folder")
def read_folder(data: DataConfig, tagging: bool = False) -> Manifest:
    """A folder's names are genres, not tags."""
    if tagging:
        raise no_tags("folder")
    return folder_manifest(existing_root(data.root))


def folder_manifest(root: Path) -> Manifest:
    """Every audio file below a genre folder of ``root``, in sorted order. Nothing found is left
    out silently: an entry that is neither a folder nor a file (a dangling or looping symlink, a
    FIFO named like audio), a folder that cannot be listed and audio outside the genre folders are
    listed with their reason; only files that are not audio by name are passed over."""
    root = root.absolute()
    rows, rejected, reasons = [], [], []
    for path, problem, in_genre in _walk(root, ()):
        if problem is not None or in_genre is None:
            rejected.append(path)
            reasons.append(problem or NO_GENRE)
        else:
            rows.append({"clip_id": os.path.relpath(path, root), "path": path, "genre": in_genre})
    if not rows:
        extensions = "|".join(e.lstrip(".") for e in AUDIO_EXTENSIONS)
        left_out = (
            f"; {len(rejected)} left out, first {rejected[0]}: {reasons[0]}" if rejected else ""
        )
        raise GenreError(
            f"No audio files found under {root}: expected <root>/<Genre>/*.{{{extensions}}}"
            f"{left_out}."
        )
    return Manifest(pd.DataFrame(rows), rejections(rejected, reasons))


def _walk(
    folder: Path, above: tuple[tuple[int, int], ...], genre: str | None = None
) -> Iterator[tuple[str, str | None, str | None]]:
    """``(path, problem, genre)`` for the entries below ``folder`` worth a row: audio files (their
    problem None when usable) and entries that cannot be told apart. ``above`` holds the folders
    on the way down, so that a symlink back to one of them ends instead of recursing forever."""
    try:
        names = sorted(os.listdir(folder))
    except OSError as exc:
        reason = os_reason(exc, folder)
        if not above:
            message = f"Dataset root {folder} cannot be listed ({reason}): check data.root."
            raise GenreError(message) from exc
        yield str(folder), f"unreadable folder ({reason})", genre
        return
    here = above + (_identity(folder),)
    for name in names:
        path = folder / name
        if not above and name.startswith("."):
            continue  # hidden folders at the top (.git, .Trash) hold no genre
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            # Nobody can tell whether a dangling link was a clip or a whole genre: list it.
            yield str(path), os_reason(exc, path), genre
            continue
        if stat.S_ISDIR(mode):
            if _identity(path) in here:
                yield str(path), "symlink loop", genre
            else:
                yield from _walk(path, here, name if genre is None else genre)
        elif path.suffix.lower() in AUDIO_EXTENSIONS:
            yield str(path), file_problem(path), genre


def _identity(folder: Path) -> tuple[int, int]:
    info = folder.stat()
    return info.st_dev, info.st_ino
