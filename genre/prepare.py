"""Build (or find) the decode-once cache of a dataset and summarise it.

    python -m genre.prepare data=gtzan data.root=/data/gtzan

Takes the same overrides as ``genre.train``, which runs the same code: preparing first is
optional, but shows what the cache holds and what was rejected before any training starts.
"""

from __future__ import annotations

import sys

import pandas as pd

from genre.config import compose_config, is_tagging, settings, validate
from genre.console import setup_console
from genre.data.datamodule import GenreDataModule
from genre.data.sources import reason_kind
from genre.errors import user_errors


def summary(data: GenreDataModule) -> str:
    cache, clips = data.cache, data.clips
    counts = data.counts_per_split()
    # Clips, not the sum of the rows: for tagging a clip counts under each of its tags.
    counts.loc["total" if not data.tagging else "clips"] = clips["split"].value_counts()
    hours = clips["seconds"].sum() / 3600
    lines = [
        f"cache     {cache.path}",
        f"clips     {len(clips)} ({hours:.2f} h of audio, {int(clips['padded'].sum())} padded)",
        "",
        counts.to_string(),
        "",
    ]
    rejected = cache.rejected
    if rejected.empty:
        lines.append("rejected  none")
    else:
        reasons = rejected["reason"].map(reason_kind).value_counts()
        lines.append(f"rejected  {len(rejected)} file(s), listed in {cache.path / 'rejected.csv'}")
        lines += [f"  {n:6d}  {reason}" for reason, n in reasons.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    setup_console()
    with user_errors():
        cfg = compose_config(sys.argv[1:] if argv is None else argv)
        validate(cfg)
        data = GenreDataModule(settings(cfg, "data"), is_tagging(cfg))
        data.load()
    with pd.option_context("display.width", 120):
        print(summary(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
