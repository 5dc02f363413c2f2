"""The MagnaTagATune, GTZAN and FMA adapters on small replicas of each download's layout."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from helpers import ROOT, SHARED, data_settings
from replicas import (
    MTAT_CLIPS,
    fma_replica,
    gtzan_names,
    mtat_replica,
    write_bytes,
    write_tone,
    write_tracks_csv,
)

from genre.data.audio import DecodeError, read_mono
from genre.data.sources import read_manifest
from genre.data.sources.fma import fma
from genre.data.sources.gtzan import GENRES, gtzan
from genre.data.sources.mtat import mtat
from genre.errors import GenreError

SHIPPED_SPLIT = ROOT / "genre" / "resources" / "gtzan_split"
GENRE_TAGS = ["classical", "rock", "techno", "jazz", "new age", "hard rock"]


def by_id(manifest) -> dict[str, dict]:
    return manifest.clips.set_index("clip_id").to_dict("index")


def mtat_file(clip_id: str) -> str:
    return next(Path(path).name for cid, path, *_ in MTAT_CLIPS if cid == clip_id)


def reasons(manifest) -> dict[str, str]:
    return {
        Path(p).name: r
        for p, r in zip(manifest.rejected["path"], manifest.rejected["reason"], strict=True)
    }


# --- MagnaTagATune -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mtat_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mtat_replica(tmp_path_factory.mktemp("mtat"))


def test_mtat_genre_tags_folder_split_groups_and_rejections(mtat_root: Path) -> None:
    manifest = read_manifest(data_settings("mtat", root=str(mtat_root), genre_tags=GENRE_TAGS))
    clips = by_id(manifest)
    assert {k: (v["genre"], v["split"]) for k, v in clips.items()} == {
        "2": ("classical", "test"),
        "6": ("classical", "train"),
        "10": ("rock", "train"),
        "11": ("techno", "val"),
    }
    # One album spans folders b and f: the folder split is what it is, the group stays one.
    assert clips["2"]["group"] == clips["6"]["group"] != clips["10"]["group"]
    assert clips["2"]["path"] == str(
        mtat_root / "f/american_bach_soloists-j_s__bach_solo_cantatas-01-bwv54__i_aria-30-59.mp3"
    )
    assert reasons(manifest) == {
        mtat_file("12"): "several genre tags: rock, jazz",
        mtat_file("13"): "no genre tag",
        mtat_file("14"): "empty file",
        mtat_file("15"): "missing file",
        mtat_file("16"): "several genre tags: rock, hard rock",
    }


def test_mtat_tag_mapping_merges_tags_of_one_genre(mtat_root: Path) -> None:
    tags = {"classical": "Classical", "rock": "Rock", "hard rock": "Rock", "techno": "Electronica"}
    manifest = mtat(data_settings("mtat", root=str(mtat_root), genre_tags=tags))
    clips = by_id(manifest)
    assert {k: v["genre"] for k, v in clips.items()} == {
        "2": "Classical",
        "6": "Classical",
        "10": "Rock",
        "11": "Electronica",
        "12": "Rock",  # rock + jazz, and jazz is not a chosen tag
        "16": "Rock",  # rock + hard rock: one genre
    }
    # The adapter does not decode: a text file named .mp3 passes, and the decoder rejects it.
    with pytest.raises(DecodeError):
        read_mono(clips["16"]["path"], 16000)
    assert read_mono(clips["2"]["path"], 16000).samples.size > 0


@pytest.mark.parametrize("sep", [",", "\t"])
def test_mtat_genre_map_by_album(mtat_root: Path, tmp_path: Path, sep: str) -> None:
    genre_map = tmp_path / "albums.csv"
    pd.DataFrame(
        {
            "artist": ["whoever", "Jacob Heringman", "Tilopa"],
            "album": ["J.S. Bach Solo Cantatas", " black cow ", "Out of the Blue"],
            "Genre": ["Classical", "Early Music", "Electronica"],
        }
    ).to_csv(genre_map, sep=sep, index=False)
    manifest = mtat(data_settings("mtat", root=str(mtat_root), genre_map=str(genre_map)))
    assert {k: v["genre"] for k, v in by_id(manifest).items()} == {
        "2": "Classical",
        "6": "Classical",
        "10": "Early Music",
        "11": "Electronica",
    }
    assert list(manifest.rejected["reason"]).count("not in genre_map") == 5


def test_mtat_genre_map_by_mp3_path(mtat_root: Path, tmp_path: Path) -> None:
    genre_map = tmp_path / "clips.csv"
    genre_map.write_text(
        "mp3_path,genre\n"
        "0/jacob_heringman-black_cow-02-bakfark_non_accedat_ad_te_malum-0-29.mp3,Lute\n"
    )
    manifest = mtat(data_settings("mtat", root=str(mtat_root), genre_map=str(genre_map)))
    assert {k: v["genre"] for k, v in by_id(manifest).items()} == {"10": "Lute"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({}, "set data.genre_map"),
        ({"genre_tags": ["rock"], "genre_map": "/x.csv"}, "only one"),
        ({"genre_tags": ["rock", "polka"]}, "polka"),
        ({"genre_tags": []}, "non-empty"),
        ({"genre_map": "/nonexistent/genres.csv"}, "does not exist"),
    ],
)
def test_mtat_genre_options_errors(mtat_root: Path, overrides: dict, message: str) -> None:
    with pytest.raises(GenreError, match=message):
        mtat(data_settings("mtat", root=str(mtat_root), **overrides))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("title,genre\nGently,New Age\n", "needs a genre column"),
        ("artist,style\nTilopa,Electronica\n", "needs a genre column"),
        ("artist,genre\nTilopa,Electronica\ntilopa ,Ambient\n", "several genres for artist"),
    ],
)
def test_mtat_bad_genre_map(mtat_root: Path, tmp_path: Path, content: str, message: str) -> None:
    genre_map = write_bytes(tmp_path / "map.csv", content.encode())
    with pytest.raises(GenreError, match=message):
        mtat(data_settings("mtat", root=str(mtat_root), genre_map=str(genre_map)))


def test_mtat_missing_root_and_metadata(tmp_path: Path) -> None:
    with pytest.raises(GenreError, match="not set"):
        mtat(data_settings("mtat", genre_tags=["rock"]))
    with pytest.raises(GenreError, match="does not exist"):
        mtat(data_settings("mtat", root=str(tmp_path / "nowhere"), genre_tags=["rock"]))
    root = mtat_replica(tmp_path / "mtat")
    (root / "clip_info_final.csv").unlink()
    with pytest.raises(GenreError, match="clip_info_final.csv does not exist"):
        mtat(data_settings("mtat", root=str(root), genre_tags=["rock"]))
    # Re-saved with commas: the header is one column, so neither clip_id nor mp3_path is found.
    mtat_replica(root)
    (root / "annotations_final.csv").write_text("clip_id,rock,mp3_path\n2,1,f/a.mp3\n")
    with pytest.raises(GenreError, match="no column clip_id, mp3_path"):
        mtat(data_settings("mtat", root=str(root), genre_tags=["rock"]))


# --- GTZAN -------------------------------------------------------------------------------------


def split_counts(manifest) -> dict[str, int]:
    return manifest.clips["split"].value_counts().to_dict()


@pytest.mark.parametrize(
    ("layout", "suffix"),
    [
        ("genres_original", ".wav"),
        ("genres", ".au"),
        ("Data/genres_original", ".wav"),
        (".", ".wav"),
    ],
)
def test_gtzan_shipped_artist_filtered_split(tmp_path: Path, layout: str, suffix: str) -> None:
    base = gtzan_names(tmp_path / layout, suffix)
    manifest = read_manifest(data_settings("gtzan", root=str(tmp_path)))
    assert split_counts(manifest) == {"train": 443, "val": 197, "test": 290}
    clips = by_id(manifest)
    assert clips["blues.00012"]["split"] == "test"
    assert clips["blues.00000"]["split"] == "val"
    assert clips["jazz.00054"] == {
        "path": str(base.absolute() / "jazz" / f"jazz.00054{suffix}"),
        "genre": "jazz",
        "split": "train",
        "group": None,  # to_dict turns <NA> into None
    }
    assert manifest.rejected["reason"].tolist() == ["not in the artist-filtered split"] * 70
    assert set(manifest.clips["genre"]) == set(GENRES)


def test_gtzan_shipped_lists_are_the_reference_ones() -> None:
    reference = SHARED / "datasets" / "gtzan_split"
    if not reference.is_dir():
        pytest.skip(f"the reference lists are not at {reference} (shared/ beside the clone)")
    for name in ("train_filtered.txt", "valid_filtered.txt", "test_filtered.txt"):
        assert (SHIPPED_SPLIT / name).read_text() == (reference / name).read_text()


def test_gtzan_custom_split_dir_matches_any_extension(tmp_path: Path) -> None:
    base = tmp_path / "genres"
    write_tone(base / "blues" / "blues.00000.au", 22050)
    write_tone(base / "rock" / "rock.00007.au", 22050)
    write_tone(base / "rock" / "rock.00008.au", 22050)
    write_bytes(base / "pop" / "pop.00001.au", b"")
    write_bytes(base / "pop" / "._pop.00001.au", b"resource fork")
    write_bytes(base / "pop" / "notes.txt", b"not a clip")
    lists = tmp_path / "lists"
    write_bytes(lists / "train_filtered.txt", b"blues/blues.00000.wav\r\npop/pop.00001.wav\r\n")
    write_bytes(lists / "valid_filtered.txt", b"\ngenres/rock/rock.00007.wav\n")
    write_bytes(lists / "test_filtered.txt", b"jazz/jazz.00003.wav\n")
    manifest = gtzan(data_settings("gtzan", root=str(tmp_path), split_dir=str(lists)))
    assert {k: v["split"] for k, v in by_id(manifest).items()} == {
        "blues.00000": "train",
        "rock.00007": "val",
    }
    assert reasons(manifest) == {
        "rock.00008.au": "not in the artist-filtered split",
        "jazz.00003.wav": "missing file",
        "pop.00001.au": "empty file",
    }
    assert read_mono(by_id(manifest)["rock.00007"]["path"], 22050).samples.size == 11025


def test_gtzan_random_split_warns_and_keeps_everything(tmp_path: Path) -> None:
    gtzan_names(tmp_path / "genres_original", ".wav")
    with pytest.warns(UserWarning, match="artist"):
        manifest = gtzan(data_settings("gtzan", root=str(tmp_path), split_dir="random"))
    assert len(manifest.clips) == 1000
    assert manifest.clips["split"].isna().all()
    assert manifest.rejected.empty


def test_gtzan_stem_split_by_ranges(tmp_path: Path) -> None:
    gtzan_names(tmp_path / "genres_original", ".wav")
    manifest = gtzan(data_settings("gtzan", root=str(tmp_path), stem_split=[35, 42]))
    clips = by_id(manifest)
    assert [clips[f"jazz.000{n}"]["split"] for n in (35, 36, 42, 43)] == [
        "train",
        "val",
        "val",
        "test",
    ]
    # Stems 0..35 of 100 per genre, 36..42, 43..99; nothing is left out as unlisted.
    assert split_counts(manifest) == {"train": 360, "val": 70, "test": 570}
    assert manifest.rejected.empty
    for bad in ([42, 35], [1], "35"):
        with pytest.raises(GenreError, match="data.stem_split"):
            gtzan(data_settings("gtzan", root=str(tmp_path), stem_split=bad))


def test_gtzan_errors(tmp_path: Path) -> None:
    write_tone(tmp_path / "music" / "blues" / "blues.00000.wav", 22050)
    with pytest.raises(GenreError, match="No GTZAN genre folders"):
        gtzan(data_settings("gtzan", root=str(tmp_path)))
    lists = write_bytes(tmp_path / "lists" / "train_filtered.txt", b"blues/blues.00000.wav\n")
    with pytest.raises(GenreError, match="lacks valid_filtered.txt, test_filtered.txt"):
        gtzan(data_settings("gtzan", root=str(tmp_path / "music"), split_dir=str(lists.parent)))
    write_bytes(lists.parent / "valid_filtered.txt", b"blues/blues.00000.au\n")
    write_bytes(lists.parent / "test_filtered.txt", b"")
    with pytest.raises(GenreError, match="blues/blues.00000 is in two of the split lists"):
        gtzan(data_settings("gtzan", root=str(tmp_path / "music"), split_dir=str(lists.parent)))
    write_tone(tmp_path / "music" / "blues" / "blues.00000.au", 22050)
    with pytest.raises(GenreError, match="two formats"):
        gtzan(data_settings("gtzan", root=str(tmp_path / "music")))


# --- FMA ---------------------------------------------------------------------------------------


def test_fma_small(tmp_path: Path) -> None:
    root = fma_replica(tmp_path, subsets=("small",))
    manifest = read_manifest(data_settings("fma", root=str(root)))
    clips = by_id(manifest)
    assert {k: (v["genre"], v["split"], v["group"]) for k, v in clips.items()} == {
        "000002": ("Hip-Hop", "train", "1"),
        "000005": ("Hip-Hop", "train", "1"),
        "000010": ("Pop", "val", "6"),
        "000140": ("Folk", "test", "54"),
        "099134": ("Experimental", "train", "20000"),  # no audio: the decoder rejects it
    }
    assert clips["000140"]["path"] == str(root / "fma_small" / "000" / "000140.mp3")
    assert reasons(manifest) == {"108925.mp3": "empty file", "133297.mp3": "missing file"}
    assert read_mono(clips["000002"]["path"], 16000).samples.size > 0
    with pytest.raises(DecodeError):
        read_mono(clips["099134"]["path"], 16000)


def test_fma_subsets_are_nested(tmp_path: Path) -> None:
    root = fma_replica(tmp_path, subsets=("medium", "large"))
    medium = fma(data_settings("fma", root=str(root), subset="medium"))
    assert set(medium.clips["clip_id"]) == {
        "000002",
        "000005",
        "000010",
        "000140",
        "099134",
        "000020",
    }
    assert all("/fma_medium/" in p for p in medium.clips["path"])
    large = fma(data_settings("fma", root=str(root), subset="large"))
    assert set(large.clips["clip_id"]) == set(medium.clips["clip_id"]) | {"000040"}
    assert reasons(large)["000030.mp3"] == "no top genre"
    assert len(large.rejected) == 3


def test_fma_errors(tmp_path: Path) -> None:
    with pytest.raises(GenreError, match="fma_small does not exist"):
        fma(data_settings("fma", root=str(tmp_path)))
    (tmp_path / "fma_small").mkdir()
    with pytest.raises(GenreError, match="tracks.csv does not exist"):
        fma(data_settings("fma", root=str(tmp_path)))
    with pytest.raises(GenreError, match="Unknown data.subset 'tiny'"):
        fma(data_settings("fma", root=str(tmp_path), subset="tiny"))
    tracks = tmp_path / "fma_metadata" / "tracks.csv"
    write_tracks_csv(tracks)
    flat = pd.read_csv(tracks, header=[0, 1], index_col=0)
    flat.columns = ["_".join(c) for c in flat.columns]  # a re-saved, one-row-header copy
    flat.to_csv(tracks)
    with pytest.raises(GenreError, match="no column track.genre_top, set.split"):
        fma(data_settings("fma", root=str(tmp_path)))
