"""Tiny on-disk replicas of the public datasets' layouts: the real folder structure, file names and
metadata formats (TAB-separated quoted csv, two-row headers), with short real audio files and the
kinds of broken file the real downloads hold. Clips are a few hundred milliseconds long."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from genre.data.sources.gtzan import GENRES
from genre.data.sources.mtat import PUBLISHED_TOP50

TEXT_NOT_AUDIO = b"<html>404 Not Found</html>\n"


def write_tone(path: Path, sample_rate: int, seconds: float = 0.5, freq: float = 440.0) -> Path:
    """A real, decodable sine tone in the format named by the suffix (wav, au, mp3)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    sf.write(path, 0.3 * np.sin(2 * np.pi * freq * t), sample_rate)
    return path


def write_bytes(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


# --- MagnaTagATune -----------------------------------------------------------------------------

# Real tag columns of annotations_final.csv: the published top 50 (Won et al., 2020, most frequent
# first, as genre's mtat adapter holds them) and two more of the file's 188.
MTAT_TOP50 = list(PUBLISHED_TOP50)
MTAT_TAGS = [*MTAT_TOP50, "jazz", "hard rock"]
BACH = ("American Bach Soloists", "J.S. Bach Solo Cantatas")
# clip_id, mp3_path, tags set to 1, (artist, album), what is on disk
MTAT_CLIPS = [
    (
        "2",
        "f/american_bach_soloists-j_s__bach_solo_cantatas-01-bwv54__i_aria-30-59.mp3",
        {"classical", "strings"},
        BACH,
        "audio",
    ),
    (
        "6",
        "b/american_bach_soloists-j_s__bach_solo_cantatas-01-bwv54__i_aria-117-146.mp3",
        {"classical", "no voice", "strings"},
        BACH,
        "audio",
    ),
    (
        "10",
        "0/jacob_heringman-black_cow-02-bakfark_non_accedat_ad_te_malum-0-29.mp3",
        {"rock", "guitar"},
        ("Jacob Heringman", "Black Cow"),
        "audio",
    ),
    (
        "11",
        "c/tilopa-out_of_the_blue-03-techno_tiger-88-117.mp3",
        {"techno"},
        ("Tilopa", "Out of the Blue"),
        "audio",
    ),
    (
        "12",
        "3/jeff_wahl-guitarscapes-04-spirit-30-59.mp3",
        {"rock", "jazz", "guitar"},
        ("Jeff Wahl", "Guitarscapes"),
        "audio",
    ),
    (
        "13",
        "5/jeff_wahl-guitarscapes-05-wind-0-29.mp3",
        {"guitar"},
        ("Jeff Wahl", "Guitarscapes"),
        "audio",
    ),
    (
        "14",
        "6/norine_braun-now_and_zen-08-gently-117-146.mp3",
        {"new age"},
        ("Norine Braun", "Now and Zen"),
        "empty",
    ),
    (
        "15",
        "9/dj_markitos-slower_emotions138_bpm_remixes-01-ambient_dream-30-59.mp3",
        {"techno"},
        ("DJ Markitos", "Slower Emotions"),
        "absent",
    ),
    (
        "16",
        "e/rocket_city_riot-middle_age_suicide-01-everyday_like_saturday-30-59.mp3",
        {"rock", "hard rock", "guitar"},
        ("Rocket City Riot", "Middle Age Suicide"),
        "text",
    ),
]


def mtat_replica(root: Path) -> Path:
    """An MTAT root: clip 14 is one of the real 0-byte files, 15 was never downloaded, 16 is a
    text file named .mp3, 12 has two genre tags and 13 none. Tag counts over the file: guitar 4,
    rock 3, classical, strings and techno 2 each, the other tags 1 or 0."""
    rows = []
    for clip_id, mp3_path, tags, (artist, album), kind in MTAT_CLIPS:
        rows.append((clip_id, mp3_path, tags, artist, album))
        if kind == "audio":
            write_tone(root / mp3_path, 16000)
        elif kind == "empty":
            write_bytes(root / mp3_path, b"")
        elif kind == "text":
            write_bytes(root / mp3_path, TEXT_NOT_AUDIO)
    _write_quoted_tsv(
        root / "annotations_final.csv",
        ["clip_id", *MTAT_TAGS, "mp3_path"],
        [[cid, *("1" if t in tags else "0" for t in MTAT_TAGS), p] for cid, p, tags, _, _ in rows],
    )
    _write_quoted_tsv(
        root / "clip_info_final.csv",
        [
            "clip_id",
            "track_number",
            "title",
            "artist",
            "album",
            "url",
            "segmentStart",
            "segmentEnd",
            "original_url",
            "mp3_path",
        ],
        [
            [
                cid,
                "1",
                "A title, with a comma",
                artist,
                album,
                "http://magnatune.com/",
                "30",
                "59",
                "http://he3.magnatune.com/x.mp3",
                p,
            ]
            for cid, p, _, artist, album in rows
        ],
    )
    return root


def _write_quoted_tsv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    # As in the download: TAB-separated, every header and value wrapped in double quotes.
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t", quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


# --- GTZAN -------------------------------------------------------------------------------------


def gtzan_names(base: Path, suffix: str) -> Path:
    """All 1000 GTZAN file names under ``base``, as small non-empty placeholders (not audio: the
    adapter never decodes, and 1000 real files would only slow the test down)."""
    for genre in GENRES:
        (base / genre).mkdir(parents=True, exist_ok=True)
        for number in range(100):
            (base / genre / f"{genre}.{number:05d}{suffix}").write_bytes(TEXT_NOT_AUDIO)
    return base


# --- FMA ---------------------------------------------------------------------------------------

# track id, artist id, set.split, set.subset, genre_top, what is on disk
FMA_TRACKS = [
    (2, 1, "training", "small", "Hip-Hop", "audio"),
    (5, 1, "training", "small", "Hip-Hop", "audio"),
    (10, 6, "validation", "small", "Pop", "audio"),
    (140, 54, "test", "small", "Folk", "audio"),
    (99134, 20000, "training", "small", "Experimental", "text"),
    (108925, 20001, "test", "small", "Rock", "empty"),
    (133297, 20002, "test", "small", "Rock", "absent"),
    (20, 8, "training", "medium", "Rock", "audio"),
    (30, 9, "validation", "large", None, "audio"),
    (40, 10, "test", "large", "Electronic", "audio"),
]
# track.genres_all of each track (FMA's genre ids, ancestors included), and genres.csv's rows
FMA_GENRES_ALL = {
    2: [21],
    5: [21, 12],
    10: [10, 21],
    140: [17, 21],
    99134: [38],
    108925: [12, 25],
    133297: [12],
    20: [12, 25],
    30: [15],
    40: [15],
}
FMA_GENRES = {10: "Pop", 12: "Rock", 15: "Electronic", 17: "Folk", 21: "Hip-Hop", 25: "Punk",
              38: "Experimental"}  # fmt: skip


def fma_replica(root: Path, subsets: tuple[str, ...] = ("small",)) -> Path:
    """An FMA root with ``fma_metadata/tracks.csv`` and ``genres.csv`` and the audio folders of
    ``subsets``."""
    write_tracks_csv(root / "fma_metadata" / "tracks.csv")
    pd.DataFrame(
        {
            "genre_id": list(FMA_GENRES),
            "#tracks": [100] * len(FMA_GENRES),
            "parent": [12 if i == 25 else 0 for i in FMA_GENRES],
            "title": list(FMA_GENRES.values()),
            "top_level": [12 if i == 25 else i for i in FMA_GENRES],
        }
    ).to_csv(root / "fma_metadata" / "genres.csv", index=False)
    levels = ["small", "medium", "large"]
    for subset in subsets:
        for track_id, *_, track_subset, _, kind in FMA_TRACKS:
            if levels.index(track_subset) > levels.index(subset):
                continue
            tid = f"{track_id:06d}"
            path = root / f"fma_{subset}" / tid[:3] / f"{tid}.mp3"
            if kind == "audio":
                write_tone(path, 44100, 0.3)
            elif kind in ("text", "empty"):
                write_bytes(path, TEXT_NOT_AUDIO if kind == "text" else b"")
    return root


def write_tracks_csv(path: Path) -> None:
    """tracks.csv as FMA ships it: two header rows, then a ``track_id`` row, then the tracks."""
    columns = pd.MultiIndex.from_tuples(
        [
            ("album", "id"),
            ("artist", "id"),
            ("artist", "name"),
            ("set", "split"),
            ("set", "subset"),
            ("track", "genre_top"),
            ("track", "genres_all"),
            ("track", "title"),
        ]
    )
    rows = [
        [
            track_id * 10,
            artist,
            f'Artist {artist}, "quoted"',
            split,
            subset,
            genre,
            str(FMA_GENRES_ALL[track_id]),
            "Line one\nline two",
        ]
        for track_id, artist, split, subset, genre, _ in FMA_TRACKS
    ]
    index = pd.Index([t[0] for t in FMA_TRACKS], name="track_id")
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, index=index, columns=columns).to_csv(path)


# --- Ballroom ----------------------------------------------------------------------------------

# The folders of BallroomData/ (the three Rumba folders are one style) with one real file name each.
BALLROOM_FILES = {
    "ChaChaCha": "Albums-Cafe_Paradiso-05.wav",
    "Jive": "Albums-Commitment-08.wav",
    "Quickstep": "Albums-AnaBelen_Veneo-01.wav",
    "Rumba-American": "Albums-Ballroom_Magic-04.wav",
    "Rumba-International": "Albums-Ballroom_Classics4-09.wav",
    "Rumba-Misc": "Media-103402.wav",
    "Samba": "Albums-Fire-08.wav",
    "Tango": "Albums-Ballroom_Classics4-02.wav",
    "VienneseWaltz": "Albums-Ballroom_Classics4-06.wav",
    "Waltz": "Albums-Step_By_Step-12.wav",
}


def ballroom_replica(base: Path, clips: int = 3, seconds: float = 0.5) -> Path:
    """``base/BallroomData/<Style>/`` with ``clips`` real WAV files per folder (the real name
    first, each a tone of its own), the ``allBallroomFiles`` list beside them, and one empty file
    in Samba."""
    data = base / "BallroomData"
    names = []
    for f, (folder, name) in enumerate(BALLROOM_FILES.items()):
        for i in range(clips):
            file = name if i == 0 else name.replace(".wav", f"-{i}.wav")
            write_tone(data / folder / file, 11025, seconds, freq=200.0 + 60 * f + 20 * i)
            names.append(f"./{folder}/{file}")
    write_bytes(data / "Samba" / "Media-empty.wav", b"")
    (data / "allBallroomFiles").write_text("\n".join(names) + "\n")
    return base


# --- MTG-Jamendo -------------------------------------------------------------------------------

JAMENDO_HEADER = ["TRACK_ID", "ARTIST_ID", "ALBUM_ID", "PATH", "DURATION", "TAGS"]
# track id, artist id, path (as the tsv writes it), genre tags, split, what is on disk
JAMENDO_TRACKS = [
    (214, 14, "14/214.mp3", ["punkrock"], "train", "audio"),
    (215, 14, "15/215.mp3", ["rock", "pop"], "train", "audio"),
    (1000, 20, "00/1000.mp3", ["electronic"], "train", "audio"),
    (1001, 26, "00/1001.mp3", ["rock"], "train", "audio"),
    (1100, 21, "00/1100.mp3", ["rock"], "validation", "audio"),
    (1101, 27, "00/1101.mp3", ["electronic"], "validation", "audio"),
    (1200, 22, "01/1200.mp3", ["electronic", "rock"], "test", "audio"),
    (1301, 23, "01/1301.mp3", ["rock"], "test", "audio"),
    (1302, 28, "01/1302.mp3", ["electronic"], "test", "audio"),
    (1401, 24, "01/1401.mp3", ["pop"], "train", "empty"),
    (1501, 25, "01/1501.mp3", ["pop"], None, "audio"),
]


def jamendo_row(track_id: int, artist: int, path: str, genres: list[str]) -> list[str]:
    return [
        f"track_{track_id:07d}",
        f"artist_{artist:06d}",
        f"album_{artist:06d}",
        path,
        "204.5",
        *(f"genre---{genre}" for genre in genres),
    ]


def mtg_jamendo_replica(root: Path) -> Path:
    """An MTG-Jamendo root: autotagging_genre.tsv (one field per tag), split-0's three lists and
    the low-quality audio of folders 00 and 01 only (tracks 214 and 215 sit in archives not
    downloaded); 1200 has two genre tags, 1401 is an empty file, 1501 is in no split."""
    rows = [jamendo_row(t, a, p, g) for t, a, p, g, _, _ in JAMENDO_TRACKS]
    _write_tsv(root / "autotagging_genre.tsv", rows)
    for split in ("train", "validation", "test"):
        chosen = [jamendo_row(t, a, p, g) for t, a, p, g, s, _ in JAMENDO_TRACKS if s == split]
        _write_tsv(root / "splits" / "split-0" / f"autotagging_genre-{split}.tsv", chosen)
    for i, (_, _, path, _, _, kind) in enumerate(JAMENDO_TRACKS):
        if path[:2] not in ("00", "01"):
            continue
        audio = root / path.replace(".mp3", ".low.mp3")
        if kind == "audio":
            write_tone(audio, 44100, 0.5, freq=300.0 + 100 * i)
        else:
            write_bytes(audio, b"")
    return root


def _write_tsv(path: Path, rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["\t".join(JAMENDO_HEADER)] + ["\t".join(row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
