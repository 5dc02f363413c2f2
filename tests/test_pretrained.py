"""The PyTorch port of the pretrained musicnn models against the original: the checkpoint reader
against TensorFlow's, the port's outputs against the original's on real recordings
(tests/data/musicnn_reference.npz, made by scripts/musicnn_reference.py), the converted weights'
cache, and ``genre.predict --pretrained``.

The musicnn wheel must be in genre's cache, as ``make install`` leaves it (``python -m
genre.pretrained fetch``); it is linked into the tests' isolated cache."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import ROOT, SHARED, run_module

from genre import predict
from genre.data.audio import read_mono
from genre.errors import GenreError
from genre.model.musicnn import (
    OUTPUTS,
    PATCH_FRAMES,
    SAMPLE_RATE,
    SPECTROGRAM,
    VGG,
    Musicnn,
    patches,
)
from genre.model.spectrogram import Spectrogram
from genre.model.transfer import pretrained_body
from genre.pretrained import weights
from genre.pretrained.names import TAGS
from genre.pretrained.tf_checkpoint import CheckpointError, crc32c, read_checkpoint

REFERENCE = ROOT / "tests" / "data" / "musicnn_reference.npz"
# Beside the clone, as in CI: <clone>/../shared/audio (see its README).
SHARED_AUDIO = SHARED / "audio"
MODELS = ("MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg")
EMBEDDINGS = ("penultimate", "max_pool", "mean_pool")


def arch_variant(name: str) -> tuple[str, str]:
    variant, arch = name.split("_")
    return arch, variant.lower()


@pytest.fixture(scope="module")
def wheel(musicnn_wheel: Path) -> Path:
    return musicnn_wheel


def checkpoint_bytes(wheel: Path, name: str) -> tuple[bytes, bytes]:
    with zipfile.ZipFile(wheel) as archive:
        return (
            archive.read(f"musicnn/{name}/.index"),
            archive.read(f"musicnn/{name}/.data-00000-of-00001"),
        )


# --- the checkpoint reader ----------------------------------------------------------------


def test_crc32c_is_castagnoli() -> None:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)

    def bytewise(data: bytes) -> int:
        c = 0xFFFFFFFF
        for b in data:
            c = table[(c ^ b) & 0xFF] ^ (c >> 8)
        return c ^ 0xFFFFFFFF

    assert crc32c(b"") == 0
    assert crc32c(b"123456789") == 0xE3069283  # the standard check value
    data = np.random.default_rng(0).integers(0, 256, 300_017, dtype=np.uint8).tobytes()
    for n in (1, 63, 64, 65, 4096 * 64 + 3, len(data)):  # one lane, many, with leftover bytes
        assert crc32c(data[:n]) == bytewise(data[:n]), n


# TensorFlow reads the checkpoint in a process of its own: imported into the test process it
# leaves state behind (absl's logging on stderr) that breaks later in-process runs of Hydra apps.
TF_READ = """
import sys
import numpy as np
import tensorflow as tf
reader = tf.compat.v1.train.NewCheckpointReader(sys.argv[1])
names = reader.get_variable_to_shape_map()
np.savez(sys.argv[2], **{name.replace("/", "|"): reader.get_tensor(name) for name in names})
"""


@pytest.mark.parametrize("name", MODELS)
def test_reader_matches_tensorflow(wheel: Path, tmp_path: Path, name: str) -> None:
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("tensorflow is not installed (the tf extra)")
    with zipfile.ZipFile(wheel) as archive:
        for suffix in (".index", ".data-00000-of-00001"):
            archive.extract(f"musicnn/{name}/{suffix}", tmp_path)
    dump = tmp_path / "tensorflow.npz"
    done = subprocess.run(
        [sys.executable, "-c", TF_READ, f"{tmp_path}/musicnn/{name}/", str(dump)],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with np.load(dump) as read:
        reference = {key.replace("|", "/"): read[key] for key in read.files}
    ours = read_checkpoint(*checkpoint_bytes(wheel, name))
    assert sorted(ours) == sorted(reference)
    for variable, tensor in ours.items():
        expected = reference[variable]
        assert tensor.dtype == expected.dtype and tensor.shape == expected.shape, variable
        assert tensor.tobytes() == expected.tobytes(), variable


def test_reader_detects_damage(wheel: Path) -> None:
    index, data = checkpoint_bytes(wheel, "MSD_vgg")
    bad_data = bytearray(data)
    bad_data[len(data) // 2] ^= 1
    with pytest.raises(CheckpointError, match="checksum mismatch in the data file"):
        read_checkpoint(index, bytes(bad_data))
    bad_index = bytearray(index)
    bad_index[40] ^= 1
    with pytest.raises(CheckpointError, match="block checksum mismatch"):
        read_checkpoint(bytes(bad_index), data)
    with pytest.raises(CheckpointError, match="truncated"):
        read_checkpoint(index, data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="magic"):
        read_checkpoint(data[:4096], data)


def test_musicnn_checkpoint_layout(wheel: Path) -> None:
    tensors = read_checkpoint(*checkpoint_bytes(wheel, "MSD_musicnn"))
    model = {k: v.shape for k, v in tensors.items() if not k.endswith(("/Adam", "/Adam_1"))}
    assert model.pop("beta1_power") == model.pop("beta2_power") == ()
    assert model["conv2d/kernel"] == (7, 38, 1, 204)  # 7 frames x 40% of 96 bands
    assert model["conv2d_5/kernel"] == (7, 561, 1, 64)
    assert model["dense/kernel"] == (1506, 200)
    assert model["dense_1/kernel"] == (200, 50)
    assert {k.split("/")[0] for k in model if k.startswith("batch_norm")} == {
        "batch_normalization",
        *(f"batch_normalization_{i}" for i in range(1, 11)),
    }
    trained = sum(int(np.prod(s)) for k, s in model.items() if "moving" not in k)
    assert trained == sum(p.numel() for p in Musicnn().parameters()) == 787_159


# --- the port against the original -----------------------------------------------------------


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    if not SHARED_AUDIO.is_dir():
        pytest.skip(f"the real recordings are not at {SHARED_AUDIO} (shared/ beside the clone)")
    with np.load(REFERENCE) as saved:
        return dict(saved)


@pytest.fixture(scope="module")
def spectrograms(reference: dict[str, np.ndarray]) -> list[torch.Tensor]:
    """``[1, 96, time]`` per recording: genre's decoding and spectrogram layer, whole files."""
    layer = Spectrogram(**SPECTROGRAM).eval()
    with torch.inference_mode():
        return [
            layer(torch.from_numpy(read_mono(SHARED_AUDIO / f, SAMPLE_RATE).samples)[None])[0]
            for f in reference["files"]
        ]


@pytest.mark.parametrize("name", MODELS)
def test_port_matches_original(
    wheel: Path, reference: dict, spectrograms: list[torch.Tensor], name: str
) -> None:
    net, _ = pretrained_body(*arch_variant(name))
    lengths = [
        int(k.split("/")[1]) for k in reference if k.startswith(f"{name}/") and "taggram" in k
    ]
    assert PATCH_FRAMES in lengths
    for frames in lengths:
        chosen = list(zip(reference[f"{frames}/file"], reference[f"{frames}/start"], strict=True))
        batch = torch.stack([spectrograms[i][..., s : s + frames] for i, s in chosen])
        with torch.inference_mode():
            out = net(batch)
        expected = reference[f"{name}/{frames}/taggram"]
        np.testing.assert_allclose(out["taggram"].numpy(), expected, rtol=0, atol=1e-4)
        # Relative to each embedding's largest value: the port is off by up to 6e-5 of it (the
        # float16 rounding of a mel value flips where torch's and librosa's float32 sums differ
        # in the last bit), and by 4e-4 or more without that rounding or with zero padding.
        for embedding in EMBEDDINGS:
            expected = reference[f"{name}/{frames}/{embedding}"]
            scale = np.abs(expected).max()
            np.testing.assert_allclose(
                out[embedding].numpy(), expected, rtol=0, atol=1.5e-4 * scale, err_msg=embedding
            )


def test_patches_are_the_extractors(reference: dict, spectrograms: list[torch.Tensor]) -> None:
    """The original's last patch of each recording is ``patches()``'s last one."""
    for frames in (PATCH_FRAMES, 118):
        last = {}
        for i, start in zip(reference[f"{frames}/file"], reference[f"{frames}/start"], strict=True):
            last[i] = max(last.get(i, 0), int(start))
        for i, start in last.items():
            cut = patches(spectrograms[i], frames)
            assert torch.equal(cut[-1], spectrograms[i][..., start : start + frames])


def test_lengths() -> None:
    """musicnn takes any length; vgg exactly the 187 frames that a 2.98 s crop gives."""
    musicnn, vgg = Musicnn().eval(), VGG().eval()
    with torch.inference_mode():
        for frames in (1, 50, 400):
            out = musicnn(torch.rand(2, 1, 96, frames))
            assert tuple(out) == OUTPUTS
            assert out["max_pool"].shape == out["mean_pool"].shape == (2, 753)
            assert out["penultimate"].shape == (2, 200) and out["taggram"].shape == (2, 50)
        crop = Spectrogram(**SPECTROGRAM)(torch.rand(1, round(2.98 * SAMPLE_RATE)) - 0.5)
        out = vgg(crop)
        assert out["penultimate"].shape == (1, 256) and out["max_pool"].shape == (1, 128)
        with pytest.raises(GenreError, match=r"exactly 187 frames, got 188.*chunk_seconds=2\.98"):
            vgg(torch.rand(1, 1, 96, 188))
        with pytest.raises(GenreError, match=r"\[batch, 1, 96, time\]"):
            musicnn(torch.rand(1, 1, 128, 187))


# --- converted weights in the cache ----------------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
def test_conversion_is_deterministic(wheel: Path, name: str) -> None:
    assert weights.sha256(weights.convert(name)) == weights.CONVERTED_SHA256[name]


def test_damaged_converted_file_is_rebuilt(wheel: Path) -> None:
    state, digest = weights.load_pretrained("vgg", "mtt")
    path = weights.converted_path("vgg", "mtt")
    assert weights.sha256(path.read_bytes()) == digest == weights.CONVERTED_SHA256["MTT_vgg"]
    damaged = bytearray(path.read_bytes())
    damaged[-100] ^= 0xFF  # a weight, not the header: the file still parses
    path.write_bytes(bytes(damaged))
    rebuilt, digest = weights.load_pretrained("vgg", "mtt")
    assert weights.sha256(path.read_bytes()) == digest
    assert all(torch.equal(state[k], rebuilt[k]) for k in state)
    path.write_bytes(b"")
    assert weights.load_pretrained("vgg", "mtt")[1] == digest


@pytest.mark.slow
def test_missing_wheel_is_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENRE_CACHE", str(tmp_path))
    command = f"python -m pip download musicnn==0.1.0 --no-deps -d {tmp_path / 'pretrained'}"
    with pytest.raises(GenreError) as caught:
        weights.load_pretrained("musicnn", "msd")
    message = str(caught.value)
    assert f"`{command}`" in message
    assert message.endswith(".") and ". " not in message and "\n" not in message
    result = run_module("genre.predict", "--pretrained", "msd", "x.wav", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"genre: {message}"


def test_damaged_wheel_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENRE_CACHE", str(tmp_path))
    (tmp_path / "pretrained").mkdir()
    (tmp_path / "pretrained" / weights.WHEEL).write_bytes(b"not a wheel")
    with pytest.raises(GenreError, match="not the musicnn 0.1.0 wheel published on PyPI"):
        weights.load_pretrained("musicnn", "mtt")


# --- genre.predict --pretrained ------------------------------------------------------------


def test_predict_pretrained(
    wheel: Path, reference: dict, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    """The trumpet loop is one 3 s patch long: the tags are the original's for that patch."""
    trumpet = SHARED_AUDIO / "sorohanro_-_solo-trumpet-06.ogg"
    missing = tmp_path / "missing.wav"
    assert predict.main(["--pretrained", "msd", str(trumpet), str(missing), "--json"]) == 1
    captured = capsys.readouterr()
    assert f"{missing}: skipped: missing file" in captured.err
    result, failed = json.loads(captured.out)
    assert failed == {"file": str(missing), "error": "missing file"}
    assert result["patches"] == 1
    (row,) = np.flatnonzero(reference["files"] == trumpet.name)
    (index,) = np.flatnonzero(reference[f"{PATCH_FRAMES}/file"] == row)
    original = reference[f"MSD_musicnn/{PATCH_FRAMES}/taggram"][index]
    best = original.argsort()[::-1][:3]
    assert [t["tag"] for t in result["top"]] == [TAGS["msd"][i] for i in best]
    assert [t["probability"] for t in result["top"]] == pytest.approx(original[best], abs=1e-4)

    assert predict.main(["--pretrained", "mtt", "--arch", "vgg", "--top", "2", str(trumpet)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{trumpet}  (5.3 s, 1 patches)"
    assert [line.split()[0] for line in lines[1:]] == ["1.", "2."]
