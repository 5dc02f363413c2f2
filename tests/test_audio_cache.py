"""Decoding and the decode-once cache, on real files written here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from helpers import ROOT, tone

from genre.config import DataConfig
from genre.data.audio import DecodeError, read_mono
from genre.data.cache import AudioSpec, load_or_build
from genre.data.sources import Manifest, read_manifest

SPEC = AudioSpec(sample_rate=16000, clip_seconds=2.0, min_seconds=0.5)


def manifest_of(paths: list) -> Manifest:
    return Manifest(
        pd.DataFrame(
            {
                "clip_id": [p.name for p in paths],
                "path": [str(p) for p in paths],
                "genre": ["A"] * len(paths),
            }
        )
    )


def test_stereo_44k_is_mixed_and_resampled(tmp_path):
    x = tone(1.0, 44100, 440.0, channels=2)
    x[:, 1] *= 0.0  # the mono mix must halve the amplitude
    sf.write(tmp_path / "s.wav", x, 44100)
    decoded = read_mono(tmp_path / "s.wav", 16000)
    assert decoded.samples.shape == (16000,)
    assert decoded.seconds == pytest.approx(1.0)
    assert np.abs(decoded.samples).max() == pytest.approx(0.22, abs=0.03)
    spectrum = np.abs(np.fft.rfft(decoded.samples))
    assert np.argmax(spectrum) == pytest.approx(440, abs=2)  # 1 Hz bins


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_24", "FLOAT"])
def test_wav_bit_depths(tmp_path, subtype):
    x = tone(0.5, 16000, 300.0)
    sf.write(tmp_path / "x.wav", x, 16000, subtype=subtype)
    assert np.abs(read_mono(tmp_path / "x.wav", 16000).samples - x).max() < 0.02


def test_long_file_reads_only_the_middle(tmp_path):
    rate = 8000
    loud = tone(2.0, rate, 400.0) / 0.4 * 0.5  # the sine's amplitude is 0.4
    quiet = tone(4.0, rate, 400.0) / 0.4 * 0.1
    sf.write(tmp_path / "long.flac", np.concatenate([quiet, loud, quiet]), rate)
    decoded = read_mono(tmp_path / "long.flac", rate, max_seconds=2.0)
    assert decoded.samples.shape == (2 * rate,)
    assert np.abs(decoded.samples[: rate // 10]).max() > 0.4  # loud from its first samples on
    assert decoded.seconds == pytest.approx(10.0)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("this is not audio"), "not decodable"),
        (lambda p: sf.write(p, np.zeros(16000, np.float32), 16000, format="WAV"), "silent"),
        (
            lambda p: sf.write(
                p, np.full(800, np.nan, np.float32), 16000, format="WAV", subtype="FLOAT"
            ),
            "non-finite",
        ),
    ],
)
def test_unusable_files_raise_with_reason(tmp_path, make, reason):
    path = tmp_path / "bad.mp3"
    make(path)
    with pytest.raises(DecodeError, match=reason):
        read_mono(path, 16000)


def test_cache_roundtrip_rejects_and_reuses(tmp_path):
    good = []
    for i, seconds in enumerate([3.0, 1.0]):
        path = tmp_path / f"ok {i}.mp3"
        sf.write(path, tone(seconds, 22050, 500.0 + i), 22050, format="MP3")
        good.append(path)
    truncated = tmp_path / "truncated.mp3"
    truncated.write_bytes(good[0].read_bytes()[:200])
    short = tmp_path / "short.wav"
    sf.write(short, tone(0.2, 16000, 500.0), 16000)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    missing = tmp_path / "missing.wav"
    manifest = manifest_of([*good, truncated, short, empty, missing])

    cache = load_or_build(manifest, SPEC, tmp_path / "cache", workers=1)
    assert list(cache.clips["clip_id"]) == ["ok 0.mp3", "ok 1.mp3"]
    assert cache.audio.dtype == np.float16 and cache.audio.shape == (2, 32000)
    reasons = dict(zip(cache.rejected["path"], cache.rejected["reason"], strict=True))
    assert reasons[str(short)].startswith("too short")
    assert reasons[str(empty)] == "empty file"
    assert reasons[str(missing)] == "missing file"
    assert str(truncated) in reasons
    # The 1 s clip is padded with zeros after its audio and flagged.
    assert list(cache.clips["padded"]) == [False, True]
    assert cache.clips["seconds"][1] == pytest.approx(1.0, abs=0.06)
    assert np.abs(cache.audio[1, 17000:]).max() == 0
    expected = read_mono(good[0], 16000, max_seconds=2.0).samples
    assert np.abs(cache.audio[0].astype(np.float32) - expected).max() < 1e-3
    assert (cache.path / "rejected.csv").exists()

    again = load_or_build(manifest, SPEC, tmp_path / "cache", workers=1)
    assert again.path == cache.path
    assert (cache.path / "audio.f16").stat().st_mtime_ns == (
        again.path / "audio.f16"
    ).stat().st_mtime_ns

    good[1].write_bytes(good[0].read_bytes())  # a changed file means a new cache
    assert load_or_build(manifest, SPEC, tmp_path / "cache", workers=1).path != cache.path


def test_parallel_build_matches_serial(tiny_folder, tmp_path):
    data = DataConfig(source="folder", root=str(tiny_folder))
    manifest = read_manifest(data)
    serial = load_or_build(manifest, SPEC, tmp_path / "a", workers=1)
    parallel = load_or_build(manifest, SPEC, tmp_path / "b", workers=2)
    assert len(serial.clips) == 27
    np.testing.assert_array_equal(np.asarray(serial.audio), np.asarray(parallel.audio))
    assert not list((tmp_path / "b").glob("*.partial-*"))


def test_interrupted_build_leaves_nothing_that_looks_complete(tiny_folder, tmp_path):
    """A build killed mid-way (SIGKILL) leaves only a .partial folder; the next run rebuilds."""
    import subprocess
    import sys
    import time

    midway = tmp_path / "midway"
    build = (
        "from genre.config import DataConfig; from genre.data.sources import read_manifest;"
        "from genre.data.cache import AudioSpec, load_or_build;"
        f"m = read_manifest(DataConfig(source='folder', root='{tiny_folder}'));"
        f"load_or_build(m, AudioSpec(16000, 0.5, 0.1), {str(tmp_path / 'c')!r}, workers=1)"
    )
    # The first run stops at a known point: its first clip decoded into the partial cache, the
    # others not yet. It says so with a file, and waits there to be killed.
    hang = (
        "import pathlib, threading; import genre.data.cache as cache; decode = cache._decode_into\n"
        "def decode_and_hang(job):\n"
        f"    decode(job); pathlib.Path({str(midway)!r}).touch(); threading.Event().wait()\n"
        "cache._decode_into = decode_and_hang\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", hang + build], cwd=ROOT)
    deadline = time.monotonic() + 120
    while not midway.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert midway.exists(), "the build never reached its first decoded clip"
    proc.kill()
    proc.wait()
    folders = list((tmp_path / "c").iterdir())
    assert folders and all(".partial-" in f.name for f in folders)
    assert not any((f / "meta.json").exists() for f in folders)

    subprocess.run([sys.executable, "-c", build], cwd=ROOT, check=True, capture_output=True)
    assert not list((tmp_path / "c").glob("*.partial-*"))  # the abandoned build is cleaned up
    assert len(list((tmp_path / "c").glob("*/meta.json"))) == 1


def test_second_builder_of_a_cold_cache_uses_the_first_ones(tiny_folder, tmp_path, monkeypatch):
    """Two builders (DDP ranks, sweep workers) that both found the cache missing: the one that
    renames second keeps the first one's cache instead of failing."""
    import shutil
    from pathlib import Path

    manifest = read_manifest(DataConfig(source="folder", root=str(tiny_folder)))
    other = load_or_build(manifest, SPEC, tmp_path / "other", workers=1)
    target = tmp_path / "cache" / other.path.name
    rename = Path.rename

    def finished_first(self: Path, destination: Path) -> Path:
        # The other builder's rename lands between this one's decoding and its rename.
        if Path(destination) == target:
            shutil.copytree(other.path, target)
        return rename(self, destination)

    monkeypatch.setattr(Path, "rename", finished_first)
    cache = load_or_build(manifest, SPEC, tmp_path / "cache", workers=1)
    assert cache.path == target and len(cache.clips) == 27
    assert not list((tmp_path / "cache").glob("*.partial-*"))


def test_only_this_hosts_abandoned_builds_are_removed(tiny_folder, tmp_path):
    """A cache folder shared between machines: a half-built cache of another host, whose process
    id means nothing here, is left alone; this host's dead builder's folder is removed."""
    import socket

    manifest = read_manifest(DataConfig(source="folder", root=str(tiny_folder)))
    from genre.data import cache as cache_module

    key = cache_module.fingerprint(manifest, SPEC)
    root = tmp_path / "cache"
    dead_pid = 2**22 + 12345  # above Linux's pid_max default: no such process
    elsewhere = root / f"clips-{key}.partial-{dead_pid}@another-host.example"
    here = root / f"clips-{key}.partial-{dead_pid}@{socket.gethostname()}"
    for folder in (elsewhere, here):
        folder.mkdir(parents=True)
    load_or_build(manifest, SPEC, root, workers=1)
    assert elsewhere.exists()
    assert not here.exists()
