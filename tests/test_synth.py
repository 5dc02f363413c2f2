"""The built-in synthetic dataset: real files on disk, deterministic, reused, and genre-like."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy import signal

from genre import GENRES
from genre.errors import GenreError
from genre.synth import generate

RATE = 16000
SECONDS = 2.0
TINY = {"clips_per_genre": 2, "seconds": SECONDS, "sample_rate": RATE, "seed": 0}
MP3_FRAME = 1152  # samples in an MP3 frame; encoder padding may add or drop up to one


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("synth") / "root", workers=2, **TINY)


def clips(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix in (".wav", ".mp3"))


def test_writes_decodable_mono_clips_in_genre_folders(dataset: Path) -> None:
    assert sorted(p.name for p in dataset.iterdir()) == sorted([*GENRES, "synth.json", "tags.csv"])
    for genre in GENRES:
        names = sorted(p.name for p in (dataset / genre).iterdir())
        slug = genre.lower().replace(" ", "_").replace("-", "_")
        assert [n.split(".")[0] for n in names] == [f"{slug}_0000", f"{slug}_0001"]
    suffixes = {p.suffix for p in clips(dataset)}
    assert suffixes == {".wav", ".mp3"}
    for path in clips(dataset):
        info = sf.info(path)
        assert (info.samplerate, info.channels) == (RATE, 1), path
        audio, _ = sf.read(path, dtype="float64")
        expected = int(SECONDS * RATE)
        slack = MP3_FRAME if path.suffix == ".mp3" else 0
        assert abs(audio.size - expected) <= slack, (path, audio.size)
        assert np.isfinite(audio).all(), path
        peak = np.abs(audio).max()
        # Peaks are set between -12 and -1 dBFS; mp3 coding moves them a little.
        assert 10 ** (-13 / 20) <= peak <= 1.0, (path, peak)
        assert np.sqrt(np.mean(audio**2)) > 0.01, path


def test_same_seed_same_audio_whatever_the_workers(dataset: Path, tmp_path: Path) -> None:
    again = generate(tmp_path / "again", workers=1, **TINY)
    other = generate(tmp_path / "other", workers=1, **{**TINY, "seed": 1})
    wavs = [p.relative_to(dataset) for p in clips(dataset) if p.suffix == ".wav"]
    assert wavs
    for rel in wavs:
        assert (again / rel).read_bytes() == (dataset / rel).read_bytes(), rel
        a, _ = sf.read(dataset / rel)
        b, _ = sf.read(other / rel)
        assert not np.allclose(a, b), rel


def test_reuses_a_complete_dataset_and_refuses_a_different_one(dataset: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in dataset.rglob("*")}
    assert generate(dataset, workers=1, **TINY) == dataset
    assert {p: p.stat().st_mtime_ns for p in dataset.rglob("*")} == before
    with pytest.raises(GenreError, match="choose another root or delete it"):
        generate(dataset, workers=1, **{**TINY, "difficulty": 0.9})
    assert {p: p.stat().st_mtime_ns for p in dataset.rglob("*")} == before
    assert not [p for p in dataset.parent.iterdir() if p.name.endswith(".partial")]


def test_refuses_a_folder_that_is_not_a_dataset_and_bad_parameters(tmp_path: Path) -> None:
    (tmp_path / "music").mkdir()
    (tmp_path / "music" / "song.wav").write_bytes(b"")
    with pytest.raises(GenreError, match="choose another root or delete it"):
        generate(tmp_path / "music", **TINY)
    with pytest.raises(GenreError, match="difficulty"):
        generate(tmp_path / "bad", **{**TINY, "difficulty": 1.5})


def test_heavy_overlap_still_writes_sound_audio(tmp_path: Path) -> None:
    root = generate(
        tmp_path / "hard",
        clips_per_genre=1,
        seconds=1.0,
        sample_rate=RATE,
        seed=3,
        difficulty=1.0,
        mp3_share=0.0,
        workers=1,
    )
    for path in clips(root):
        audio, _ = sf.read(path)
        assert np.isfinite(audio).all() and 0.2 < np.abs(audio).max() <= 1.0, path


def features(audio: np.ndarray) -> tuple[float, float]:
    """Onset strength (mean rise of the log spectrum, floored at -60 dB, so gain-independent)
    and the share of power above 3 kHz."""
    freqs, _, z = signal.stft(audio, RATE, nperseg=512, noverlap=384)
    magnitude = np.abs(z)
    db = 20 * np.log10(magnitude / magnitude.max() + 1e-3)
    onsets = float(np.maximum(np.diff(db, axis=1), 0.0).mean())
    power = magnitude**2
    return onsets, float(power[freqs >= 3000].sum() / power.sum())


def test_genres_differ_where_real_ones_do(tmp_path: Path) -> None:
    root = generate(
        tmp_path / "clean",
        clips_per_genre=3,
        seconds=3.0,
        sample_rate=RATE,
        seed=0,
        difficulty=0.0,
        mp3_share=0.0,
        workers=1,
    )
    mean = {g: np.mean([features(sf.read(p)[0]) for p in clips(root / g)], axis=0) for g in GENRES}
    onsets = {g: m[0] for g, m in mean.items()}
    highs = {g: m[1] for g, m in mean.items()}
    assert onsets["Ambient"] < 0.75 * onsets["Hard Rock"], onsets
    assert onsets["Ambient"] < 0.75 * onsets["Electronica"], onsets
    assert highs["Hard Rock"] > 5 * highs["Classical"], highs
    assert highs["Hard Rock"] > 5 * highs["Ambient"], highs
