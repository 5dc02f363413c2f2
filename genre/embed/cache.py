"""Embed once: a frozen pretrained network's embeddings of every window of every clip of a
waveform cache, computed a single time and kept beside it, as MARBLE and HEAR embed once and
probe many times.

One cache per pretrained model and gain, so that every run that reads that model's windows at
that gain shares it: runs that concatenate models, read other layers, or add gains reuse what is
there and build only what is missing. Layout of ``<cache_dir>/embed-<key>/``::

    <layer>.f32                    float32 [windows, width]: every layer a head may read
    offsets.npy                    int64 [clips + 1]: clip i's windows are offsets[i]:offsets[i+1]
    starts.npy                     int64 [windows]: each window's first sample in its clip
    rejected.csv                   the waveform cache's rejections (what the embeddings lack)
    meta.json                      the key's parts, the widths, counts, format version

The key hashes the waveform cache's fingerprint (which clips, decoded how), the pretrained
model's weights sha256, the front end's spectrogram settings, the sample rate, the window and hop,
the gain and the format version: another version or other weights is another key, so a
cache is rebuilt, never reused, when any of them changes. The folder is built under a temporary
name and renamed when complete (``genre.data.cache.atomic_folder``).

The windows are those of ``genre.data.windows.window_starts`` over each clip's decoded length,
cut from the waveform cache and run through the very spectrogram layer and pretrained models of
the run's network: a cached embedding is what the network computes for that window.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from genre.data.cache import Cache, atomic_folder
from genre.data.windows import window_starts
from genre.model.net import GenreNet
from genre.pretrained.names import LAYERS

FORMAT_VERSION = 1


@dataclass(frozen=True)
class EmbedSpec:
    """What decides a cache's content besides the clips."""

    arch: str
    variant: str
    weights_sha256: str
    front_end: str  # the spectrogram settings, as JSON
    sample_rate: int  # of the waveform cache (the front end resamples)
    window: int  # samples
    hop: int
    gain_db: float  # applied to the waveform before the front end

    @classmethod
    def of(cls, net: GenreNet, model: int, gain_db: float) -> EmbedSpec:
        """The spec of ``net``'s pretrained model number ``model`` at ``gain_db``."""
        classifier = net.classifier
        arch, variant = classifier.models[model]
        return cls(
            arch,
            variant,
            classifier.weights_sha256.split("+")[model],
            json.dumps(classifier.SPECTROGRAM, sort_keys=True),
            net.sample_rate,
            net.chunk_samples,
            net.hop_samples,
            float(gain_db),
        )

    def key(self, audio: Cache) -> str:
        parts = [FORMAT_VERSION, audio.fingerprint, asdict(self)]
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]


@dataclass
class EmbeddingCache:
    path: Path
    meta: dict

    @cached_property
    def offsets(self) -> np.ndarray:
        return np.load(self.path / "offsets.npy")

    @cached_property
    def starts(self) -> np.ndarray:
        return np.load(self.path / "starts.npy")

    @property
    def n_windows(self) -> int:
        return int(self.offsets[-1])

    def layer(self, layer: str) -> np.memmap:
        """``[windows, width]``: one layer's embedding of every window."""
        shape = (self.n_windows, self.meta["widths"][layer])
        return np.memmap(self.path / f"{layer}.f32", np.float32, "r", shape=shape)

    def windows_of(self, row: int) -> slice:
        return slice(int(self.offsets[row]), int(self.offsets[row + 1]))


def load_or_build(
    audio: Cache, net: GenreNet, model: int, gain_db: float, cache_dir: str | Path, batch: int
) -> EmbeddingCache:
    """The embeddings of ``audio``'s clips by ``net``'s frozen pretrained model number
    ``model``, heard at ``gain_db``: found by key, or built."""
    spec = EmbedSpec.of(net, model, gain_db)
    path = Path(cache_dir).expanduser() / f"embed-{spec.key(audio)}"
    if not (path / "meta.json").exists():
        with atomic_folder(path) as partial:
            _build_into(partial, audio, net, model, spec, batch)
    return EmbeddingCache(path, json.loads((path / "meta.json").read_text()))


@torch.inference_mode()
def _build_into(
    folder: Path, audio: Cache, net: GenreNet, model: int, spec: EmbedSpec, batch: int
) -> None:
    starts = [window_starts(int(v), spec.window, spec.hop) for v in audio.valid_samples]
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in starts])]).astype(np.int64)
    flat_starts = np.concatenate(starts) if starts else np.zeros(0, np.int64)
    clip_of = np.repeat(np.arange(len(starts)), [len(s) for s in starts])
    np.save(folder / "offsets.npy", offsets)
    np.save(folder / "starts.npy", flat_starts)
    n = int(offsets[-1])

    body = net.classifier.bodies[model]
    was_training = net.training
    net.eval()
    scale = float(10 ** (spec.gain_db / 20))
    files: dict[str, np.memmap] = {}
    name = f"{spec.arch} {spec.variant}" + (f" at {spec.gain_db:+g} dB" if spec.gain_db else "")
    bar = tqdm(total=n, desc=f"embed ({name})", unit="window", mininterval=0.5)
    for first in range(0, n, batch):
        index = slice(first, min(n, first + batch))
        waves = np.stack(
            [
                audio.audio[row, start : start + spec.window]
                for row, start in zip(clip_of[index], flat_starts[index], strict=True)
            ]
        )
        outputs = body(net.spectrogram(torch.from_numpy(waves).float() * scale))
        for layer in LAYERS:
            values = outputs[layer].float().numpy()
            if layer not in files:
                shape = (n, values.shape[1])
                files[layer] = np.memmap(folder / f"{layer}.f32", np.float32, "w+", shape=shape)
            files[layer][index] = values
        bar.update(index.stop - index.start)
    bar.close()
    net.train(was_training)
    for array in files.values():
        array.flush()
    shutil.copyfile(audio.path / "rejected.csv", folder / "rejected.csv")
    meta = {
        **asdict(spec),
        "format_version": FORMAT_VERSION,
        "audio_fingerprint": audio.fingerprint,
        "n_clips": len(starts),
        "n_windows": n,
        "widths": {layer: array.shape[1] for layer, array in files.items()},
    }
    (folder / "meta.json").write_text(json.dumps(meta, indent=2))
