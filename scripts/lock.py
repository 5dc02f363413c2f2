"""`make lock`'s last step: a pip installation report (`pip install --dry-run --report`) as
constraints.txt lines, one `name==version` per package pip would take from an index. genre and
its sweeper, installed from this checkout, are left out."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(report_path: str) -> None:
    report = json.loads(Path(report_path).read_text())
    pinned = sorted(
        (item["metadata"]["name"].lower(), item["metadata"]["version"])
        for item in report["install"]
        if "dir_info" not in item["download_info"]
    )
    print("# Written by `make lock` (scripts/lock.py): what a fresh install of genre with every")
    print("# extra resolved, on Python 3.11, Linux x86_64. Edit pyproject.toml, not this file.")
    for name, version in pinned:
        print(f"{name}=={version}")


if __name__ == "__main__":
    main(sys.argv[1])
