"""A csv with columns ``path,genre[,split][,group]``; paths are relative to the csv's folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from genre.data.sources import SPLITS, Manifest, adapter, check_files
from genre.errors import GenreError

SPLIT_ALIASES = {"training": "train", "validation": "val", "valid": "val", "testing": "test"}


@adapter("csv")
def read_csv(data: DictConfig) -> Manifest:
    table_path = Path(str(data.root)).expanduser()
    if not table_path.is_file():
        raise GenreError(
            f"Dataset csv {table_path} does not exist: set data.root to a csv file with "
            "columns path,genre[,split][,group]."
        )
    table = pd.read_csv(table_path, dtype="string", skipinitialspace=True)
    table.columns = table.columns.str.strip().str.lower()
    missing = {"path", "genre"} - set(table.columns)
    if missing:
        raise GenreError(
            f"{table_path} lacks column(s) {', '.join(sorted(missing))}: "
            "it needs path,genre and may have split and group."
        )
    table = table.dropna(subset=["path", "genre"])
    table["path"] = [str((table_path.parent / p).resolve()) for p in table["path"]]
    table["clip_id"] = table.get("clip_id", table["path"])
    if "split" in table:
        split = table["split"].str.strip().str.lower().replace(SPLIT_ALIASES)
        unknown = sorted(set(split.dropna()) - set(SPLITS))
        if unknown:
            raise GenreError(
                f"{table_path} has unknown split value(s) {unknown}: use train, val or test."
            )
        table["split"] = split
    return Manifest(*check_files(table))
