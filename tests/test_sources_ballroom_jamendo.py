"""The Ballroom and MTG-Jamendo adapters on replicas of their downloads' layouts."""

from __future__ import annotations

from pathlib import Path

import pytest
from replicas import ballroom_replica, mtg_jamendo_replica, write_tone

from genre.config import DataConfig, MtgJamendoDataConfig
from genre.data.sources import read_manifest
from genre.errors import GenreError


def data(source: str, root: Path, **keys: object) -> DataConfig:
    schema = MtgJamendoDataConfig if source == "mtg_jamendo" else DataConfig
    return schema(source=source, root=str(root), **keys)


def reasons(manifest) -> dict[str, str]:
    return {Path(p).name: r for p, r in manifest.rejected[["path", "reason"]].to_numpy()}


def test_ballroom_styles_come_from_the_folders_with_the_rumbas_as_one(tmp_path) -> None:
    ballroom_replica(tmp_path)
    write_tone(tmp_path / "BallroomData" / "nada" / "stray.wav", 11025)
    manifest = read_manifest(data("ballroom", tmp_path))
    counts = manifest.clips["genre"].value_counts().to_dict()
    assert counts == {"Rumba": 9} | {
        style: 3
        for style in ("ChaChaCha", "Jive", "Quickstep", "Samba", "Tango", "VienneseWaltz", "Waltz")
    }
    assert manifest.clips["split"].isna().all()  # no official split: the random one applies
    assert reasons(manifest) == {
        "Media-empty.wav": "empty file",
        "stray.wav": "not in a Ballroom style folder",
    }


def test_ballroom_reads_mirdatas_copy_and_refuses_tagging_and_other_folders(tmp_path) -> None:
    ballroom_replica(tmp_path / "src")
    (tmp_path / "mirdata" / "B_1.0").mkdir(parents=True)
    (tmp_path / "src" / "BallroomData").rename(tmp_path / "mirdata" / "B_1.0" / "audio")
    assert len(read_manifest(data("ballroom", tmp_path / "mirdata")).clips) == 30
    with pytest.raises(GenreError, match="task=tagging needs tags, and data=ballroom has none"):
        read_manifest(data("ballroom", tmp_path / "mirdata"), tagging=True)
    with pytest.raises(GenreError, match="No Ballroom style folders"):
        read_manifest(data("ballroom", tmp_path / "src"))


@pytest.fixture(scope="module")
def jamendo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mtg_jamendo_replica(tmp_path_factory.mktemp("jamendo"))


def test_mtg_jamendo_tags_splits_and_groups(jamendo: Path) -> None:
    manifest = read_manifest(data("mtg_jamendo", jamendo), tagging=True)
    clips = manifest.clips.set_index("clip_id")
    assert clips.loc["track_0001200", "tags"] == "electronic;rock"
    assert clips.loc["track_0001200", "path"] == str(jamendo / "01" / "1200.low.mp3")
    assert clips["split"].value_counts().to_dict() == {"train": 2, "val": 2, "test": 3}
    assert clips.loc["track_0001101", "group"] == "artist_000027"
    assert reasons(manifest) == {
        "214.low.mp3": "missing file",
        "215.low.mp3": "missing file",
        "1401.low.mp3": "empty file",
        "1501.low.mp3": "not in split-0",
    }


def test_mtg_jamendo_single_label_reads_the_tracks_with_one_genre(jamendo: Path) -> None:
    manifest = read_manifest(data("mtg_jamendo", jamendo))
    assert manifest.clips.set_index("clip_id")["genre"].to_dict() == {
        "track_0001000": "electronic",
        "track_0001001": "rock",
        "track_0001100": "rock",
        "track_0001101": "electronic",
        "track_0001301": "rock",
        "track_0001302": "electronic",
    }
    assert reasons(manifest)["1200.low.mp3"] == "several genre tags: electronic, rock"


def test_mtg_jamendo_full_audio_other_splits_and_foreign_files(jamendo: Path, tmp_path) -> None:
    full = mtg_jamendo_replica(tmp_path / "full")
    write_tone(full / "00" / "1000.mp3", 44100)
    clips = read_manifest(data("mtg_jamendo", full, audio="full"), tagging=True).clips
    assert clips["path"].tolist() == [str(full / "00" / "1000.mp3")]
    with pytest.raises(GenreError, match="split-3/autotagging_genre-train.tsv does not exist"):
        read_manifest(data("mtg_jamendo", jamendo, split=3), tagging=True)
    (tmp_path / "autotagging_genre.tsv").write_text("path,genre\na.mp3,rock\n")
    with pytest.raises(GenreError, match="does not start with the header TRACK_ID ARTIST_ID"):
        read_manifest(data("mtg_jamendo", tmp_path), tagging=True)
