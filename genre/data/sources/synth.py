"""The built-in dataset: generated once into the cache folder, then read by the ``folder``
adapter exactly like user data; for ``task=tagging`` by the ``csv`` adapter, from the tags file
the generator writes beside the clips."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from genre.data.sources import Manifest, adapter
from genre.data.sources.csv import read_csv
from genre.data.sources.folder import folder_manifest

if TYPE_CHECKING:
    from genre.config import SynthDataConfig


@adapter("synth")
def read_synth(data: SynthDataConfig, tagging: bool = False) -> Manifest:
    # Imported here: generating pulls in the synthesiser, which user datasets never need.
    from genre.synth import generate
    from genre.synth.files import TAGS_FILE

    params = {
        "clips_per_genre": int(data.clips_per_genre),
        "seconds": float(data.clip_seconds),
        "sample_rate": int(data.sample_rate),
        "seed": int(data.synth_seed),
        "difficulty": float(data.difficulty),
        "mp3_share": float(data.mp3_share),
    }
    key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    root = Path(str(data.cache_dir)).expanduser() / f"synth-{key}"
    generate(root, workers=data.decode_workers, **params)
    if tagging:
        return read_csv(dataclasses.replace(data, root=str(root / TAGS_FILE)), tagging=True)
    return folder_manifest(root)
