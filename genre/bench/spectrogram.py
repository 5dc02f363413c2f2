"""Row 2: mel spectrograms per second from the batched ``Spectrogram`` layer on the CPU, against
``librosa.feature.melspectrogram`` clip by clip with the same parameters, and how far apart the
two outputs are."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import numpy as np
import torch
from omegaconf import OmegaConf

from genre.bench.common import (
    Metric,
    RowResult,
    Target,
    Workspace,
    best,
    interleaved,
    median,
    rate,
)
from genre.build import build_spectrogram
from genre.util import torch_threads

TOLERANCE_DB = 0.01
"""Largest allowed |ours - librosa| of any bin, in dB (power_to_db of both, top_db 80)."""


def crops(ws: Workspace, n: int) -> np.ndarray:
    """``n`` random training crops from the cache, float32 ``[n, samples]``."""
    out: list[np.ndarray] = []
    torch.manual_seed(0)
    while sum(len(b) for b in out) < n:
        for waves, _ in ws.data.train_dataloader():
            out.append(waves.numpy())
            if sum(len(b) for b in out) >= n:
                break
    return np.concatenate(out)[:n]


def librosa_db(librosa, wave: np.ndarray, sr: int, f: dict, normalize: bool) -> np.ndarray:
    """The baseline for one clip: librosa's mel power spectrogram with torchaudio's defaults
    (HTK mel scale, no filter norm, centred frames, reflect padding), then dB as
    ``AmplitudeToDB("power", top_db)`` does it, then the same per-example normalisation."""
    power = librosa.feature.melspectrogram(
        y=wave,
        sr=sr,
        n_fft=f["n_fft"],
        hop_length=f["hop_length"],
        win_length=f["win_length"],
        window="hann",
        center=True,
        pad_mode="reflect",
        power=2.0,
        n_mels=f["n_mels"],
        fmin=f["f_min"],
        fmax=f["f_max"],
        htk=True,
        norm=None,
    )
    db = librosa.power_to_db(power, ref=1.0, amin=1e-10, top_db=f["top_db"])
    if normalize:
        db = (db - db.mean()) / (db.std(ddof=1) + 1e-5)
    return db


def run(ws: Workspace) -> RowResult:
    result = RowResult("spectrogram", "Spectrogram: mel/s, batched layer (CPU) vs librosa per clip")
    cfg, s = ws.cfg, ws.settings
    sr = int(cfg.data.sample_rate)
    f = OmegaConf.to_container(cfg.features, resolve=True)
    f.pop("name", None)
    if f["kind"] != "mel" or f["scale"] != "db":
        raise ValueError("the spectrogram row compares features=mel with scale=db")
    if f["f_max"] is None:
        f["f_max"] = sr / 2
    layer = build_spectrogram(cfg.features, sr, f_max=f["f_max"]).eval()
    exact = build_spectrogram(cfg.features, sr, f_max=f["f_max"], normalize="none").eval()
    waves = crops(ws, s.spectrogram_clips)
    batch = int(cfg.data.batch_size)
    batches = [torch.from_numpy(waves[i : i + batch]) for i in range(0, len(waves), batch)]

    def ours() -> float:
        def step() -> int:
            with torch.inference_mode():
                for b in batches:
                    layer(b)
            return len(waves)

        return rate(step, s.min_seconds)

    ours()  # warm-up: first-call allocations and kernel selection
    details = {
        "clips": len(waves),
        "batch_size": batch,
        "features": f,
        "sample_rate": sr,
        "tolerance_db": TOLERANCE_DB,
    }
    # Threads: the machine's default (torch's intra-op pool, numpy's BLAS) carries the target;
    # one thread on both sides shows what batching alone gives.
    threads = {"default": None}
    if torch.get_num_threads() > 1:
        threads["1 thread"] = 1
    crops_note = f"{len(waves)} crops of {waves.shape[1] / sr:g} s, batch {batch}"
    try:
        import librosa
    except ImportError:
        librosa = None
    if librosa is None:
        samples = {}
        for label, n in threads.items():
            with thread_limit(n) as used:
                samples[label] = [ours() for _ in range(s.repeats)]
            result.metrics.append(
                Metric(
                    f"mel spectrograms/s, {used} thread{'s' * (used > 1)}",
                    "spectrograms/s",
                    best(samples[label]),
                    note=f"skipped: librosa not installed (pip install -e '.[bench]'); "
                    f"{crops_note}",
                )
            )
        result.reason = "baseline skipped: librosa not installed"
        result.details = {**details, "samples_ours_per_s": samples}
        return result

    normalize = f["normalize"] == "instance"

    def baseline() -> float:
        def step() -> int:
            for w in waves:
                librosa_db(librosa, w, sr, f, normalize)
            return len(waves)

        return rate(step, s.min_seconds)

    librosa_db(librosa, waves[0], sr, f, normalize)  # warm-up: librosa's lazy imports
    all_samples = {}
    for label, n in threads.items():
        with thread_limit(n) as used:
            samples = interleaved({"ours": ours, "librosa": baseline}, s.repeats)
        all_samples[label] = {"threads": used, **samples}
        result.metrics.append(
            Metric(
                f"mel spectrograms/s, {used} thread{'s' * (used > 1)}",
                "spectrograms/s",
                best(samples["ours"]),
                best(samples["librosa"]),
                Target("ratio", ">=", 10) if n is None else None,
                note=f"{crops_note}, {used} torch/BLAS threads; best of {s.repeats}",
            )
        )
    with torch.inference_mode():
        a = exact(torch.from_numpy(waves)).squeeze(1).numpy()
    b = np.stack([librosa_db(librosa, w, sr, f, normalize=False) for w in waves])
    diff = np.abs(a.astype(np.float64) - b)
    result.metrics.append(
        Metric(
            "max |dB difference|",
            "dB",
            float(diff.max()),
            target=Target("ours", "<=", TOLERANCE_DB),
            note=f"mean {diff.mean():.2g} dB over {diff.size} bins (power_to_db, top_db "
            f"{f['top_db']:g}, no normalisation)",
        )
    )
    result.details = {
        **details,
        "samples_per_s": all_samples,
        "median_per_s": {
            label: {k: median(v) for k, v in x.items() if k != "threads"}
            for label, x in all_samples.items()
        },
        "librosa_version": librosa.__version__,
        "max_abs_db_difference": float(diff.max()),
        "mean_abs_db_difference": float(diff.mean()),
        "shape": list(a.shape),
    }
    return result


@contextmanager
def thread_limit(n: int | None) -> Iterator[int]:
    """Torch's and the BLAS libraries' threads limited to ``n`` (None: as they are)."""
    if n is None:
        yield torch.get_num_threads()
        return
    try:
        from threadpoolctl import threadpool_limits  # comes with scikit-learn
    except ImportError:
        threadpool_limits = None
    with torch_threads(n), threadpool_limits(n) if threadpool_limits else nullcontext():
        yield n
