"""Transfer learning: pretrained networks (``genre.model.musicnn``, their weights from
``genre.pretrained``) behind a new head for the task's classes, frozen or fine-tuned.

The head reads one embedding layer of one pretrained model, or several layers of several models
concatenated (``embedding="max_pool+mean_pool"``, ``variant="msd+mtt"``, ``arch="musicnn+vgg"``:
every arch with every variant), optionally standardised with statistics of the training split,
then a linear layer or an MLP. ``features`` (the pretrained side) and ``head_logits`` (the new
side) are separate, so that a frozen network's features can be computed once and cached
(``genre.embed``) and a clip's window features pooled before the head (``clip_pool``)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genre.errors import GenreError, check_members
from genre.model import musicnn
from genre.pretrained.names import ARCHS, LAYERS, VARIANTS
from genre.pretrained.weights import load_pretrained

# The front end of each pretrained architecture: what freeze=frontend keeps fixed.
FRONTENDS = {
    "musicnn": ("input_bn", "timbral", "temporal"),
    "vgg": ("input_bn", "convs.0", "bns.0"),
}


def members(arch: str, variant: str) -> list[tuple[str, str]]:
    """The pretrained models a head reads: every arch of ``arch`` with every variant."""
    return [
        (a, v)
        for a in check_members("model.arch", arch, ARCHS)
        for v in check_members("model.variant", variant, VARIANTS)
    ]


def front_end(models: list[tuple[str, str]]) -> dict[str, Any]:
    """The spectrogram settings the ``models`` were trained with, which must be one and the same:
    one front end feeds them all."""
    settings = [musicnn.front_end(arch, variant) for arch, variant in models]
    rates = {int(s["sample_rate"]) for s in settings}
    if len(rates) > 1:
        names = ", ".join(f"{a} {v}" for a, v in models)
        raise GenreError(
            f"The concatenated models ({names}) hear audio at different sample rates "
            f"({', '.join(map(str, sorted(rates)))} Hz): concatenate models of one rate."
        )
    if any(s != settings[0] for s in settings[1:]):
        raise GenreError(
            "The concatenated models were trained on different spectrograms: concatenate "
            "models that share one front end."
        )
    return settings[0]


def pretrained_body(arch: str, variant: str) -> tuple[nn.Module, str]:
    """The port of ``arch`` with the ``variant`` weights, in eval mode, and the weights' sha256."""
    state, digest = load_pretrained(arch, variant)
    body = musicnn.build(arch)
    body.load_state_dict(state)
    return body.eval(), digest


class Standardize(nn.Module):
    """``(x - mean) / std`` per feature, with statistics set once from the training split
    (:meth:`fit`), kept as buffers (saved with the model); the identity when off, with no
    buffers, as models saved before it was an option have none."""

    def __init__(self, width: int, enabled: bool):
        super().__init__()
        self.enabled = enabled
        if enabled:
            self.register_buffer("mean", torch.zeros(width))
            self.register_buffer("std", torch.ones(width))

    def fit(self, features: torch.Tensor) -> None:
        """Statistics of ``features`` ``[examples, width]`` (a feature that never varies keeps
        unit scale)."""
        std = features.std(0)
        self.mean.copy_(features.mean(0))
        self.std.copy_(torch.where(std > 1e-6, std, torch.ones_like(std)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std if self.enabled else x


class MusicnnClassifier(nn.Module):
    """Pretrained musicnn or vgg models (``genre.pretrained``) with a new head for the task's
    classes, fed their ``embedding`` layers. ``freeze``: ``all`` trains the head alone, on fixed
    embeddings; ``frontend`` also fine-tunes what follows each front end; ``none`` fine-tunes
    everything. Frozen layers stay in eval mode, so their batch-norm statistics never move.
    Fine-tuned pretrained layers learn at ``pretrained_lr`` times the optimiser's rate.

    The head: ``standardize`` the features (statistics of the training split, set by the
    trainer), dropout, ``head_layers`` hidden layers of ``head_hidden`` units (ReLU, dropout)
    when ``head_hidden`` > 0, and a linear layer to the classes. ``clip_pool``: how a clip's
    windows are joined (``genre.model.net.GenreNet``).

    ``SPECTROGRAM`` is the front end the weights were trained with: the network builder uses it
    instead of the run's ``features`` (``genre.build``)."""

    SPECTROGRAM = musicnn.SPECTROGRAM

    def __init__(
        self,
        n_classes: int,
        arch: str = "musicnn",
        variant: str = "msd",
        freeze: str = "all",
        embedding: str = "max_pool",
        head_hidden: int = 0,
        head_layers: int = 1,
        head_dropout: float = 0.0,
        standardize: bool = False,
        clip_pool: str = "probs",
        pretrained_lr: float = 0.1,
    ):
        super().__init__()
        self.models = members(arch, variant)
        self.SPECTROGRAM = front_end(self.models)
        self.layers = check_members("model.embedding", embedding, LAYERS)
        bodies = [pretrained_body(a, v) for a, v in self.models]
        self.bodies = nn.ModuleList(body for body, _ in bodies)
        self.weights_sha256 = "+".join(digest for _, digest in bodies)
        self.freeze, self.clip_pool = freeze, clip_pool
        self.pretrained_lr = float(pretrained_lr)
        self.frozen = {
            f"{i}.{name}".rstrip("."): self.bodies[i].get_submodule(name)
            for i, (a, _) in enumerate(self.models)
            for name in {"all": ("",), "frontend": FRONTENDS[a], "none": ()}[freeze]
        }
        for module in self.frozen.values():
            module.requires_grad_(False)
        width = sum(self.widths().values())
        self.standardize = Standardize(width, standardize)
        layers: list[nn.Module] = [nn.Dropout(head_dropout)]
        for _ in range(head_layers if head_hidden else 0):
            layers += [
                nn.Linear(width, head_hidden),
                nn.ReLU(inplace=True),
                nn.Dropout(head_dropout),
            ]
            width = head_hidden
        self.head = nn.Sequential(*layers, nn.Linear(width, n_classes))
        self.train()

    @torch.no_grad()
    def widths(self) -> dict[tuple[str, str, str], int]:
        """The width of each ``(arch, variant, layer)`` the head reads, in the order of
        :meth:`features`."""
        patch = torch.zeros(2, 1, musicnn.N_MELS, musicnn.PATCH_FRAMES)
        widths = {}
        for (arch, variant), body in zip(self.models, self.bodies, strict=True):
            outputs = body.eval()(patch)
            for layer in self.layers:
                widths[arch, variant, layer] = outputs[layer].shape[1]
        return widths

    def train(self, mode: bool = True) -> MusicnnClassifier:
        super().train(mode)
        for module in self.frozen.values():
            module.eval()
        return self

    def outputs(self, spectrogram: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        """Each pretrained model's outputs for a batch of log-mel images."""
        # Fixed embeddings need no graph: frozen, the bodies cost a forward pass only.
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.freeze != "all"):
            return [body(spectrogram) for body in self.bodies]

    def features(self, spectrogram: torch.Tensor) -> torch.Tensor:
        """``[batch, width]``: the chosen layers of every model, concatenated."""
        outputs = self.outputs(spectrogram)
        return torch.cat([out[layer] for out in outputs for layer in self.layers], dim=1)

    def head_logits(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.standardize(features))

    def forward(self, spectrogram: torch.Tensor) -> torch.Tensor:
        return self.head_logits(self.features(spectrogram))

    def parameter_groups(self) -> list[dict]:
        """The head at the optimiser's rate, fine-tuned pretrained layers at ``pretrained_lr``
        times it (``lr_scale``, applied by the optimiser factory)."""
        tuned = [p for p in self.bodies.parameters() if p.requires_grad]
        groups = [{"params": list(self.head.parameters())}]
        if tuned:
            groups.append({"params": tuned, "lr_scale": self.pretrained_lr})
        return groups

    def frozen_state(self) -> list[str]:
        """State dict keys that hold the pretrained weights unchanged: a saved model names their
        checksum instead of copying them."""
        return [
            ".".join(filter(None, ("bodies", name, key)))
            for name, module in self.frozen.items()
            for key in module.state_dict()
        ]

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: Any) -> None:
        # Models saved before several pretrained models could be concatenated kept their one
        # model under "body."; it is the first of "bodies." now.
        for key in [k for k in state_dict if k.startswith(f"{prefix}body.")]:
            new = f"{prefix}bodies.0.{key.removeprefix(f'{prefix}body.')}"
            state_dict[new] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args)
