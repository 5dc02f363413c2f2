"""Bad data as new users bring it (issue 14), one test per class: each ends in a kept clip, a
listed rejection or one sentence, never in a traceback or a silently wrong cache. The classes that
need prepare or permissions are in test_prepare.py, prediction's in test_reproduce_predict.py."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import soxr
from bad_files import RATE, music, non_utf8, symlink_loop, write_audio
from omegaconf import OmegaConf

from genre.data.audio import DecodeError, read_mono
from genre.data.cache import AudioSpec, load_or_build
from genre.data.sources import read_manifest
from genre.errors import GenreError
from genre.synth.mix import Settings, render

SPEC = AudioSpec(sample_rate=RATE, clip_seconds=1.5, min_seconds=0.5)


def csv_manifest(table: Path):
    return read_manifest(OmegaConf.create({"source": "csv", "root": str(table)}))


def test_loud_float_audio_is_scaled_never_stored_as_inf(tmp_path: Path) -> None:
    """Peaks of 1e6 (beyond float16's 65504) are a wrong scale: stored at full scale. A loud
    master's overshoot of a few dB is kept as it is."""
    x, y = music(), music(freq=650.0, seed=1)  # two recordings: one at two gains is one clip
    loud = write_audio(tmp_path / "loud.wav", x * 2.5e6, subtype="FLOAT")
    hot = write_audio(tmp_path / "hot.wav", y * 3.0, subtype="FLOAT")
    table = tmp_path / "clips.csv"
    table.write_text("path,genre\nloud.wav,A\nhot.wav,A\n")
    cache = load_or_build(csv_manifest(table), SPEC, tmp_path / "cache", workers=1)
    assert list(cache.clips["path"]) == [str(loud), str(hot)]
    audio = np.asarray(cache.audio, dtype=np.float32)
    assert np.isfinite(audio).all()
    np.testing.assert_allclose(audio[0], x / np.abs(x).max(), atol=1e-3)
    np.testing.assert_allclose(audio[1], y * 3.0, atol=2e-3)


def test_duplicate_audio_is_kept_once_in_its_held_out_split(tmp_path: Path) -> None:
    """The same recording under three names and two formats, put in train, test and no split by
    the csv: the test copy is kept, the others are listed as its duplicates."""
    pcm = (music() * 32767).astype(np.int16)  # what lossless copies of one recording hold
    for name in ("dup.wav", "dup.flac", "dup again.wav"):
        write_audio(tmp_path / name, pcm)
    for i in range(3):
        write_audio(tmp_path / f"other {i}.wav", music(freq=500.0 + 100 * i, seed=i))
    table = tmp_path / "clips.csv"
    table.write_text(
        "path,genre,split\ndup.wav,A,train\nother 0.wav,A,train\ndup.flac,A,test\n"
        "dup again.wav,A,\nother 1.wav,A,val\nother 2.wav,A,test\n"
    )
    cache = load_or_build(csv_manifest(table), SPEC, tmp_path / "cache", workers=1)
    kept = dict(zip(cache.clips["path"], cache.clips["split"], strict=True))
    assert kept == {
        str(tmp_path / "other 0.wav"): "train",
        str(tmp_path / "dup.flac"): "test",
        str(tmp_path / "other 1.wav"): "val",
        str(tmp_path / "other 2.wav"): "test",
    }
    assert cache.rejected.values.tolist() == [
        [str(tmp_path / name), f"duplicate of {tmp_path / 'dup.flac'}"]
        for name in ("dup.wav", "dup again.wav")
    ]
    rows = {row.tobytes() for row in np.asarray(cache.audio)}
    assert len(rows) == len(cache.clips)


def test_near_duplicates_are_found_across_formats_encoders_and_rates(tmp_path: Path) -> None:
    """One recording as 16-bit WAV, as FLAC one least-significant bit apart in places, as an MP3
    re-encode and as a copy at 22.05 kHz: one copy kept, the others listed as its
    near-duplicates. Other songs of the same genre, on their own beat, are all kept."""
    settings = Settings(clips_per_genre=4, seconds=6.0, sample_rate=16000, seed=3,
                        difficulty=0.3, mp3_share=0.0)  # fmt: skip
    song = render("Alt Rock", 0, settings)
    pcm = np.round(song * 32767).astype(np.int16)
    nudged = pcm.copy()
    nudged[::97] += 1  # where another encoder rounded the other way
    write_audio(tmp_path / "master.wav", pcm, rate=16000)
    write_audio(tmp_path / "rounded.flac", nudged, rate=16000)
    write_audio(tmp_path / "lossy.mp3", song, rate=16000)
    write_audio(tmp_path / "resampled.wav", soxr.resample(song, 16000, 22050), rate=22050)
    others = [f"other {i}.wav" for i in range(1, 4)]
    for i, name in enumerate(others, 1):
        write_audio(tmp_path / name, render("Alt Rock", i, settings), rate=16000)
    table = tmp_path / "clips.csv"
    copies = ["master.wav", "rounded.flac", "lossy.mp3", "resampled.wav"]
    table.write_text("path,genre\n" + "".join(f"{name},rock\n" for name in copies + others))
    spec = AudioSpec(sample_rate=8000, clip_seconds=5.0, min_seconds=1.0)
    cache = load_or_build(csv_manifest(table), spec, tmp_path / "cache", workers=1)
    assert list(cache.clips["path"]) == [str(tmp_path / n) for n in ["master.wav", *others]]
    assert cache.rejected.values.tolist() == [
        [str(tmp_path / name), f"near-duplicate of {tmp_path / 'master.wav'}"]
        for name in copies[1:]
    ]


def _write(content: bytes):
    return lambda table: table.write_bytes(content)


CAFE = "path,genre\ncafé.wav,Café\n"


@pytest.mark.parametrize(
    ("make", "outcome"),
    [
        (_write(b"path,genre\na.wav,A\nb.wav,A,extra\n"), "line 3 has 3 field(s) where its header"),
        (_write(b"path,genre\na.wav\n"), "line 2 has 1 field(s) where its header has 2"),
        (_write(b'path,genre\n"a, b.wav",A\n\n"c.wav\n'), "line 4 has 1 field(s)"),
        (_write(b""), "is empty"),
        (_write(b"\r\n \r\n"), "is empty"),
        (_write(b"path,genre\n"), "has a header but no rows"),
        (_write(b"PK\x03\x04\x14\x00\x06\x00"), "is not text in UTF-8 or Windows-1252"),
        (lambda table: table.symlink_to(table.name), "cannot be read (symlink loop)"),
        (lambda table: os.mkfifo(table), "cannot be read (not a regular file (FIFO))"),
        (lambda table: table.mkdir(), "cannot be read (a folder, not a file)"),
        (lambda table: None, "does not exist"),
        (_write(b"\xef\xbb\xbf" + CAFE.encode()), "read"),  # UTF-8 with BOM ("CSV UTF-8")
        (_write(CAFE.encode("cp1252")), "read"),  # Windows' plain "CSV"
        (_write(CAFE.replace(",", "\t").encode("utf-16")), "read"),  # "Unicode Text"
        (_write(CAFE.replace(",", ";").encode("cp1252")), "read"),  # where "," is the decimal mark
    ],
)
def test_hand_made_csv_files(tmp_path: Path, make, outcome: str) -> None:
    write_audio(tmp_path / "café.wav", music())
    table = tmp_path / "clips.csv"
    make(table)
    if outcome != "read":
        with pytest.raises(GenreError, match=re.escape(outcome)) as error:
            csv_manifest(table)
        assert str(table) in str(error.value) and "\n" not in str(error.value)
        return
    manifest = csv_manifest(table)
    assert manifest.clips[["path", "genre"]].values.tolist() == [
        [str(tmp_path / "café.wav"), "Café"]
    ]


def test_csv_row_whose_file_is_a_symlink_loop_is_listed(tmp_path: Path) -> None:
    write_audio(tmp_path / "a.wav", music())
    symlink_loop(tmp_path / "loop.wav")
    table = tmp_path / "clips.csv"
    table.write_text("path,genre\na.wav,A\nloop.wav,A\n")
    manifest = csv_manifest(table)
    assert list(manifest.clips["path"]) == [str(tmp_path / "a.wav")]
    assert manifest.rejected.values.tolist() == [[str(tmp_path / "loop.wav"), "symlink loop"]]


def test_file_names_that_are_not_utf8(tmp_path: Path) -> None:
    """Latin-1 names from an old archive, for folders and files: kept when the file decodes (its
    path kept byte for byte), listed when it does not; one bad name stops nothing."""
    root = tmp_path / "archive"
    chanson = non_utf8(root, b"Chanson fran\xe7aise")
    names = [b"\xc0 la claire fontaine.wav", b"Caf\xe9 1.flac", b"Caf\xe9 2.mp3"]
    for i, name in enumerate(names):
        write_audio(non_utf8(chanson, name), music(freq=300.0 + 50 * i))
    broken = non_utf8(chanson, b"Cass\xe9e.wav")
    broken.write_bytes(b"RIFF, but cut off")
    write_audio(root / "Jazz" / "ok.wav", music(freq=900.0))
    manifest = read_manifest(OmegaConf.create({"source": "folder", "root": str(root)}))
    cache = load_or_build(manifest, SPEC, tmp_path / "cache", workers=1)
    assert sorted(map(os.fsencode, cache.clips["path"])) == sorted(
        [os.fsencode(chanson / os.fsdecode(n)) for n in names] + [os.fsencode(root / "Jazz/ok.wav")]
    )
    for path in cache.clips["path"]:
        read_mono(path, RATE)  # the name read back from clips.csv opens the file
    assert set(cache.clips["genre"]) == {"Chanson fran\\xe7aise", "Jazz"}
    assert cache.rejected["path"].tolist() == [str(broken)]
    assert cache.rejected["reason"].iloc[0].startswith("not decodable audio")


def test_music_after_minutes_of_silence_is_kept(tmp_path: Path) -> None:
    """A file of 40 minutes of silence and then music (a hidden track): its middle is silent, so
    the clip is taken from where the sound starts. Silence throughout is still "silent"."""
    late, silent = tmp_path / "late.flac", tmp_path / "silent.flac"
    for path, tail in [(late, music(20.0)), (silent, np.zeros(RATE * 20, np.float32))]:
        with sf.SoundFile(path, "w", RATE, 1, format="FLAC") as out:
            for _ in range(40):
                out.write(np.zeros(RATE * 60, np.float32))
            out.write(tail)
    decoded = read_mono(late, RATE, max_seconds=10.0)
    assert decoded.seconds == pytest.approx(40 * 60 + 20)
    np.testing.assert_allclose(decoded.samples, music(20.0)[: RATE * 10], atol=1e-4)
    with pytest.raises(DecodeError, match="^silent$"):
        read_mono(silent, RATE, max_seconds=10.0)


def test_genre_names_are_tidied_and_lookalikes_warned(tmp_path: Path) -> None:
    genres = ["Jazz ", " Jazz", "Jazz", "jazz", "Hip  Hop", "Hip Hop\t", "HipHop"]
    for i in range(len(genres)):
        write_audio(tmp_path / f"{i}.wav", music(freq=300.0 + 20 * i))
    pd.DataFrame({"path": [f"{i}.wav" for i in range(len(genres))], "genre": genres}).to_csv(
        tmp_path / "clips.csv", index=False
    )
    with pytest.warns(UserWarning) as warned:
        manifest = csv_manifest(tmp_path / "clips.csv")
    assert list(manifest.clips["genre"]) == [
        "Jazz",
        "Jazz",
        "Jazz",
        "jazz",
        "Hip Hop",
        "Hip Hop",
        "HipHop",
    ]
    assert sorted(str(w.message).split(" differ")[0] for w in warned) == [
        "Genres 'Hip Hop' and 'HipHop'",
        "Genres 'Jazz' and 'jazz'",
    ]


@pytest.mark.parametrize(
    ("samples", "rate", "reason"),
    [
        (np.full(RATE, 0.3, np.float32), RATE, "constant signal (DC only)"),
        # Length before content: one sample is too short, not "constant".
        (np.array([0.3], np.float32), RATE, "too short (0.00 s < 0.5 s)"),
        (np.array([0.3, -0.2], np.float32), RATE, "too short (0.00 s < 0.5 s)"),
        (0.3 + 1e-5 * music(), RATE, "constant signal (DC only)"),
        (music(0.05), 1, "implausible sample rate (1 Hz)"),
        (music(), 2_000_000, "implausible sample rate (2000000 Hz)"),
    ],
)
def test_dc_only_and_implausible_sample_rates_are_rejected(
    tmp_path: Path, samples: np.ndarray, rate: int, reason: str
) -> None:
    path = write_audio(tmp_path / "x.wav", samples.astype(np.float32), rate=rate, subtype="FLOAT")
    with pytest.raises(DecodeError, match=f"^{re.escape(reason)}$"):
        read_mono(path, RATE, min_seconds=0.5)
    music_with_offset = read_mono(write_audio(tmp_path / "y.wav", 0.3 + music()), RATE)
    assert music_with_offset.samples.mean() == pytest.approx(0.3, abs=0.01)
