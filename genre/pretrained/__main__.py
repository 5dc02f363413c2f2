"""``python -m genre.pretrained fetch``: download the musicnn 0.1.0 wheel into genre's cache
(``$GENRE_CACHE`` or ``~/.cache/genre``) unless it is there, check it, and convert its four
models for the PyTorch port, printing each file with its sha256."""

from __future__ import annotations

import argparse
import sys

from genre.errors import user_errors
from genre.pretrained.names import ARCHS, VARIANTS
from genre.pretrained.weights import WHEEL_SHA256, converted_path, fetch, load_pretrained


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genre.pretrained", description=__doc__)
    parser.add_argument("command", choices=["fetch"])
    parser.parse_args(argv)
    print(f"{fetch()}  sha256 {WHEEL_SHA256}", flush=True)
    for arch in ARCHS:
        for variant in VARIANTS:
            _, digest = load_pretrained(arch, variant)
            print(f"{converted_path(arch, variant)}  sha256 {digest}", flush=True)
    return 0


if __name__ == "__main__":
    with user_errors():
        sys.exit(main())
