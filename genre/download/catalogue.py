"""What ``genre.download`` can fetch: each dataset's files, published checksums, sizes, licence
and origin, and the ``data=...`` overrides that read the result.

GTZAN (and its mini version) and Ballroom come from mirdata's records (``REMOTES``: URL, md5 and
licence), which its maintainers keep; mirdata's own transfer cannot resume, time out or take a
mirror, so genre moves the bytes itself. FMA, MagnaTagATune and MTG-Jamendo are not in mirdata
1.0 (it has FMA's keys and Jamendo's mood/theme subset only); their URLs and checksums are the
publishers', written here. URLs and checksums as taken on 2026-12-07 (docs/datasets.md)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

from genre.download.transfer import Remote
from genre.errors import GenreError

FMA_URL = "https://os.unil.cloud.switch.ch/fma"
# The sha1 sums of github.com/mdeff/fma's README.
FMA_SHA1 = {
    "metadata": "f0df49ffe5f2a6008d7dc83c6915b31835dfe733",
    "small": "ade154f733639d52e35e32f5593efe5be76c6d70",
    "medium": "c67b69ea232021025fca9231fc1c7c1a063ab50b",
    "large": "497109f4dd721066b5ce5e5f250ec604dc78939e",
    "full": "0f0ace23fbe9ba30ecb7e95f763e435ea802b8ab",
}
FMA_SIZES = {"small": "7.2 GiB", "medium": "22 GiB", "large": "93 GiB", "full": "879 GiB"}
MTAT_URL = "https://mirg.city.ac.uk/datasets/magnatagatune"
JAMENDO_DATA = "https://raw.githubusercontent.com/MTG/mtg-jamendo-dataset/master/data"
JAMENDO_AUDIO = "https://cdn.freesound.org/mtg-jamendo/raw_30s/audio-low"
JAMENDO_SHARDS = 100
JAMENDO_SPLIT = "splits/split-0"


@dataclass(frozen=True)
class Options:
    subset: str = "small"  # FMA
    parts: int = JAMENDO_SHARDS  # MTG-Jamendo: how many of its 100 audio archives


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    size: str  # download, and room needed while unpacking
    licence: str
    origin: str
    remotes: Callable[[Options], list[Remote]]
    overrides: Callable[[Options], list[str]]  # what reads it, before data.root
    tagging: bool = False  # the manifest check reads it for task=tagging


def mirdata_remote(module: str, key: str, places: dict[str, str]) -> Remote:
    """mirdata's record of a file: its URL and md5, as mirdata 1.0 keeps them."""
    try:
        remotes = importlib.import_module(f"mirdata.datasets.{module}").REMOTES
    except ImportError as exc:
        raise GenreError(
            "GTZAN and Ballroom are fetched by mirdata's records of them: install it with "
            "pip install 'genre[download]'."
        ) from exc
    remote = remotes[key]
    return Remote(
        remote.filename, ((remote.filename, remote.url),), f"md5:{remote.checksum}", places
    )


def _fma(options: Options) -> list[Remote]:
    return [
        Remote(
            f"fma_{part}.zip",
            ((f"fma_{part}.zip", f"{FMA_URL}/fma_{part}.zip"),),
            f"sha1:{FMA_SHA1[part]}",
            {f"fma_{part}": f"fma_{part}"},
        )
        for part in ("metadata", options.subset)
    ]


def _mtat(_: Options) -> list[Remote]:
    parts = tuple((f"mp3.zip.00{i}", f"{MTAT_URL}/mp3.zip.00{i}") for i in (1, 2, 3))
    folders = {f"{i:x}": f"{i:x}" for i in range(16)}
    # The publisher gives no checksums: the joined zip is checked by its members' CRCs.
    csvs = [
        Remote(name, ((name, f"{MTAT_URL}/{name}"),), None)
        for name in ("annotations_final.csv", "clip_info_final.csv")
    ]
    return [Remote("mp3.zip", parts, None, folders), *csvs]


def jamendo_tar_sums() -> dict[str, str]:
    """The sha256 of each audio archive, as the dataset's repository publishes them
    (data/download/raw_30s_audio-low_sha256_tars.txt), shipped with genre."""
    text = (resources.files("genre") / "resources" / "mtg_jamendo_sha256_tars.txt").read_text()
    return {name: digest for digest, name in (line.split() for line in text.splitlines() if line)}


def _jamendo(options: Options) -> list[Remote]:
    if not 1 <= options.parts <= JAMENDO_SHARDS:
        raise GenreError(f"--parts {options.parts} is out of range: use 1 to {JAMENDO_SHARDS}.")
    metadata = ["autotagging_genre.tsv"] + [
        f"{JAMENDO_SPLIT}/autotagging_genre-{split}.tsv"
        for split in ("train", "validation", "test")
    ]
    # No checksums are published for the metadata; the manifest check reads every line of it.
    remotes = [Remote(path, ((path, f"{JAMENDO_DATA}/{path}"),), None) for path in metadata]
    sums = jamendo_tar_sums()
    for shard in range(options.parts):
        name = f"raw_30s_audio-low-{shard:02d}.tar"
        remotes.append(
            Remote(name, ((name, f"{JAMENDO_AUDIO}/{name}"),), f"sha256:{sums[name]}",
                   {f"{shard:02d}": f"{shard:02d}"})
        )  # fmt: skip
    return remotes


RESEARCH_USE = "research use (no licence stated by its authors)"
DATASETS = {
    d.name: d
    for d in (
        Dataset(
            "gtzan",
            "GTZAN: 1000 clips of 30 s, 10 genres",
            "1.2 GB download, 2.5 GB while unpacking",
            f"{RESEARCH_USE}; cite Tzanetakis & Cook, IEEE TSAP 10(5), 2002",
            "marsyas.info (G. Tzanetakis); URL and md5 from mirdata 1.0 (gtzan_genre, 'all')",
            lambda _: [mirdata_remote("gtzan_genre", "all", {"genres": "genres"})],
            lambda _: ["data=gtzan"],
        ),
        Dataset(
            "gtzan_mini",
            "GTZAN mini: 100 of the GTZAN clips (10 per genre), as WAV",
            "about 130 MB download, 270 MB while unpacking",
            f"{RESEARCH_USE}; cite Tzanetakis & Cook, IEEE TSAP 10(5), 2002",
            "github.com/TempoBeatDownbeat/gtzan_mini; URL and md5 from mirdata 1.0 "
            "(gtzan_genre, 'mini')",
            lambda _: [mirdata_remote("gtzan_genre", "mini", {"gtzan_mini-main/genres": "genres"})],
            lambda _: ["data=gtzan"],
        ),
        Dataset(
            "ballroom",
            "Ballroom: 698 excerpts of 30 s, 8 dance styles",
            "about 2 GB download (an estimate: 698 x 30 s of WAV), 4 GB while unpacking",
            "CC BY-NC-SA 4.0 (as mirdata 1.0 records it); cite Gouyon et al., IEEE TASLP 14(5), "
            "2006",
            "mtg.upf.edu/ismir2004/contest/tempoContest; URL and md5 from mirdata 1.0 "
            "(ballroom, 'audio')",
            lambda _: [mirdata_remote("ballroom", "audio", {"BallroomData": "BallroomData"})],
            lambda _: ["data=ballroom"],
        ),
        Dataset(
            "fma",
            "Free Music Archive: fma_metadata plus one subset (--subset small: 8000 clips of 30 s, "
            "8 genres)",
            "metadata 342 MiB + small 7.2 GiB (medium 22 GiB, large 93 GiB, full 879 GiB); "
            "twice that while unpacking",
            "metadata CC BY 4.0, audio under each artist's Creative Commons licence; cite "
            "Defferrard et al., ISMIR 2017",
            "github.com/mdeff/fma (URLs and sha1 sums from its README)",
            _fma,
            lambda o: ["data=fma", f"data.subset={o.subset}"],
        ),
        Dataset(
            "mtat",
            "MagnaTagATune: 25,863 clips of 29 s, 188 tags (top 50 for task=tagging)",
            "about 3 GB download (three parts), 6 GB while unpacking",
            f"{RESEARCH_USE}; cite Law et al., ISMIR 2009",
            "mirg.city.ac.uk/codeapps/the-magnatagatune-dataset (no checksums published)",
            _mtat,
            lambda _: ["task=tagging", "data=mtat"],
            tagging=True,
        ),
        Dataset(
            "mtg_jamendo",
            "MTG-Jamendo autotagging_genre: 30 s low-quality mp3 with 87 genre tags, split-0 "
            "(--parts N: the first N of its 100 audio archives)",
            "about 1.5 GB per audio archive, about 156 GB for all 100; one archive more while "
            "unpacking",
            "metadata CC BY-NC-SA 4.0, audio under each artist's Creative Commons licence; cite "
            "Bogdanov et al., ICML ML4MD workshop 2019",
            "github.com/MTG/mtg-jamendo-dataset (sha256 of each audio archive from its "
            "data/download; no checksums published for the metadata)",
            _jamendo,
            lambda _: ["task=tagging", "data=mtg_jamendo"],
            tagging=True,
        ),
    )
}
