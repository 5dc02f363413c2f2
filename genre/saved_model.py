"""A trained network as files that load without running pickled code: its weights as
safetensors and the config that rebuilds it, in one folder::

    weights.safetensors   the state dict, less any pretrained weights it left unchanged
    network.yaml          the run's resolved config, the genre names (a tagging network's tags),
                          and the sha256 of the pretrained weights it builds on
                          (genre.pretrained), if any

The folder is what a run logs as its MLflow model's artifact (``genre.mlflow_model``), and what
``genre.predict`` loads. Classes may move between versions: the config names them again. A folder
may come from someone else: its config may name only genre's own networks
(``genre.config.check_targets``), and the weights are tensors, so loading it runs no code of
theirs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig, OmegaConf
from safetensors.torch import load_file, save_file

from genre.config import check_targets
from genre.errors import GenreError, first_line

if TYPE_CHECKING:
    from genre.model.net import GenreNet

WEIGHTS = "weights.safetensors"
NETWORK = "network.yaml"


def save_network(net: GenreNet, cfg: DictConfig, folder: Path) -> None:
    """Write ``net`` (trained with config ``cfg``) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    frozen = set(net.frozen_state())
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    save_file({k: v for k, v in state.items() if k not in frozen}, str(folder / WEIGHTS))
    description = {
        "config": OmegaConf.to_container(cfg, resolve=True),
        "genres": list(net.genres),
        "sample_rate": net.sample_rate,
        "chunk_samples": net.chunk_samples,
        "pretrained_sha256": getattr(net.classifier, "weights_sha256", None),
    }
    OmegaConf.save(OmegaConf.create(description), folder / NETWORK)


def load_network(folder: Path) -> GenreNet:
    """The network saved in ``folder``, in eval mode on the CPU."""
    from genre.build import build_network

    try:
        description = OmegaConf.load(folder / NETWORK)
        state = load_file(str(folder / WEIGHTS))
    except FileNotFoundError as exc:
        raise GenreError(
            f"{folder} holds no saved genre network ({exc.filename} is missing)."
        ) from exc
    except Exception as exc:  # YAML, OmegaConf and safetensors errors alike: not a network
        raise GenreError(f"{folder} holds no readable genre network ({first_line(exc)}).") from exc
    check_targets(description.config, str(folder / NETWORK))
    net = build_network(description.config, list(description.genres))
    reference = description.get("pretrained_sha256")
    if reference is not None and reference != getattr(net.classifier, "weights_sha256", None):
        raise GenreError(
            f"The network in {folder} was trained on pretrained weights with sha256 {reference}, "
            "and this genre converts others: use the genre version that trained it."
        )
    missing, unexpected = net.load_state_dict(state, strict=False)
    if unexpected or set(missing) - set(net.frozen_state()):
        raise GenreError(
            f"The weights in {folder} do not fit the network its config builds "
            f"(missing {sorted(set(missing) - set(net.frozen_state()))[:3]}, "
            f"unexpected {sorted(unexpected)[:3]})."
        )
    return net.eval()
