"""Genre probabilities (or, from a tagging model, tag probabilities) for audio files, from a
trained model.

python -m genre.predict FILE [FILE ...] (--run RUN_ID | --model DIR | --checkpoint CKPT --config
YAML | --pretrained msd|mtt [--arch musicnn|vgg]) [--top 3] [--json] [--tracking-uri URI]

Each file is decoded like the training data (mono, resampled to the model's rate), cut into
evenly spaced crops of the model's crop length, and the crops' probabilities are averaged: the
softmax over the genres, or each tag's sigmoid for a tagging model.

--pretrained shows instead the tags of the original musicnn tagger trained on the Million Song
Dataset (msd) or MagnaTagATune (mtt), as its own tagger does: the file's spectrogram cut into
consecutive 3 s patches, their tag probabilities averaged.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from hydra.errors import HydraException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from genre.cli import add_tracking_uri, get_run, open_store
from genre.console import setup_console
from genre.data.audio import DecodeError, read_mono
from genre.data.windows import window_starts
from genre.errors import GenreError, first_line, user_errors
from genre.model.musicnn import SAMPLE_RATE, SPECTROGRAM, patches
from genre.pretrained.names import ARCHS, TAGS, VARIANTS

if TYPE_CHECKING:
    from genre.model.net import GenreNet
    from genre.model.spectrogram import Spectrogram

# The crops that cover the whole file, up to this many (a 3-minute track in 3 s crops): a longer
# one is sampled evenly from intro to outro at a fixed network cost (the training clips came
# from the middle, but a genre call for the whole file should not hang on whichever 30 s were
# picked).
MAX_CROPS = 64
# Only the decoding grows with the file; beyond this the middle part is read (a DJ mix of hours
# would otherwise take gigabytes of memory for the same 16 crops).
MAX_SECONDS = 600.0
CHECKPOINT_KEY = "genre_net"  # what GenreClassifier.on_save_checkpoint stores beside the weights
PATCH_BATCH = 32  # pretrained-tagger patches per forward pass: memory stays flat for long files


def main(argv: list[str] | None = None) -> int:
    setup_console()
    parser = argparse.ArgumentParser(
        prog="python -m genre.predict",
        description=__doc__.split("\n\n")[0],
        epilog="Exit status: 0 all files predicted, 1 some file could not be decoded, "
        "2 none could, or the model or an option is unusable.",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", metavar="RUN_ID", help="the model logged by this MLflow run")
    source.add_argument("--model", type=Path, metavar="DIR", help="a local MLflow model folder")
    source.add_argument(
        "--checkpoint", type=Path, metavar="CKPT", help="a Lightning checkpoint (with --config)"
    )
    source.add_argument(
        "--pretrained",
        choices=VARIANTS,
        help="the original musicnn tagger trained on MSD or MagnaTagATune (tags, not genres)",
    )
    parser.add_argument(
        "--config", type=Path, metavar="YAML", help="the checkpoint's training config"
    )
    parser.add_argument(
        "--arch", choices=ARCHS, help="with --pretrained: its architecture (default musicnn)"
    )
    parser.add_argument(
        "--top", type=int, default=3, help="genres (tags) shown per file (default 3)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    add_tracking_uri(parser)
    args = parser.parse_args(argv)
    if (args.checkpoint is None) != (args.config is None):
        parser.error("--checkpoint and --config go together")
    if args.arch is not None and args.pretrained is None:
        parser.error("--arch goes with --pretrained")
    if args.top < 1:
        parser.error("--top must be at least 1")

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if args.pretrained is not None:
        tagger = load_tagger(args.arch or "musicnn", args.pretrained, device)
        predict = tagger.predict_file
    else:
        net = load_network(args).to(device).eval()
        predict = partial(predict_file, net)

    results: list[dict[str, Any]] = []
    for path in args.files:
        try:
            result = predict(path, args.top, device)
        except DecodeError as exc:
            print(f"genre: {path}: skipped: {exc}", file=sys.stderr)
            results.append({"file": str(path), "error": str(exc)})
            continue
        results.append(result)
        if not args.json:
            print(format_result(result), flush=True)
    if args.json:
        print(json.dumps(results, indent=2))
    failed = sum("error" in r for r in results)
    # Some files skipped among predicted ones is a partial success; nothing predicted is bad input.
    return 0 if not failed else 1 if failed < len(results) else 2


def load_network(args: argparse.Namespace) -> GenreNet:
    if args.checkpoint is not None:
        return load_checkpoint(args.checkpoint, args.config)
    if args.run is not None:
        get_run(open_store(args.tracking_uri), args.run)  # a clear error for a wrong id
        return load_logged_model(f"runs:/{args.run}/model", f"run {args.run}")
    if not (args.model / "MLmodel").is_file():
        raise GenreError(f"{args.model} is not an MLflow model folder (it has no MLmodel file).")
    return load_logged_model(str(args.model), str(args.model))


def load_logged_model(uri: str, name: str) -> GenreNet:
    """The network of a run's MLflow model (``genre.mlflow_model``): its saved network read by
    this genre's own code (``genre.saved_model``). The model's copy of ``mlflow_model.py`` is
    never run, as ``mlflow.pyfunc.load_model`` would: the folder may come from someone else.
    Models that older versions logged as pickles are refused: loading one would run whatever
    code the pickle holds."""
    # Imported here, as in load_checkpoint: they pull in Lightning (seconds), which a wrong
    # option or run id need not wait for.
    import mlflow.artifacts
    import yaml
    from mlflow.exceptions import MlflowException

    from genre.mlflow_model import ARTIFACT
    from genre.saved_model import load_network as load_saved

    try:
        folder = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
        description = yaml.safe_load((folder / "MLmodel").read_text())
    except (MlflowException, OSError) as exc:
        raise GenreError(f"Cannot load the model of {name}: {first_line(exc)}.") from exc
    except yaml.YAMLError as exc:
        raise GenreError(
            f"The MLmodel file of {name} is not valid YAML ({first_line(exc)}): the folder is "
            "damaged or not an MLflow model."
        ) from exc
    flavors = description.get("flavors") if isinstance(description, dict) else None
    flavor = (flavors or {}).get("python_function") or {}
    if "model_code_path" not in flavor:
        raise GenreError(
            f"The model of {name} was logged as a pickle by an older genre, or by another tool, "
            "which genre does not load (it could run any code): reproduce the run to log it anew."
        )
    artifact = ((flavor.get("artifacts") or {}).get(ARTIFACT) or {}).get("path")
    network = (folder / str(artifact)).resolve()
    if artifact is None or not network.is_relative_to(folder.resolve()):
        raise GenreError(f"The model of {name} is not a genre model (it has no saved network).")
    return load_saved(network)


def load_checkpoint(checkpoint: Path, config: Path) -> GenreNet:
    """The network of a Lightning checkpoint of ``GenreClassifier``, built from its config."""
    from genre.build import build_network

    try:
        cfg = OmegaConf.load(config)
    except FileNotFoundError as exc:
        raise GenreError(f"No config file at {config}.") from exc
    except Exception as exc:  # YAML and OmegaConf errors alike: the file is not a config
        raise GenreError(f"{config} is not a YAML config: {first_line(exc)}.") from exc
    try:
        # Weights only: a checkpoint is data, and unpickling arbitrary objects could run code.
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise GenreError(f"No checkpoint file at {checkpoint}.") from exc
    except Exception as exc:  # torch raises several types, with cryptic texts ("'101'")
        raise GenreError(f"{checkpoint} is not a readable PyTorch checkpoint file.") from exc
    if not isinstance(state, dict) or "state_dict" not in state:
        raise GenreError(f"{checkpoint} is not a Lightning checkpoint (it has no state_dict).")
    if CHECKPOINT_KEY not in state:
        raise GenreError(
            f"Checkpoint {checkpoint} does not name its genres (it predates genre.predict); "
            "predict with --run or --model, whose models carry them."
        )
    saved = state[CHECKPOINT_KEY]
    try:
        net = build_network(cfg, list(saved["genres"]))
    except (OmegaConfBaseException, HydraException, TypeError, KeyError) as exc:
        # Hydra's instantiate puts the model's own error on a second line: keep both.
        reason = " ".join(str(exc).split()).rstrip(".")
        raise GenreError(
            f"{config} does not build a genre network ({reason}): pass the checkpoint's "
            ".hydra/config.yaml or its run's config.yaml."
        ) from exc
    weights = {
        key.removeprefix("net."): value
        for key, value in state["state_dict"].items()
        if key.startswith("net.")
    }
    try:
        net.load_state_dict(weights)
        for key in ("sample_rate", "chunk_samples"):
            if saved[key] != getattr(net, key):
                raise RuntimeError(
                    f"{key} is {saved[key]} in the checkpoint, {getattr(net, key)} in the config"
                )
    except RuntimeError as exc:
        raise GenreError(
            f"Checkpoint {checkpoint} does not match config {config} ({mismatch(exc)}): "
            "pass the config it was trained with."
        ) from exc
    return net


def mismatch(exc: RuntimeError) -> str:
    """The first problem of a failed ``load_state_dict``, shortened; its first line is a
    heading, and a list of all the layers that differ would hide the cause."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    detail = (lines[1] if len(lines) > 1 else lines[0]).rstrip(".")
    shapes = re.fullmatch(
        r"size mismatch for (\S+): copying a param with shape torch.Size\((.*)\) from "
        r"checkpoint, the shape in current model is torch.Size\((.*)\)",
        detail,
    )
    if shapes:
        name, saved, built = shapes.groups()
        return f"{name} has shape {saved} in the checkpoint, {built} from the config"
    return detail


@torch.inference_mode()
def predict_file(net: GenreNet, path: Path, top: int, device: torch.device) -> dict[str, Any]:
    decoded = read_mono(path, net.sample_rate, max_seconds=MAX_SECONDS)
    crops = covering_crops(decoded.samples, net.chunk_samples, net.hop_samples)
    probs = net.clip_probabilities(torch.from_numpy(crops)[None].to(device))[0].cpu()
    label = "tag" if net.multilabel else "genre"
    best = probs.argsort(descending=True)[:top]
    return {
        "file": str(path),
        "seconds": round(decoded.seconds, 2),
        "crops": len(crops),
        "top": [{label: net.genres[i], "probability": round(float(probs[i]), 4)} for i in best],
    }


@dataclass
class Tagger:
    """An original musicnn model with its own spectrogram front end and tag names."""

    spectrogram: Spectrogram
    net: torch.nn.Module
    tags: tuple[str, ...]

    @torch.inference_mode()
    def predict_file(self, path: Path, top: int, device: torch.device) -> dict[str, Any]:
        decoded = read_mono(path, SAMPLE_RATE, max_seconds=MAX_SECONDS)
        spec = self.spectrogram(torch.from_numpy(decoded.samples)[None].to(device))[0]
        cut = patches(spec)
        taggram = torch.cat([self.net(batch)["taggram"] for batch in cut.split(PATCH_BATCH)])
        probs = taggram.mean(dim=0).cpu()
        best = probs.argsort(descending=True)[:top]
        return {
            "file": str(path),
            "seconds": round(decoded.seconds, 2),
            "patches": len(cut),
            "top": [{"tag": self.tags[i], "probability": round(float(probs[i]), 4)} for i in best],
        }


def load_tagger(arch: str, variant: str, device: torch.device) -> Tagger:
    from genre.model.spectrogram import Spectrogram
    from genre.model.transfer import pretrained_body

    net, _ = pretrained_body(arch, variant)
    spectrogram = Spectrogram(**SPECTROGRAM).eval()
    return Tagger(spectrogram.to(device), net.to(device), TAGS[variant])


def covering_crops(samples: np.ndarray, chunk: int, hop: int) -> np.ndarray:
    """``[crops, chunk]``: the windows that cover ``samples``, as the test clips' were with
    ``data.eval_crops=all`` (``genre.data.windows``), thinned to ``MAX_CROPS`` evenly spaced
    ones for a long file; a file shorter than one crop is zero-padded, as the training clips
    are."""
    if len(samples) < chunk:
        samples = np.pad(samples, (0, chunk - len(samples)))
    starts = window_starts(len(samples), chunk, hop)
    if len(starts) > MAX_CROPS:
        starts = starts[np.linspace(0, len(starts) - 1, MAX_CROPS).round().astype(int)]
    return np.stack([samples[s : s + chunk] for s in starts])


def format_result(result: dict[str, Any]) -> str:
    """A file's top genres (or tags) with their probabilities."""
    label = "tag" if "tag" in result["top"][0] else "genre"
    unit = "crops" if "crops" in result else "patches"
    width = max(len(entry[label]) for entry in result["top"])
    lines = [f"{result['file']}  ({result['seconds']:.1f} s, {result[unit]} {unit})"]
    for rank, entry in enumerate(result["top"], 1):
        lines.append(f"  {rank}. {entry[label]:<{width}}  {entry['probability']:.3f}")
    return "\n".join(lines)


if __name__ == "__main__":
    with user_errors():
        sys.exit(main())
