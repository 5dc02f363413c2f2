"""The built-in dataset: generated once into the cache folder, then read by the ``folder``
adapter exactly like user data."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from omegaconf import DictConfig

from genre.data.sources import Manifest, adapter
from genre.data.sources.folder import folder_manifest


@adapter("synth")
def read_synth(data: DictConfig) -> Manifest:
    # Imported here: generating pulls in the synthesiser, which user datasets never need.
    from genre.synth import generate

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
    return folder_manifest(root)
