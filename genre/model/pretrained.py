"""A pretrained network (``genre.model.musicnn``, weights from ``genre.pretrained``) behind a new
head for the task's classes, frozen or fine-tuned."""

from __future__ import annotations

import torch
from torch import nn

from genre.model import musicnn as pretrained
from genre.pretrained.weights import pretrained_model

# The front end of each pretrained architecture: what freeze=frontend keeps fixed.
FRONTENDS = {
    "musicnn": ("input_bn", "timbral", "temporal"),
    "vgg": ("input_bn", "convs.0", "bns.0"),
}


class MusicnnClassifier(nn.Module):
    """A pretrained musicnn or vgg (``genre.pretrained``) with a new head for the task's classes,
    fed one of its embeddings. ``freeze``: ``all`` trains the head alone, on fixed embeddings;
    ``frontend`` also fine-tunes what follows the front end; ``none`` fine-tunes everything.
    Frozen layers stay in eval mode, so their batch-norm statistics never move. Fine-tuned
    pretrained layers learn at ``pretrained_lr`` times the optimiser's rate.

    ``SPECTROGRAM`` is the front end the weights were trained with: the network builder uses it
    instead of the run's ``features`` (``genre.build``)."""

    SPECTROGRAM = pretrained.SPECTROGRAM

    def __init__(
        self,
        n_classes: int,
        arch: str = "musicnn",
        variant: str = "msd",
        freeze: str = "all",
        embedding: str = "max_pool",
        head_hidden: int = 0,
        head_dropout: float = 0.0,
        pretrained_lr: float = 0.1,
    ):
        super().__init__()
        self.body, self.weights_sha256 = pretrained_model(arch, variant)
        self.freeze, self.embedding, self.pretrained_lr = freeze, embedding, float(pretrained_lr)
        names = {"all": ("",), "frontend": FRONTENDS[arch], "none": ()}[freeze]
        self.frozen = {name: self.body.get_submodule(name) for name in names}
        for module in self.frozen.values():
            module.requires_grad_(False)
        with torch.no_grad():
            patch = torch.zeros(2, 1, pretrained.N_MELS, pretrained.PATCH_FRAMES)
            width = self.body.eval()(patch)[embedding].shape[1]
        layers: list[nn.Module] = [nn.Dropout(head_dropout)]
        if head_hidden:
            layers += [
                nn.Linear(width, head_hidden),
                nn.ReLU(inplace=True),
                nn.Dropout(head_dropout),
            ]
            width = head_hidden
        self.head = nn.Sequential(*layers, nn.Linear(width, n_classes))
        self.train()

    def train(self, mode: bool = True) -> MusicnnClassifier:
        super().train(mode)
        for module in self.frozen.values():
            module.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Fixed embeddings need no graph: frozen, the body costs a forward pass only.
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.freeze != "all"):
            features = self.body(x)[self.embedding]
        return self.head(features)

    def parameter_groups(self) -> list[dict]:
        """The head at the optimiser's rate, fine-tuned pretrained layers at ``pretrained_lr``
        times it (``lr_scale``, applied by the optimiser factory)."""
        tuned = [p for p in self.body.parameters() if p.requires_grad]
        groups = [{"params": list(self.head.parameters())}]
        if tuned:
            groups.append({"params": tuned, "lr_scale": self.pretrained_lr})
        return groups

    def frozen_state(self) -> list[str]:
        """State dict keys that hold the pretrained weights unchanged: a saved model names their
        checksum instead of copying them."""
        return [
            ".".join(filter(None, ("body", name, key)))
            for name, module in self.frozen.items()
            for key in module.state_dict()
        ]
