"""`python -m genre.prepare` on user layouts with awkward files; split assignment."""

from __future__ import annotations

import pandas as pd
import pytest
import soundfile as sf
from helpers import run_module, tone

from genre.data.splits import assign_splits
from genre.errors import GenreError


@pytest.fixture
def csv_dataset(tmp_path):
    """A csv dataset: non-ASCII and space-laden names, a missing file, a duplicate clip id,
    an 8 kHz stereo flac, a clip shorter than the chunk, and a text file posing as mp3."""
    audio = tmp_path / "audio files"
    audio.mkdir()
    rows = []
    for g, genre in enumerate(["Jazz", "Hip-Hop"]):
        for i in range(4):
            name = f"{genre} — café nº{i}.wav" if i % 2 else f"{genre}_{i}.mp3"
            x = tone(2.0, 22050, 300.0 * (g + 1) + 10 * i)
            sf.write(audio / name, x, 22050, format="MP3" if name.endswith("mp3") else "WAV")
            rows.append((f"audio files/{name}", genre, f"{genre}-{i}"))
    sf.write(audio / "stereo.flac", tone(2.0, 8000, 500.0, channels=2), 8000)
    rows.append(("audio files/stereo.flac", "Jazz", "stereo"))
    sf.write(audio / "short.wav", tone(0.7, 16000, 500.0), 16000)
    rows.append(("audio files/short.wav", "Jazz", "short"))
    (audio / "fake.mp3").write_text("ID3 but not really")
    rows.append(("audio files/fake.mp3", "Hip-Hop", "fake"))
    rows.append(("audio files/gone.wav", "Jazz", "gone"))
    rows.append(("audio files/Jazz_0.mp3", "Jazz", "Jazz-0"))  # the same clip listed twice
    table = pd.DataFrame(rows, columns=["path", "genre", "clip_id"])
    table.to_csv(tmp_path / "clips.csv", index=False)
    return tmp_path / "clips.csv"


def test_prepare_reports_clips_and_rejections(csv_dataset, tmp_path):
    args = [
        "data=csv",
        f"data.root={csv_dataset}",
        "data.clip_seconds=2",
        "data.min_seconds=0.5",
        "data.chunk_seconds=1",
    ]
    result = run_module("genre.prepare", *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "clips     10" in out  # 8 tones + stereo flac + the short clip (padded)
    assert "1 padded" in out
    assert "rejected  3 file(s)" in out
    for reason in ("missing file", "duplicate clip id or path", "not decodable audio"):
        assert reason in out
    cache = out.split("cache", 1)[1].split()[0]
    rejected = pd.read_csv(f"{cache}/rejected.csv")
    assert sorted(rejected["path"].str.rsplit("/", n=1).str[1]) == [
        "Jazz_0.mp3",
        "fake.mp3",
        "gone.wav",
    ]
    clips = pd.read_csv(f"{cache}/clips.csv")
    assert any("café" in p for p in clips["path"])

    again = run_module("genre.prepare", *args, cwd=tmp_path)
    assert "decode" not in again.stderr  # unchanged dataset: a fingerprint check, no decoding
    assert again.stdout == out


def test_prepare_rejects_clips_below_the_minimum(csv_dataset, tmp_path):
    result = run_module(
        "genre.prepare",
        "data=csv",
        f"data.root={csv_dataset}",
        "data.clip_seconds=2",
        "data.min_seconds=1.0",
        "data.chunk_seconds=1",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "too short" in result.stdout and "clips     9" in result.stdout


def clips_frame(n_per_genre: int, groups: int | None = None, split=pd.NA) -> pd.DataFrame:
    rows = [
        {
            "clip_id": f"{g}{i}",
            "path": f"/{g}{i}",
            "genre": g,
            "split": split,
            "group": f"{g}-album{i % groups}" if groups else pd.NA,
        }
        for g in ("A", "B")
        for i in range(n_per_genre)
    ]
    return pd.DataFrame(rows).astype("string")


def test_stratified_split_is_fixed_by_seed_and_covers_every_genre():
    clips = clips_frame(20)
    first = assign_splits(clips, 0.2, 0.1, seed=0)
    assert first.equals(assign_splits(clips, 0.2, 0.1, seed=0))
    assert not first.equals(assign_splits(clips, 0.2, 0.1, seed=1))
    counts = first.groupby(["genre", "split"]).size()
    assert counts["A"].to_dict() == {"test": 2, "train": 14, "val": 4}


def test_grouped_split_never_leaks_a_group():
    split = assign_splits(clips_frame(30, groups=6), 0.2, 0.2, seed=0)
    assert (split.groupby("group")["split"].nunique() == 1).all()
    assert set(split["split"]) == {"train", "val", "test"}


def test_given_splits_are_kept_and_checked():
    clips = clips_frame(3)
    clips["split"] = ["train", "val", "test"] * 2
    assert assign_splits(clips, 0.2, 0.2, seed=0)["split"].tolist() == clips["split"].tolist()
    clips.loc[clips["genre"] == "B", "split"] = "test"
    with pytest.raises(GenreError, match=r"\['B'\] have no training clips"):
        assign_splits(clips, 0.2, 0.2, seed=0)
