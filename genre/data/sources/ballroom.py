"""Ballroom (ISMIR 2004 tempo contest), as downloaded: ``BallroomData/<Style>/*.wav``, 698 excerpts
of 30 s. The dance style is the genre, from the folder name; the three Rumba folders
(``Rumba-American``, ``Rumba-International``, ``Rumba-Misc``) are one style, which makes the
dataset's 8. ``data.root`` may also be mirdata's copy (``B_1.0/audio``) or the style folders'
parent. Ballroom has no official split: the stratified random split of ``data.val_fraction`` and
``data.test_fraction`` applies."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from genre.data.sources import Manifest, adapter, existing_root, no_tags, rejections
from genre.data.sources.folder import folder_manifest
from genre.errors import GenreError

if TYPE_CHECKING:
    from genre.config import DataConfig

STYLES = ("ChaChaCha", "Jive", "Quickstep", "Rumba", "Samba", "Tango", "VienneseWaltz", "Waltz")
LAYOUTS = ("BallroomData", "B_1.0/audio", ".")
NOT_A_STYLE = "not in a Ballroom style folder"


@adapter("ballroom")
def ballroom(data: DataConfig, tagging: bool = False) -> Manifest:
    """Manifest of a Ballroom root; see the module docstring. Styles are genres, not tags."""
    if tagging:
        raise no_tags("ballroom")
    root = existing_root(data.root)
    base = next((root / layout for layout in LAYOUTS if _has_styles(root / layout)), None)
    if base is None:
        raise GenreError(
            f"No Ballroom style folders (ChaChaCha, Jive, ...) under {root}; point data.root at "
            "the folder holding BallroomData/."
        )
    manifest = folder_manifest(base)
    clips = manifest.clips.assign(genre=manifest.clips["genre"].str.split("-").str[0])
    odd = ~clips["genre"].isin(STYLES)
    left_out = rejections(clips.loc[odd, "path"], [NOT_A_STYLE] * int(odd.sum()))
    return Manifest(clips[~odd], pd.concat([manifest.rejected, left_out], ignore_index=True))


def _has_styles(base: Path) -> bool:
    return base.is_dir() and any((base / style).is_dir() for style in ("Jive", "Samba", "Waltz"))
