"""The csv and text files genre reads: datasets' metadata, and the lists people write by hand or
export from a spreadsheet. Every way such a file can be unusable ends in one sentence naming the
file and, where it applies, the line; nothing here raises anything but GenreError."""

from __future__ import annotations

import codecs
import csv
import io
from importlib.resources.abc import Traversable
from pathlib import Path

import pandas as pd

from genre.data.files import EMPTY, MISSING, file_problem, os_reason
from genre.errors import GenreError

# What spreadsheets save: UTF-8 with or without a byte-order mark ("CSV UTF-8"), UTF-16 with one
# ("Unicode Text"), and Windows-1252 (plain "CSV" on Windows in western languages), tried last
# because almost any bytes decode as it.
BOMS = {codecs.BOM_UTF8: "utf-8-sig", codecs.BOM_UTF16_LE: "utf-16", codecs.BOM_UTF16_BE: "utf-16"}
FALLBACK_ENCODINGS = ("utf-8", "cp1252")
# Candidate separators when a file's is not fixed: comma, TAB ("Unicode Text"), and the semicolon
# that spreadsheets use where the comma is the decimal mark.
SEPARATORS = (",", "\t", ";")
SAVE_AS = "save it as UTF-8 text (CSV UTF-8 in a spreadsheet)"


def read_text(path: Path | Traversable, what: str, hint: str) -> str:
    """The text of ``path``, ``what`` naming it in messages and ``hint`` saying where it should
    come from; a missing, unreadable or binary file is one sentence."""
    problem = file_problem(path) if isinstance(path, Path) else None
    if problem == MISSING:
        raise GenreError(f"{what} {path} does not exist: {hint}.")
    if problem not in (None, EMPTY):
        raise GenreError(f"{what} {path} cannot be read ({problem}): {hint}.")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise GenreError(f"{what} {path} cannot be read ({os_reason(exc, path)}): {hint}.") from exc
    text = _decode(raw)
    if text is None or "\x00" in text:
        raise GenreError(f"{what} {path} is not text in UTF-8 or Windows-1252: {SAVE_AS}.")
    return text


def _decode(raw: bytes) -> str | None:
    for bom, encoding in BOMS.items():
        if raw.startswith(bom):
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError:
                return None
    for encoding in FALLBACK_ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def read_rows(
    path: Path, what: str, hint: str, sep: str | None = None
) -> tuple[list[list[str]], list[int]]:
    """The non-blank rows of a csv file (header rows included) and the line each starts on. Every
    row must have as many fields as the first. ``sep=None`` takes the separator the first line
    uses most."""
    text = read_text(path, what, hint)
    if not text.strip():
        raise GenreError(f"{what} {path} is empty: {hint}.")
    if sep is None:
        first = next(line for line in text.splitlines() if line.strip())
        sep = max(SEPARATORS, key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, skipinitialspace=True)
    rows: list[list[str]] = []
    lines: list[int] = []
    end = 0
    while True:
        start = end + 1
        try:
            row = next(reader, None)
        except csv.Error as exc:
            raise GenreError(f"{what} {path} line {reader.line_num} is not csv ({exc}).") from exc
        end = reader.line_num
        if row is None:
            return rows, lines
        if not any(field.strip() for field in row):
            continue  # blank lines, and the all-empty rows spreadsheets leave at the end
        if rows and len(row) != len(rows[0]):
            shown = "TAB" if sep == "\t" else f"'{sep}'"
            raise GenreError(
                f"{what} {path} line {start} has {len(row)} field(s) where its header has "
                f"{len(rows[0])}: quote values that contain {shown}, or fix the line."
            )
        rows.append(row)
        lines.append(start)


def read_table(path: Path, what: str, hint: str, sep: str | None = None) -> pd.DataFrame:
    """A csv file with one header row as a frame of str (an empty field is ""), its columns' names
    stripped, indexed by the line each row starts on."""
    rows, lines = read_rows(path, what, hint, sep)
    header = [name.strip() for name in rows[0]]
    if len(rows) == 1:
        raise GenreError(f"{what} {path} has a header but no rows: {hint}.")
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        raise GenreError(f"{what} {path} has column '{twice[0]}' twice: keep one.")
    return pd.DataFrame(rows[1:], columns=header, index=lines[1:], dtype=str)
