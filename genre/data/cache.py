"""Decode-once cache: every clip of a manifest decoded a single time into one memory-mapped float16
array, with the kept clips and the rejected files written beside it.

Layout of a cache folder ``<cache_dir>/clips-<fingerprint>/``::

    audio.f16      float16 [n_clips, clip_samples], row i is clips.csv row i
    clips.csv      the manifest rows that decoded (with ``tags`` for tagging), plus ``seconds``,
                   ``padded``
    rejected.csv   path, reason (from the adapter, from decoding, duplicates)
    meta.json      fingerprint, sample_rate, clip_samples, counts, format version

Paths in the csv files are the bytes the file system holds, also where a name is not UTF-8.
Every stored sample is finite. The folder is built under a temporary name and renamed when
complete, so a killed build never leaves a cache that looks whole; the next run builds again.

The same audio twice (one recording under two names or in two formats) would be learnt in train
and then recognised in test. Clips are therefore compared by a hash of their decoded samples, and
of identical ones only the first is kept; the others are listed as ``duplicate of <its path>``.
Copies that are not bit-identical (a FLAC and a WAV rounded apart, an MP3 re-encode, a copy at
another sample rate) are found next by an audio fingerprint (``genre.data.fingerprint``) and
listed as ``near-duplicate of <its path>``.
"First" is in manifest order, except that a copy the source puts in test wins over one in val,
and val over train or none: the published evaluation sets stay whole (scores stay comparable
with other work) and the training set loses the copy that would have leaked.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from genre.data.audio import DecodeError, fix_length, read_mono
from genre.data.files import FS_ERRORS
from genre.data.fingerprint import fingerprint as audio_print
from genre.data.fingerprint import near_duplicates
from genre.data.sources import CLIP_COLUMNS, TAGS, Manifest

FORMAT_VERSION = 3  # 3: near-duplicates left out
# Which copy of duplicate audio is kept: see the module docstring.
SPLIT_RANK = {"test": 0, "val": 1, "train": 2}


@dataclass(frozen=True)
class AudioSpec:
    sample_rate: int
    clip_seconds: float
    min_seconds: float

    @property
    def clip_samples(self) -> int:
        return int(round(self.sample_rate * self.clip_seconds))


@dataclass
class Cache:
    path: Path
    clips: pd.DataFrame
    rejected: pd.DataFrame
    meta: dict

    @property
    def fingerprint(self) -> str:
        return self.meta["fingerprint"]

    @cached_property
    def valid_samples(self) -> np.ndarray:
        """Each clip's decoded length in samples, within its row (the rest is padding)."""
        seconds = self.clips["seconds"].to_numpy()
        samples = (seconds * self.meta["sample_rate"]).astype(np.int64)
        return np.minimum(samples, self.meta["clip_samples"])

    @cached_property
    def audio(self) -> np.memmap:
        return open_audio(self.path, len(self.clips), self.meta["clip_samples"])


def open_audio(path: Path, n_clips: int, clip_samples: int, mode: str = "r") -> np.memmap:
    return np.memmap(path / "audio.f16", dtype=np.float16, mode=mode, shape=(n_clips, clip_samples))


def fingerprint(manifest: Manifest, spec: AudioSpec) -> str:
    """Hash of everything that decides the cache's content: each file's identity (path, size,
    mtime, and mode, so that a file made readable is tried again), its labels, the adapter's
    rejections, the audio settings and the format version."""
    digest = hashlib.sha256(json.dumps([FORMAT_VERSION, spec.__dict__]).encode())
    for row in manifest.clips.itertuples(index=False):
        try:
            stat = os.stat(row.path)
            identity = (stat.st_size, stat.st_mtime_ns, stat.st_mode)
        except OSError:
            identity = None
        digest.update(repr((tuple(row), identity)).encode())
    digest.update(manifest.rejected.to_csv(index=False).encode(errors=FS_ERRORS))
    return digest.hexdigest()[:20]


def load_or_build(
    manifest: Manifest, spec: AudioSpec, cache_dir: str | Path, workers: int | None = None
) -> Cache:
    """The cache for this manifest and audio spec: found by fingerprint, or built."""
    key = fingerprint(manifest, spec)
    path = Path(cache_dir).expanduser() / f"clips-{key}"
    if not (path / "meta.json").exists():
        build(manifest, spec, path, key, workers)
    return read(path)


def read(path: Path) -> Cache:
    meta = json.loads((path / "meta.json").read_text())
    clips = pd.read_csv(
        path / "clips.csv",
        dtype={c: "string" for c in [*CLIP_COLUMNS, TAGS]},
        encoding_errors=FS_ERRORS,
        keep_default_na=False,
        na_values=[""],
    )
    rejected = pd.read_csv(
        path / "rejected.csv",
        dtype="string",
        encoding_errors=FS_ERRORS,
        keep_default_na=False,
        na_values=[""],
    )
    return Cache(path, clips, rejected, meta)


@contextmanager
def atomic_folder(path: Path) -> Iterator[Path]:
    """A folder to build ``path`` in, renamed to ``path`` when the block ends without error: a
    killed build never leaves a folder that looks whole (the next one removes what it left)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(path)
    partial = path.with_name(f"{path.name}.partial-{os.getpid()}@{socket.gethostname()}")
    shutil.rmtree(partial, ignore_errors=True)  # an earlier failed build in this process
    partial.mkdir()
    yield partial
    try:
        partial.rename(path)
    except OSError:
        # Another builder (a DDP rank, a sweep worker, a second prepare) finished the same cache
        # first: the rename is the only step that decides, so theirs is used, and is as good.
        if not (path / "meta.json").exists():
            raise
        shutil.rmtree(partial)


def build(manifest: Manifest, spec: AudioSpec, path: Path, key: str, workers: int | None) -> None:
    with atomic_folder(path) as partial:
        _build_into(partial, manifest, spec, key, workers)


def _build_into(
    partial: Path, manifest: Manifest, spec: AudioSpec, key: str, workers: int | None
) -> None:
    clips = manifest.clips
    open_audio(partial, len(clips), spec.clip_samples, mode="w+").flush()

    outcomes = _decode_all(list(clips["path"]), partial, len(clips), spec, workers)
    seconds = np.array([o.seconds for o in outcomes])
    reasons = _duplicates([o.reason for o in outcomes], [o.digest for o in outcomes], clips)
    audio = open_audio(partial, len(clips), spec.clip_samples, mode="r+")
    prints = [o.keys if r is None else None for o, r in zip(outcomes, reasons, strict=True)]
    near = near_duplicates(prints, _keep_order(clips), audio.__getitem__, spec.sample_rate)
    for row, kept_row in near.items():
        reasons[row] = f"near-duplicate of {clips['path'].iat[kept_row]}"
    ok = np.array([r is None for r in reasons], dtype=bool)

    kept_rows = np.flatnonzero(ok)
    # Compact the kept rows to the front (in order, so a row never overwrites one not yet moved).
    for new, old in enumerate(kept_rows):
        if new != old:
            audio[new] = audio[old]
    audio.flush()
    del audio
    os.truncate(partial / "audio.f16", len(kept_rows) * spec.clip_samples * 2)

    kept = clips.iloc[kept_rows].reset_index(drop=True)
    kept["seconds"] = seconds[kept_rows].round(3)
    kept["padded"] = kept["seconds"] < spec.clip_seconds
    kept.to_csv(partial / "clips.csv", index=False, errors=FS_ERRORS)
    decode_rejected = pd.DataFrame(
        {"path": clips["path"][~ok], "reason": [r for r in reasons if r is not None]}
    )
    rejected = pd.concat([manifest.rejected, decode_rejected], ignore_index=True)
    rejected.to_csv(partial / "rejected.csv", index=False, errors=FS_ERRORS)
    meta = {
        "fingerprint": key,
        "format_version": FORMAT_VERSION,
        "sample_rate": spec.sample_rate,
        "clip_seconds": spec.clip_seconds,
        "clip_samples": spec.clip_samples,
        "min_seconds": spec.min_seconds,
        "n_clips": len(kept),
        "n_rejected": len(rejected),
    }
    (partial / "meta.json").write_text(json.dumps(meta, indent=2))


def _duplicates(
    reasons: list[str | None], digests: list[str | None], clips: pd.DataFrame
) -> list[str | None]:
    """``reasons`` with each decoded clip whose samples equal an earlier one's marked as its
    duplicate; "earlier" as the module docstring says (held-out splits first, then manifest
    order)."""
    reasons = list(reasons)
    first: dict[str, int] = {}
    for row in _keep_order(clips):
        digest = digests[row]
        if digest is None:
            continue
        if digest in first:
            reasons[row] = f"duplicate of {clips['path'].iat[first[digest]]}"
        else:
            first[digest] = row
    return reasons


def _keep_order(clips: pd.DataFrame) -> list[int]:
    """The rows in the order in which copies are kept: held-out splits first, then manifest
    order (see the module docstring)."""
    rank = clips["split"].map(SPLIT_RANK).fillna(len(SPLIT_RANK)).to_numpy()
    return sorted(range(len(clips)), key=lambda r: (rank[r], r))


def _remove_abandoned(path: Path) -> None:
    """Delete the half-built folders of this cache whose builder, a process on this machine, is
    gone. A cache folder may be shared between machines: another host's build is left alone."""
    host = socket.gethostname()
    for partial in path.parent.glob(f"{path.name}.partial-*"):
        pid, _, builder = partial.name.rsplit(".partial-", 1)[1].partition("@")
        if builder != host or not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(partial, ignore_errors=True)
        except PermissionError:  # alive, another user's
            continue


@dataclass(frozen=True)
class Outcome:
    """What decoding one clip gave: its length, why it was left out (None when kept), and a hash
    and a fingerprint of the samples stored for it (None when left out)."""

    seconds: float
    reason: str | None
    digest: str | None
    keys: np.ndarray | None = None  # genre.data.fingerprint's


def _decode_all(
    paths: list[str], folder: Path, n_clips: int, spec: AudioSpec, workers: int | None
) -> list[Outcome]:
    workers = workers or os.cpu_count() or 1
    jobs = [(i, p, str(folder), n_clips, spec) for i, p in enumerate(paths)]
    bar = dict(total=len(jobs), desc="decode", unit="clip", mininterval=0.5)
    if workers == 1 or len(jobs) < 8:
        return [_decode_into(job) for job in tqdm(jobs, **bar)]
    chunksize = max(1, min(32, len(jobs) // (workers * 8)))
    with ProcessPoolExecutor(workers) as pool:
        return list(tqdm(pool.map(_decode_into, jobs, chunksize=chunksize), **bar))


def _decode_into(job: tuple[int, str, str, int, AudioSpec]) -> Outcome:
    """Decode one clip straight into its row of the memmap, so audio never crosses processes and
    memory stays flat however large the dataset."""
    row, path, folder, n_clips, spec = job
    try:
        decoded = read_mono(path, spec.sample_rate, spec.clip_seconds, spec.min_seconds)
    except DecodeError as exc:
        return Outcome(0.0, str(exc), None)
    samples = fix_length(decoded.samples, spec.clip_samples).astype(np.float16)
    # read_mono's checks and scaling exist so that this never fails: a non-finite sample would
    # make every loss it touches NaN, far from its cause.
    if not np.isfinite(samples).all():
        raise AssertionError(f"{path} would put non-finite samples into the cache")
    audio = open_audio(Path(folder), n_clips, spec.clip_samples, mode="r+")
    audio[row] = samples
    audio.flush()
    digest = hashlib.blake2b(samples.tobytes(), digest_size=16).hexdigest()
    kept = min(decoded.seconds, spec.clip_seconds)
    return Outcome(kept, None, digest, audio_print(samples, spec.sample_rate))
