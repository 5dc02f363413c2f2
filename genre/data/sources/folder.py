"""``<root>/<Genre>/<clip>.<ext>``: the genre is the folder name (the seed report's layout)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from genre.data.audio import AUDIO_EXTENSIONS
from genre.data.sources import Manifest, adapter, existing_root
from genre.errors import GenreError


@adapter("folder")
def read_folder(data: DictConfig) -> Manifest:
    return folder_manifest(existing_root(data.root))


def folder_manifest(root: Path) -> Manifest:
    rows = [
        {"clip_id": f"{genre_dir.name}/{f.name}", "path": str(f.resolve()), "genre": genre_dir.name}
        for genre_dir in sorted(p for p in root.iterdir() if p.is_dir() and p.name[0] != ".")
        for f in sorted(genre_dir.rglob("*"))
        if f.suffix.lower() in AUDIO_EXTENSIONS and f.is_file()
    ]
    if not rows:
        extensions = "|".join(e.lstrip(".") for e in AUDIO_EXTENSIONS)
        raise GenreError(
            f"No audio files found under {root}: expected <root>/<Genre>/*.{{{extensions}}}."
        )
    return Manifest(pd.DataFrame(rows))
