"""CNNs over grey-scale spectrograms: input ``[batch, 1, freq, time]``, output logits. Plain
``nn.Module``s built from config with ``_target_``; ``n_classes`` is filled in from the data."""

from __future__ import annotations

from torch import nn


def conv_block(
    c_in: int, c_out: int, kernel_size: int, batch_norm: bool, pool: str = "max"
) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers += [nn.ReLU(inplace=True), nn.MaxPool2d(2) if pool == "max" else nn.AvgPool2d(2)]
    return nn.Sequential(*layers)


def head(channels: int, n_classes: int, dropout: float) -> nn.Sequential:
    """Global average pooling keeps the head independent of clip length and spectrogram size."""
    return nn.Sequential(
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels, n_classes)
    )


class CNN3(nn.Sequential):
    """The seed report's network: three conv + ReLU + 2x2 max-pool layers, flattened into a
    dense layer. The flattening keeps ``freq_bands`` frequency bands (time is averaged), so the
    dense layer knows *where* in the spectrum a pattern sits, which genre depends on, while the
    network still accepts any spectrogram size."""

    def __init__(
        self,
        n_classes: int,
        channels: tuple[int, int, int] = (16, 32, 64),
        kernel_size: int = 3,
        dropout: float = 0.3,
        freq_bands: int = 8,
    ):
        c1, c2, c3 = channels
        super().__init__(
            conv_block(1, c1, kernel_size, batch_norm=False),
            conv_block(c1, c2, kernel_size, batch_norm=False),
            conv_block(c2, c3, kernel_size, batch_norm=False),
            nn.AdaptiveAvgPool2d((freq_bands, 1)),
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(c3 * freq_bands, n_classes),
        )


class CNN(nn.Sequential):
    """A configurable plain CNN: ``depth`` conv blocks, channels doubling from ``width`` up to
    ``max_width``."""

    def __init__(
        self,
        n_classes: int,
        depth: int = 4,
        width: int = 32,
        max_width: int = 256,
        kernel_size: int = 3,
        dropout: float = 0.3,
        batch_norm: bool = True,
        pool: str = "max",
    ):
        widths = [min(width * 2**i, max_width) for i in range(depth)]
        blocks = [
            conv_block(c_in, c_out, kernel_size, batch_norm, pool)
            for c_in, c_out in zip([1, *widths[:-1]], widths, strict=True)
        ]
        super().__init__(*blocks, head(widths[-1], n_classes, dropout))


class ResidualBlock(nn.Module):
    """Two 3x3 convs with batch norm and a (projected) skip, halving frequency and time: by 2x2
    max pooling after the sum (``pool``), or, as in Won et al.'s code (``Res_2d``), by a stride
    of 2 in the first conv and in a 3x3 conv on the skip (``stride``)."""

    def __init__(self, c_in: int, c_out: int, downsample: str = "pool"):
        super().__init__()
        stride, skip_kernel = (2, 3) if downsample == "stride" else (1, 1)
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.skip = (
            nn.Identity()
            if c_in == c_out and stride == 1
            else nn.Sequential(
                nn.Conv2d(c_in, c_out, skip_kernel, stride, skip_kernel // 2, bias=False),
                nn.BatchNorm2d(c_out),
            )
        )
        pool = [nn.MaxPool2d(2, ceil_mode=True)] if downsample == "pool" else []
        self.out = nn.Sequential(nn.ReLU(inplace=True), *pool)

    def forward(self, x):
        return self.out(self.body(x) + self.skip(x))


class ShortChunkResNet(nn.Module):
    """Short-chunk ResNet after Won et al. (2020), the strongest CNN of their MagnaTagATune
    comparison: input batch norm, a stack of residual blocks each halving frequency and time,
    max over the remaining frequency and time, and a two-layer dense head. ``widths`` sets each
    block's channels (Won et al.: 128, 128, 256, 256, 256, 256, 512); by default ``n_blocks``
    blocks of ``channels``, the last one twice as wide."""

    def __init__(
        self,
        n_classes: int,
        n_blocks: int = 7,
        channels: int = 128,
        dropout: float = 0.5,
        widths: list[int] | None = None,
        downsample: str = "pool",
    ):
        super().__init__()
        widths = list(widths or [channels] * (n_blocks - 1) + [channels * 2])
        self.input_norm = nn.BatchNorm2d(1)
        self.blocks = nn.Sequential(
            *[
                ResidualBlock(c_in, c_out, downsample)
                for c_in, c_out in zip([1, *widths[:-1]], widths, strict=True)
            ]
        )
        self.head = nn.Sequential(
            nn.Linear(widths[-1], widths[-1]),
            nn.BatchNorm1d(widths[-1]),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(widths[-1], n_classes),
        )

    def forward(self, x):
        # amax rather than AdaptiveMaxPool2d, whose CUDA backward has no deterministic kernel.
        return self.head(self.blocks(self.input_norm(x)).amax(dim=(-2, -1)))
