"""PyTorch port of the pretrained musicnn models (Pons & Serra, "musicnn: pre-trained
convolutional neural networks for music audio tagging", ISMIR 2019 LBD; ISC licence), layer for
layer as ``musicnn/models.py`` of the ``musicnn`` 0.1.0 wheel builds them in TensorFlow 1.

- ``Musicnn`` (``arch=musicnn``): musically motivated front end (timbral filters of 7 frames by
  38 and 67 mel bands, temporal filters of 128, 64 and 32 frames, each max-pooled over
  frequency), a mid end of three residual 1-d convolutions, and a back end that pools the 753
  features over time (max and mean) into a 200-unit dense layer.
- ``VGG`` (``arch=vgg``): five 3x3 convolution blocks of 128 filters and a dense output layer.

Both take genre's log-mel image ``[batch, 1, 96 mel bands, time]`` made by
``genre.model.spectrogram.Spectrogram(**SPECTROGRAM)`` (the settings the models were trained
with) and return a dict: ``logits`` and ``taggram`` (their sigmoid: the 50 tag probabilities of
``TAGS[variant]``) and three embeddings:

- musicnn: ``max_pool`` and ``mean_pool`` (753 each: the mid end's features pooled over time)
  and ``penultimate`` (200: the dense layer after its batch norm), the original's features of
  the same names.
- vgg, which has no pooling over time in the original: ``penultimate`` is what its output layer
  sees, the flattened last pooling (256 = 2 time steps x 128 filters, the original's ``pool5``
  in TensorFlow's order); ``max_pool`` and ``mean_pool`` are the maximum and mean over frequency
  and time of the last convolution block's output (128 each), before that pooling, which reads
  only its first 8 of 11 time steps and 4 of 6 frequency bins.

Lengths: musicnn pools over time, so it takes patches of any length (the original's extractor
allows any ``input_length``; the models were trained on 187 frames, 3 s). VGG flattens a
time-dependent map into its dense layer, so it takes exactly 187 frames, as the original
refuses any other length: other lengths are an error naming the crop that gives 187 frames,
not a silent crop or pad, which would change what the dense layer's weights see.

Dropout and batch norm follow TensorFlow's settings (epsilon 1e-3, moving averages with
momentum 0.99), so fine-tuning behaves as training the original did.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genre.errors import GenreError, check_choice
from genre.pretrained.names import ARCHS, LAYERS, VARIANTS

SAMPLE_RATE = 16000
N_MELS = 96
PATCH_FRAMES = 187  # 3 s: librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1
HOP = 256
# genre.model.spectrogram.Spectrogram(**SPECTROGRAM) computes the models' input as the original's
# librosa.feature.melspectrogram did (librosa 0.7, which musicnn 0.1.0 required): power mel
# spectrogram with librosa's (Slaney) mel scale and area normalisation, centred frames padded by
# reflection (librosa's default until 0.9), rounded to float16 as the extractor rounds it, then
# log10(1 + 10000 x) in float32, no normalisation per example.
SPECTROGRAM = {
    "sample_rate": SAMPLE_RATE,
    "kind": "mel",
    "n_fft": 512,
    "hop_length": HOP,
    "win_length": None,
    "n_mels": N_MELS,
    "f_min": 0.0,
    "f_max": None,
    "mel_scale": "slaney",
    "mel_norm": "slaney",
    "pad_mode": "reflect",
    "power_dtype": "float16",
    "scale": "log1p",
    "log_gain": 10000.0,
    "normalize": "none",
}
OUTPUTS = ("logits", *LAYERS)

BN_EPS = 1e-3  # tf.compat.v1.layers.batch_normalization's defaults
BN_MOMENTUM = 0.01  # PyTorch's momentum is 1 - TensorFlow's 0.99


def front_end(arch: str, variant: str) -> dict:
    """The spectrogram settings ``arch`` was trained with on ``variant``: ``SPECTROGRAM`` for
    every model the wheel holds."""
    check_choice("pretrained arch", arch, ARCHS)
    check_choice("pretrained variant", variant, VARIANTS)
    return SPECTROGRAM


def build(arch: str, n_tags: int = 50) -> Musicnn | VGG:
    """An untrained port of ``arch``, to load converted weights into."""
    check_choice("pretrained arch", arch, ARCHS)
    return Musicnn(n_tags) if arch == "musicnn" else VGG(n_tags)


def patches(spec: torch.Tensor, frames: int = PATCH_FRAMES) -> torch.Tensor:
    """``[patches, 1, n_mels, frames]``: consecutive non-overlapping patches of a whole clip's
    spectrogram ``[1, n_mels, time]``, as the original extractor cuts them (a last incomplete
    patch is dropped). A clip shorter than one patch is repeated to fill it, as the models'
    training padded short clips ("repeat-pad")."""
    if spec.shape[-1] < frames:
        spec = spec.repeat(1, 1, -(-frames // spec.shape[-1]))
    starts = range(0, spec.shape[-1] - frames + 1, frames)
    return torch.stack([spec[..., s : s + frames] for s in starts])


def _bn(cls: type[nn.modules.batchnorm._BatchNorm], channels: int) -> nn.Module:
    return cls(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


def _check_mels(x: torch.Tensor) -> None:
    if x.dim() != 4 or x.shape[1] != 1 or x.shape[2] != N_MELS:
        raise GenreError(
            f"The musicnn models take log-mel images [batch, 1, {N_MELS}, time] "
            f"(features.n_mels={N_MELS}), got {list(x.shape)}."
        )


def _outputs(
    logits: torch.Tensor, penultimate: torch.Tensor, max_pool: torch.Tensor, mean_pool: torch.Tensor
) -> dict[str, torch.Tensor]:
    """What both architectures return (``OUTPUTS``)."""
    return {
        "logits": logits,
        "taggram": torch.sigmoid(logits),
        "penultimate": penultimate,
        "max_pool": max_pool,
        "mean_pool": mean_pool,
    }


class FrequencyPooledConv(nn.Module):
    """Conv (ReLU), batch norm, max over all frequencies: a front-end branch of musicnn.
    ``time_pad`` is the (before, after) zero padding in time that keeps every frame."""

    def __init__(self, filters: int, bands: int, frames: int, time_pad: tuple[int, int]):
        super().__init__()
        self.time_pad = time_pad
        self.conv = nn.Conv2d(1, filters, (bands, frames))
        self.bn = _bn(nn.BatchNorm2d, filters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(F.relu(self.conv(F.pad(x, self.time_pad))))
        return x.amax(dim=2)  # [batch, filters, time]


class TemporalConv(nn.Module):
    """Conv over 7 frames of all input features (ReLU), batch norm: a mid-end layer of
    musicnn, a 2-d convolution as wide as its input in the original."""

    def __init__(self, channels: int, filters: int):
        super().__init__()
        self.conv = nn.Conv1d(channels, filters, 7)
        self.bn = _bn(nn.BatchNorm1d, filters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(F.relu(self.conv(F.pad(x, (3, 3)))))


class Musicnn(nn.Module):
    """musicnn's ``build_musicnn`` (front end 1.6 x 128 / 1.6 x 32 filters, 64-filter mid end,
    200-unit back end)."""

    def __init__(self, n_tags: int = 50):
        super().__init__()
        self.input_bn = _bn(nn.BatchNorm2d, 1)
        timbral = int(1.6 * 128)  # the original's int(num_filt * 128)
        temporal = int(1.6 * 32)
        # Timbral: 7 frames x 40% and 70% of the bands, valid in frequency, 'same' in time.
        self.timbral = nn.ModuleList(
            FrequencyPooledConv(timbral, int(share * N_MELS), 7, (3, 3)) for share in (0.4, 0.7)
        )
        # Temporal: one band x 128/64/32 frames, TensorFlow's 'same' padding (the extra frame of
        # an even kernel goes after).
        self.temporal = nn.ModuleList(
            FrequencyPooledConv(temporal, 1, n, ((n - 1) // 2, n // 2)) for n in (128, 64, 32)
        )
        front = 2 * timbral + 3 * temporal  # 561
        self.midend = nn.ModuleList(
            [TemporalConv(front, 64), TemporalConv(64, 64), TemporalConv(64, 64)]
        )
        features = front + 3 * 64  # 753
        self.pool_bn = _bn(nn.BatchNorm1d, 2 * features)
        self.dense = nn.Linear(2 * features, 200)
        self.dense_bn = _bn(nn.BatchNorm1d, 200)
        self.output = nn.Linear(200, n_tags)
        self.dropout = nn.Dropout(0.5)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        _check_mels(x)
        x = self.input_bn(x)
        front = torch.cat([branch(x) for branch in (*self.timbral, *self.temporal)], dim=1)
        mid1 = self.midend[0](front)
        mid2 = self.midend[1](mid1) + mid1
        mid3 = self.midend[2](mid2) + mid2
        features = torch.cat([front, mid1, mid2, mid3], dim=1)  # [batch, 753, time]
        max_pool, mean_pool = features.amax(dim=2), features.mean(dim=2)
        # Interleaved (max, mean) per feature, as the original flattens its [753, 2] pooling.
        pooled = torch.stack([max_pool, mean_pool], dim=2).flatten(1)
        hidden = F.relu(self.dense(self.dropout(self.pool_bn(pooled))))
        penultimate = self.dense_bn(hidden)
        logits = self.output(self.dropout(penultimate))
        return _outputs(logits, penultimate, max_pool, mean_pool)


class VGG(nn.Module):
    """musicnn's ``vgg`` with 128 filters: five blocks of 3x3 conv (ReLU), batch norm and max
    pooling, then a dense layer; 187-frame inputs only."""

    # (frequency, time) pool sizes and strides after each block; the first is 4 frames x 1 band.
    POOLS = (
        ((1, 4), (2, 2)),
        ((2, 2), (2, 2)),
        ((2, 2), (2, 2)),
        ((2, 2), (2, 2)),
        ((4, 4), (4, 4)),
    )

    def __init__(self, n_tags: int = 50, filters: int = 128):
        super().__init__()
        self.input_bn = _bn(nn.BatchNorm2d, 1)
        self.convs = nn.ModuleList(
            nn.Conv2d(1 if i == 0 else filters, filters, 3, padding=1) for i in range(5)
        )
        self.bns = nn.ModuleList(_bn(nn.BatchNorm2d, filters) for _ in range(5))
        self.pools = nn.ModuleList(nn.MaxPool2d(size, stride) for size, stride in self.POOLS)
        self.block_dropout = nn.Dropout(0.25)
        self.dropout = nn.Dropout(0.5)
        self.output = nn.Linear(2 * filters, n_tags)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        _check_mels(x)
        if x.shape[-1] != PATCH_FRAMES:
            first, last = (PATCH_FRAMES - 1) * HOP, PATCH_FRAMES * HOP - 1
            raise GenreError(
                f"The vgg models take exactly {PATCH_FRAMES} frames, got {x.shape[-1]}: use crops "
                f"of {first} to {last} samples at {SAMPLE_RATE} Hz (e.g. data.chunk_seconds=2.98),"
                " or arch=musicnn, which takes any length."
            )
        x = self.input_bn(x)
        for i, (conv, bn, pool) in enumerate(zip(self.convs, self.bns, self.pools, strict=True)):
            if i:
                x = self.block_dropout(x)
            x = bn(F.relu(conv(x)))
            if i == 4:
                max_pool, mean_pool = x.amax(dim=(2, 3)), x.mean(dim=(2, 3))
            x = pool(x)
        # TensorFlow flattens [time, frequency, filters]: the dense weights expect that order.
        penultimate = x.permute(0, 3, 2, 1).flatten(1)
        logits = self.output(self.dropout(penultimate))
        return _outputs(logits, penultimate, max_pool, mean_pool)
