"""`python -m genre.prepare` on user layouts with awkward files; split assignment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from bad_files import (
    RATE,
    as_ordinary_user,
    dangling_symlink,
    fifo,
    locked,
    music,
    non_utf8,
    symlink_loop,
    write_audio,
)
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_prepare_lists_every_file_it_leaves_out(tmp_path):
    """Issue 14's classes of unusable files in a folder dataset: each is listed in rejected.csv
    with its reason and counted by prepare; nothing vanishes and nothing stops the run."""
    root = tmp_path / "music"
    for g, genre in enumerate(["Jazz", "Rock"]):
        for i in range(3):
            write_audio(root / genre / f"{i}.wav", music(freq=300.0 * (g + 1) + 20 * i, seed=i))
    jazz = root / "Jazz"
    # The same recording twice, as lossless copies hold it: the same 16-bit samples.
    pcm = (music(freq=300.0, seed=0) * 32767).astype(np.int16)
    write_audio(jazz / "0.wav", pcm)
    write_audio(jazz / "0 again.flac", pcm)
    write_audio(jazz / "loud.wav", music(freq=700.0) * 2.5e6, subtype="FLOAT")  # peaks of 1e6
    write_audio(jazz / "dc.wav", np.full(RATE, 0.25, np.float32))
    write_audio(jazz / "silent.wav", np.zeros(RATE, np.float32))
    write_audio(jazz / "1 Hz.wav", music(seconds=0.1), rate=1)
    write_audio(non_utf8(jazz, b"caf\xe9.wav"), music(freq=900.0))
    non_utf8(jazz, b"\xff\xfe.mp3").write_text("not audio")
    dangling_symlink(jazz / "dangling.wav")
    symlink_loop(jazz / "loop.wav")
    fifo(jazz / "pipe.wav")
    (root / "Rock" / "up").symlink_to("..")
    write_audio(root / "Rock" / "locked" / "x.wav", music(freq=1200.0))
    secret = write_audio(root / "Rock" / "secret.wav", music(freq=1300.0))
    write_audio(root / "loose.wav", music(freq=1400.0))
    args = [
        "data=folder",
        f"data.root={root}",
        "data.clip_seconds=1",
        "data.min_seconds=0.5",
        "data.chunk_seconds=1",
        f"data.cache_dir={tmp_path / 'cache'}",
    ]
    with locked(root / "Rock" / "locked", secret):
        result = run_module("genre.prepare", *args, cwd=tmp_path, prefix=as_ordinary_user())
    assert result.returncode == 0, result.stderr[-2000:]
    assert "clips     8" in result.stdout  # six tones (Jazz/0 once), the loud one, café
    cache = result.stdout.split("cache", 1)[1].split()[0]
    rejected = pd.read_csv(f"{cache}/rejected.csv", encoding_errors="surrogateescape")
    reasons = dict(zip(rejected["path"], rejected["reason"], strict=True))
    expected = {
        jazz / "0.wav": f"duplicate of {jazz / '0 again.flac'}",
        jazz / "dc.wav": "constant signal (DC only)",
        jazz / "silent.wav": "silent",
        jazz / "1 Hz.wav": "implausible sample rate (1 Hz)",
        jazz / "dangling.wav": "dangling symlink",
        jazz / "loop.wav": "symlink loop",
        jazz / "pipe.wav": "not a regular file (FIFO)",
        root / "Rock" / "up": "symlink loop",
        root / "Rock" / "locked": "unreadable folder (permission denied)",
        secret: "permission denied",
        root / "loose.wav": "not in a genre folder",
    }
    assert {k: reasons[k] for k in map(str, expected)} == {str(k): v for k, v in expected.items()}
    assert reasons[str(non_utf8(jazz, b"\xff\xfe.mp3"))].startswith("not decodable audio")
    assert len(reasons) == len(expected) + 1
    counts = result.stdout.split(f"rejected  {len(reasons)} file(s)", 1)[1].splitlines()[1:]
    assert dict(line.split(maxsplit=1)[::-1] for line in counts) == {
        "duplicate": "1",
        "constant signal": "1",
        "silent": "1",
        "implausible sample rate": "1",
        "dangling symlink": "1",
        "symlink loop": "2",
        "not a regular file": "1",
        "unreadable folder": "1",
        "permission denied": "1",
        "not in a genre folder": "1",
        "not decodable audio": "1",
    }


@pytest.mark.slow
def test_prepare_lists_csv_rows_without_path_or_genre(tmp_path):
    """A spreadsheet's export (Windows-1252, semicolons, CRLF): a row without a path or without a
    genre is listed with its reason, and a genre with a stray space is no class of its own."""
    lines = ["path;genre"]
    for g, genre in enumerate(["Jazz", "Rock"]):
        for i in range(3):
            name = f"audio/{genre} café {i}.wav"
            write_audio(tmp_path / name, music(freq=300.0 * (g + 1) + 20 * i, seed=i))
            lines.append(f"{name};{genre}{' ' * i}")
    write_audio(tmp_path / "audio" / "untagged.wav", music(freq=1000.0))
    lines += [";Jazz", "audio/untagged.wav;  ", ";;"]
    table = tmp_path / "clips.csv"
    table.write_bytes("\r\n".join(lines).encode("cp1252"))
    args = ["data=csv", f"data.root={table}", "data.clip_seconds=1", "data.chunk_seconds=1"]
    result = run_module("genre.prepare", *args, f"data.cache_dir={tmp_path / 'c'}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "clips     6" in result.stdout
    genres = result.stdout.split("genre", 1)[1].split("total", 1)[0].split()
    assert genres == ["Jazz", "1", "1", "1", "Rock", "1", "1", "1"]
    assert "rejected  2 file(s)" in result.stdout
    assert "     1  empty path\n" in result.stdout and "     1  empty genre" in result.stdout
    cache = result.stdout.split("cache", 1)[1].split()[0]
    rejected = pd.read_csv(f"{cache}/rejected.csv")
    assert rejected.values.tolist() == [
        [str(table), "empty path (line 8)"],
        [str(tmp_path / "audio" / "untagged.wav"), "empty genre"],
    ]
