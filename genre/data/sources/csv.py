"""A csv with columns ``path,genre[,split][,group][,clip_id]``; paths are relative to the csv's
folder. For ``task=tagging`` a ``tags`` column holds each clip's tags, separated by ``;``, and
``genre`` is optional. Any file a spreadsheet saves is read: UTF-8 (with or without BOM), UTF-16,
Windows-1252, separated by commas, TABs or semicolons."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from genre.data.sources import SPLITS, TAGS, Manifest, adapter, check_files, rejections
from genre.data.tables import read_table
from genre.errors import GenreError

if TYPE_CHECKING:
    from genre.config import DataConfig

SPLIT_ALIASES = {"training": "train", "validation": "val", "valid": "val", "testing": "test"}
COLUMNS_HINT = "set data.root to a csv file with columns path,genre[,split][,group]"


@adapter("csv")
def read_csv(data: DataConfig, tagging: bool = False) -> Manifest:
    table_path = Path(str(data.root)).expanduser().absolute()
    table = read_table(table_path, "Dataset csv", COLUMNS_HINT)
    table.columns = table.columns.str.lower()
    if tagging and TAGS not in table.columns:
        raise GenreError(
            f"task=tagging needs tags, and {table_path} has no tags column: add one holding "
            "each clip's tags separated by ';'."
        )
    if not tagging:
        # A genre run ignores tags: its cache is the one it had before the column was added.
        table = table.drop(columns=TAGS, errors="ignore")
    missing = ({"path"} if tagging else {"path", "genre"}) - set(table.columns)
    if missing:
        needs = "path,tags" if tagging else "path,genre"
        raise GenreError(
            f"{table_path} lacks column(s) {', '.join(sorted(missing))}: "
            f"it needs {needs} and may have split and group."
        )
    table = table.apply(lambda column: column.str.strip()).replace("", pd.NA)
    no_path = table["path"].isna()
    unlisted = rejections(
        [str(table_path)] * int(no_path.sum()),
        [f"empty path (line {line})" for line in table.index[no_path]],
    )
    table = table[~no_path].copy()
    # Not resolved: the user's names stay (a symlinked folder is not renamed to its target), and a
    # symlink loop is rejected by check_files instead of stopping the adapter.
    table["path"] = [os.path.abspath(os.path.join(table_path.parent, p)) for p in table["path"]]
    table["clip_id"] = table.get("clip_id", table["path"]).fillna(table["path"])
    if "split" in table:
        split = table["split"].str.lower().replace(SPLIT_ALIASES)
        unknown = sorted(set(split.dropna()) - set(SPLITS))
        if unknown:
            raise GenreError(
                f"{table_path} has unknown split value(s) {unknown}: use train, val or test."
            )
        table["split"] = split
    kept, bad_files = check_files(table)
    return Manifest(kept, pd.concat([unlisted, bad_files], ignore_index=True))
