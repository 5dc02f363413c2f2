"""Reference outputs of the ORIGINAL musicnn models, for tests/test_pretrained.py to hold genre's
PyTorch port to: the TensorFlow graph of ``musicnn/models.py`` and the checkpoints, both taken
from the musicnn 0.1.0 wheel, run on the real recordings of ``shared/audio`` over patches cut as
the original extractor cuts them.

Differences from ``musicnn.extractor``, each so that both sides see the same input:
- audio is decoded by genre's own path (``genre/data/audio.py``: soundfile, mono mix, soxr to
  16 kHz), loaded from its file so genre need not be installed here, instead of
  ``librosa.load``;
- the mel spectrogram is ``librosa.feature.melspectrogram`` with the extractor's arguments and
  ``pad_mode="reflect"``, the default of the librosa (0.7) the wheel required, which librosa
  0.9 changed to zero padding;
- ``10000 * mel`` is computed in float32 from the mel spectrogram rounded to float16, as the
  extractor's ``10000 * audio_rep.astype(np.float16)`` was under the NumPy it required (<1.17,
  whose value-based casting promoted it to float32); NumPy 2 keeps it in float16, where it
  overflows to infinity in loud bands.

Saved (``np.savez_compressed``, no pickles): ``files`` (recording names), and for each patch
length ``L`` (187 frames = 3 s; 118 = 1.9 s, musicnn only) the patches ``L/file`` (index into
``files``) and ``L/start`` (first frame), the first and last of each recording's patches; for
each model ``NAME/L/taggram`` [patches, 50] and the embeddings ``NAME/L/penultimate``,
``max_pool``, ``mean_pool`` (for vgg: the flattened pool5, and the maximum and mean of the last
block's batch norm output over frequency and time, as the port defines them).

Environment (Python 3.11, outside genre's venv; versions as used to make the committed file)::

    python3.11 -m venv /work/tfenv
    /work/tfenv/bin/pip install tensorflow-cpu==2.21.0 tf_keras==2.21.0 librosa==0.11.0 \\
        soundfile==0.14.0 soxr==1.1.0
    .venv/bin/python -m genre.pretrained fetch      # the wheel, into genre's cache

Run from the repository root (about 30 s on 2 CPU cores)::

    /work/tfenv/bin/python scripts/musicnn_reference.py \\
        --wheel ~/.cache/genre/pretrained/musicnn-0.1.0-py3-none-any.whl \\
        --audio ../shared/audio --out tests/data/musicnn_reference.npz
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

# musicnn builds its graph with tf.compat.v1.layers, which TensorFlow 2.16+ only keeps in
# tf_keras; must be set before TensorFlow is imported.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg")
SECONDS = {"musicnn": (3.0, 1.9), "vgg": (3.0,)}  # patch lengths, as the extractor's input_length


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cache = Path(os.environ.get("GENRE_CACHE", Path.home() / ".cache" / "genre"))
    parser.add_argument(
        "--wheel", type=Path, default=cache / "pretrained" / "musicnn-0.1.0-py3-none-any.whl"
    )
    parser.add_argument("--audio", type=Path, default=ROOT.parent / "shared" / "audio")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "tests" / "data" / "musicnn_reference.npz"
    )
    args = parser.parse_args()
    # tf.compat.v1.layers warns at every layer of the original's graph that it is deprecated.
    warnings.filterwarnings("ignore", message=r".*is deprecated", category=UserWarning)
    with tempfile.TemporaryDirectory(prefix="musicnn-") as tmp:
        unpacked = Path(tmp)
        with zipfile.ZipFile(args.wheel) as wheel:
            wheel.extractall(unpacked)
        sys.path.insert(0, str(unpacked))
        out = reference_outputs(sorted(args.audio.glob("*.ogg")), unpacked)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **out)
    print(f"{args.out}: {args.out.stat().st_size / 1e3:.0f} kB")


def reference_outputs(files: list[Path], unpacked: Path) -> dict[str, np.ndarray]:
    import librosa

    audio = load_genre_audio()
    spectrograms = [log_mel(audio.read_mono(f, 16000).samples, librosa) for f in files]
    out: dict[str, np.ndarray] = {"files": np.array([f.name for f in files])}
    for seconds in (3.0, 1.9):
        n_frames = int(librosa.time_to_frames(seconds, sr=16000, n_fft=512, hop_length=256)) + 1
        chosen = [
            (i, s) for i, spec in enumerate(spectrograms) for s in first_and_last(spec, n_frames)
        ]
        out[f"{n_frames}/file"] = np.array([i for i, _ in chosen])
        out[f"{n_frames}/start"] = np.array([s for _, s in chosen])
        batch = np.stack([spectrograms[i][s : s + n_frames] for i, s in chosen])
        for model in MODELS:
            if seconds in SECONDS[model.split("_")[1]]:
                for name, value in run_original(model, batch, unpacked).items():
                    out[f"{model}/{n_frames}/{name}"] = value.astype(np.float32)
                print(f"{model} {n_frames} frames: {len(batch)} patches", flush=True)
    return out


def load_genre_audio():
    spec = importlib.util.spec_from_file_location(
        "genre_audio", ROOT / "genre" / "data" / "audio.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def log_mel(samples: np.ndarray, librosa) -> np.ndarray:
    """``[time, 96]``: the extractor's ``batch_data`` spectrogram (see the module docstring)."""
    mel = librosa.feature.melspectrogram(
        y=samples, sr=16000, hop_length=256, n_fft=512, n_mels=96, pad_mode="reflect"
    ).T
    return np.log10(10000 * mel.astype(np.float16).astype(np.float32) + 1)


def first_and_last(spec: np.ndarray, n_frames: int) -> list[int]:
    """The first frames of the first and last patch of the extractor's ``batch_data``, which
    cuts consecutive patches with ``range(0, len - n_frames + 1, n_frames)``."""
    starts = list(range(0, spec.shape[0] - n_frames + 1, n_frames))
    return sorted({starts[0], starts[-1]})


def run_original(model: str, batch: np.ndarray, unpacked: Path) -> dict[str, np.ndarray]:
    """The extractor's graph for ``model`` on ``batch`` [patches, frames, 96], in inference
    mode, with the wheel's checkpoint restored."""
    import tensorflow as tf
    from musicnn import models

    tf.compat.v1.disable_eager_execution()
    tf.compat.v1.reset_default_graph()
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, batch.shape[1], 96])
        is_training = tf.compat.v1.placeholder(tf.bool)
        outputs = models.define_model(x, is_training, model, 50)
        taggram = tf.nn.sigmoid(outputs[0])
    if "vgg" in model:
        pool5 = outputs[5]
        last_block = pool5.op.inputs[0]  # the batch norm output that pool5 reads
        fetch = [taggram, pool5, last_block]
    else:
        _, _, _, _, _, _, mean_pool, max_pool, penultimate = outputs
        fetch = [taggram, penultimate, max_pool, mean_pool]
    with tf.compat.v1.Session() as sess:
        tf.compat.v1.train.Saver().restore(sess, str(unpacked / "musicnn" / model) + "/")
        values = sess.run(fetch, feed_dict={x: batch, is_training: False})
    if "vgg" in model:
        tags, pool5_, last = values
        assert last.shape[1:] == (11, 6, 128), last.shape
        return {
            "taggram": tags,
            "penultimate": pool5_.reshape(len(batch), -1),
            "max_pool": last.max(axis=(1, 2)),
            "mean_pool": last.mean(axis=(1, 2)),
        }
    return dict(zip(("taggram", "penultimate", "max_pool", "mean_pool"), values, strict=True))


if __name__ == "__main__":
    main()
