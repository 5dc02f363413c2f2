"""The pretrained musicnn weights: the ``musicnn`` 0.1.0 wheel from PyPI, kept in genre's cache,
and each model converted once from its TensorFlow checkpoint in the wheel into a safetensors
file for the PyTorch port, beside it::

    <cache>/pretrained/musicnn-0.1.0-py3-none-any.whl
    <cache>/pretrained/MSD_musicnn.safetensors   (MTT_musicnn, MSD_vgg, MTT_vgg)

``<cache>`` is ``$GENRE_CACHE`` or ``~/.cache/genre``, as ``data.cache_dir``. Both the wheel and
the converted files are checked against sha256 constants: the conversion writes the same bytes
wherever it runs, so a converted file can be named in a run's log by its hash instead of being
copied, and a damaged one is rebuilt from the wheel rather than used.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load as load_safetensors

from genre.errors import GenreError, first_line
from genre.pretrained.convert import convert_checkpoint
from genre.pretrained.names import model_name
from genre.pretrained.tf_checkpoint import CheckpointError, read_checkpoint
from genre.util import cache_dir

WHEEL = "musicnn-0.1.0-py3-none-any.whl"
# As PyPI publishes it (https://pypi.org/simple/musicnn/, the file's #sha256= fragment).
WHEEL_SHA256 = "f38a4890c648c1ddbb141c5d96d2b0a8cfcd36746002d896989f7b88beb65cfa"
# Of the files ``convert`` writes; change them only with the converter, after checking the port
# against the original again (tests/test_pretrained.py).
CONVERTED_SHA256 = {
    "MSD_musicnn": "5ff5cd9d4d8bc6fc84ca9f0b264fab1a1407f122ddbb041c502fd8756275cc13",
    "MTT_musicnn": "8d9638acaf9aa6b350402abe32d67cb5bd57ba27b905b1f14d9b19b0d4313f13",
    "MSD_vgg": "b29ed60026934d3045b0d17e8534c60651a173740bfe5626acdcfaffb47a47bb",
    "MTT_vgg": "3929151bb8d4b5008d6b7cd7059ecd5d1fc857efc48780fc224fcb8c48f60f9a",
}
SAFETENSORS_DTYPES = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}


def pretrained_dir() -> Path:
    return cache_dir() / "pretrained"


def wheel_path() -> Path:
    return pretrained_dir() / WHEEL


def converted_path(arch: str, variant: str) -> Path:
    return pretrained_dir() / f"{model_name(arch, variant)}.safetensors"


def pip_command(directory: Path) -> list[str]:
    return ["python", "-m", "pip", "download", "musicnn==0.1.0", "--no-deps", "-d", str(directory)]


def fetch() -> Path:
    """The wheel in the cache, downloaded with pip unless it is there already; checked against
    the published sha256 either way."""
    wheel = wheel_path()
    if not wheel.is_file():
        wheel.parent.mkdir(parents=True, exist_ok=True)
        # Into a folder of its own, moved when complete: a concurrent reader never sees half.
        with tempfile.TemporaryDirectory(dir=wheel.parent, prefix=".download-") as tmp:
            done = subprocess.run(
                [sys.executable, *pip_command(Path(tmp))[1:]],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0 or not (Path(tmp) / WHEEL).is_file():
                reason = (done.stderr.strip().splitlines() or ["no wheel was saved"])[-1]
                reason = reason.removeprefix("ERROR: ").rstrip(".")
                raise GenreError(
                    f"pip could not download musicnn 0.1.0 into {wheel.parent} ({reason})."
                )
            os.replace(Path(tmp) / WHEEL, wheel)
    check_wheel(wheel)
    return wheel


def check_wheel(wheel: Path) -> None:
    if sha256(wheel.read_bytes()) != WHEEL_SHA256:
        raise GenreError(
            f"{wheel} is not the musicnn 0.1.0 wheel published on PyPI (its sha256 differs): "
            f"delete it and run `{' '.join(pip_command(wheel.parent))}`."
        )


def load_pretrained(arch: str, variant: str) -> tuple[dict[str, torch.Tensor], str]:
    """The port's state dict of the original ``arch`` model trained on ``variant`` (``msd`` or
    ``mtt``), and the sha256 of its converted file, which identifies the weights."""
    name = model_name(arch, variant)
    expected = CONVERTED_SHA256[name]
    converted = converted_path(arch, variant)
    data = converted.read_bytes() if converted.is_file() else b""
    if sha256(data) != expected:
        data = convert(name)
        if sha256(data) != expected:
            raise GenreError(
                f"Converting {name} from {WHEEL} gave sha256 {sha256(data)}, not {expected}: "
                "check the port against the original again (tests/test_pretrained.py) and "
                "update CONVERTED_SHA256."
            )
        tmp = converted.with_name(f".{converted.name}.{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, converted)
    return load_safetensors(data), expected


def convert(name: str) -> bytes:
    """The safetensors bytes of model ``name``, converted from its checkpoint in the wheel."""
    wheel = wheel_path()
    if not wheel.is_file():
        raise GenreError(
            f"The pretrained musicnn weights are not in {wheel.parent}: get them once with "
            f"`{' '.join(pip_command(wheel.parent))}` (or `python -m genre.pretrained fetch`)."
        )
    check_wheel(wheel)
    try:
        with zipfile.ZipFile(wheel) as archive:
            index = archive.read(f"musicnn/{name}/.index")
            data = archive.read(f"musicnn/{name}/.data-00000-of-00001")
        tensors = read_checkpoint(index, data)
    except (zipfile.BadZipFile, KeyError, CheckpointError) as exc:
        raise GenreError(f"Cannot read {name} from {wheel}: {first_line(exc)}.") from exc
    arch = name.split("_", 1)[1]
    metadata = {"format": "pt", "model": name, "source": f"{WHEEL} sha256:{WHEEL_SHA256}"}
    return safetensors_bytes(convert_checkpoint(arch, tensors), metadata)


def safetensors_bytes(tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    """The safetensors serialisation of ``tensors`` (little-endian, in name order), written here
    rather than by the safetensors package, whose header layout has changed between releases:
    these bytes, and so their checksums, depend on nothing but this code."""
    header: dict[str, object] = {"__metadata__": metadata}
    offset = 0
    for name in sorted(tensors):
        array = tensors[name]
        size = array.nbytes
        header[name] = {
            "dtype": SAFETENSORS_DTYPES[array.dtype],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the format pads the header to keep the data aligned
    body = b"".join(
        np.ascontiguousarray(tensors[name], tensors[name].dtype.newbyteorder("<")).tobytes()
        for name in sorted(tensors)
    )
    return len(text).to_bytes(8, "little") + text + body


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
