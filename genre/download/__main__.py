"""Download a public dataset into the layout its ``data=NAME`` reads, then check that it reads.

    python -m genre.download gtzan --root ~/data/gtzan
    python -m genre.download fma --subset small --root ~/data/fma
    python -m genre.download --list

Every file is resumed after an interruption, checked against its published checksum before it
is unpacked, and skipped when it is already there and verified. ``--mirror URL`` (or
``GENRE_DOWNLOAD_MIRROR``) fetches ``URL/<dataset>/<file>`` instead of the publisher's host.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from genre.download.catalogue import DATASETS, FMA_SHA1, JAMENDO_SHARDS, Dataset, Options
from genre.download.transfer import Transfer
from genre.errors import GenreError, user_errors

MIRROR_ENV = "GENRE_DOWNLOAD_MIRROR"
DEFAULT_TIMEOUT = 60.0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m genre.download",
        description="Download a dataset into the layout data=NAME reads (docs/datasets.md).",
    )
    p.add_argument("dataset", nargs="?", choices=sorted(DATASETS), help="what to download")
    p.add_argument("--list", action="store_true", help="list the datasets: sizes, licences")
    p.add_argument("--root", type=Path, help="the folder to download into (data.root)")
    p.add_argument(
        "--subset",
        default="small",
        choices=[s for s in FMA_SHA1 if s != "metadata"],
        help="fma: which subset (default: small)",
    )
    p.add_argument(
        "--parts",
        type=int,
        default=JAMENDO_SHARDS,
        help=f"mtg_jamendo: how many of its {JAMENDO_SHARDS} audio archives (default: all)",
    )
    p.add_argument(
        "--mirror",
        default=os.environ.get(MIRROR_ENV) or None,
        help=f"a base URL serving <dataset>/<file> instead of the publishers' hosts "
        f"(default: ${MIRROR_ENV})",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help="seconds to wait for a server before giving up (default: %(default)g)",
    )
    return p


def listing() -> str:
    blocks = [
        f"{d.name}\n  {d.title}\n  size     {d.size}\n  licence  {d.licence}\n  source   {d.origin}"
        for d in DATASETS.values()
    ]
    return "\n\n".join(blocks)


def download(dataset: Dataset, root: Path, options: Options, mirror: str | None, timeout: float):
    transfer = Transfer(root, dataset.name, mirror, timeout)
    for remote in dataset.remotes(options):
        transfer.get(remote)


def check(dataset: Dataset, root: Path, options: Options) -> str:
    """``genre.prepare``'s first step, the source adapter's manifest, on what was downloaded; the
    line that reads it."""
    # Imported here: composing the config loads the training stack, which --list does not need.
    from genre.config import compose_config, settings
    from genre.data.sources import read_manifest

    overrides = [*dataset.overrides(options), f"data.root={root}"]
    cfg = compose_config(overrides)
    manifest = read_manifest(settings(cfg, "data"), dataset.tagging)
    splits = manifest.clips["split"].fillna("none").value_counts()
    counts = ", ".join(f"{split} {splits[split]}" for split in ("train", "val", "test", "none")
                       if split in splits)  # fmt: skip
    return (
        f"manifest  {len(manifest.clips)} clips ({counts}), {len(manifest.rejected)} left out\n"
        f"use       {' '.join(overrides)}\n"
        f"e.g.      python -m genre.prepare {' '.join(overrides)}"
    )


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.list:
        print(listing())
        return 0
    with user_errors():
        if args.dataset is None or args.root is None:
            raise GenreError(
                "Name a dataset and where it goes, e.g. python -m genre.download gtzan "
                "--root ~/data/gtzan (--list shows them)."
            )
        if args.timeout <= 0:
            raise GenreError(f"--timeout {args.timeout:g} must be a positive number of seconds.")
        dataset = DATASETS[args.dataset]
        root = args.root.expanduser().absolute()
        options = Options(subset=args.subset, parts=args.parts)
        try:
            download(dataset, root, options, args.mirror, args.timeout)
        except KeyboardInterrupt:
            print(
                "genre: interrupted; what arrived is kept under "
                f"{root / '.download'}: run the same command to resume.",
                file=sys.stderr,
            )
            return 130
        print(check(dataset, root, options))
    return 0


if __name__ == "__main__":
    sys.exit(main())
